"""
Tests for L{txzmq.service}: a factory and its connections in a Twisted
application, on real sockets.
"""

from __future__ import annotations

from typing import Any

import zmq
from twisted.application.service import IService, MultiService
from twisted.internet import reactor as globalReactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.trial import unittest
from zope.interface.verify import verifyObject

from txzmq import ZmqPullConnection, ZmqPushConnection, ZmqREPConnection
from txzmq.errors import ZmqConnectionClosedError, ZmqEndpointError
from txzmq.factory import ZmqFactory
from txzmq.service import ConnectionService, ZmqService
from txzmq.test._helpers import TIMEOUT, boundAddress, inprocAddress


class Echo(ZmqREPConnection):
    def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
        return [b"echo", *parts]


class ZmqServiceTests(unittest.TestCase):
    def setUp(self) -> None:
        self.reactor: Any = globalReactor

    def test_provides(self) -> None:
        service = ZmqService(reactor=self.reactor)
        self.addCleanup(service.factory.shutdown)
        self.assertTrue(verifyObject(IService, service))
        self.assertIs(service.factory.reactor, self.reactor)

    def test_factoryOrOptions(self) -> None:
        factory = ZmqFactory(self.reactor)
        self.addCleanup(factory.shutdown)
        self.assertIs(ZmqService(factory).factory, factory)
        self.assertRaises(TypeError, ZmqService, factory, reactor=self.reactor)

    async def test_lifecycle(self) -> None:
        """
        Children start with the service and bind/connect then; stopping
        it closes them and terminates the context, off the reactor thread.
        """
        top = MultiService()
        zmqService = ZmqService(reactor=self.reactor, lingerPeriod=0)
        zmqService.setServiceParent(top)
        factory = zmqService.factory
        address = inprocAddress()
        server = ConnectionService(factory, Echo, f"bind:{address}")
        server.setServiceParent(zmqService)
        self.assertIsNone(server.connection)
        top.startService()
        assert server.connection is not None
        self.assertFalse(server.connection.closed)
        client = ZmqRequestClient(factory, address)
        reply = await client.ask(b"hi")
        self.assertEqual(reply, [b"echo", b"hi"])
        connection = server.connection
        await top.stopService()
        self.assertTrue(connection.closed)
        self.assertIsNone(server.connection)
        self.assertTrue(factory.closed)
        self.assertTrue(factory.context.closed)

    async def test_stopWithUnsentMessages(self) -> None:
        """
        Messages that nobody reads and a linger period: stopping the
        service does not block the reactor while libzmq lingers (the
        context is terminated in a thread).
        """
        service = ZmqService(reactor=self.reactor, lingerPeriod=500)
        factory = service.factory
        sink = ZmqPullConnection(factory, "bind:tcp://127.0.0.1:*")
        address = boundAddress(sink)
        sink.pauseProducing()
        push = ConnectionService(factory, ZmqPushConnection, f"connect:{address}")
        push.setServiceParent(service)
        service.startService()
        assert push.connection is not None
        for n in range(2000):
            push.connection.pushDeferred(b"%d" % n).addErrback(lambda f: None)
        stopped = service.stopService()
        # Terminating in the reactor thread would have fired it by now.
        self.assertNoResult(stopped)
        await deferLater(self.reactor, 0.01, lambda: None)
        await stopped
        self.assertTrue(factory.context.closed)

    def test_badEndpoint(self) -> None:
        """Endpoints are checked when the service is made."""
        factory = ZmqFactory(self.reactor)
        self.addCleanup(factory.shutdown)
        self.assertRaises(
            ValueError, ConnectionService, factory, Echo, "tcp://127.0.0.1:1"
        )

    def test_startFailureLeavesNothing(self) -> None:
        """A connection that cannot bind is shut down again, not kept."""
        factory = ZmqFactory(self.reactor)
        self.addCleanup(factory.shutdown)
        taken = ZmqPullConnection(factory, "bind:tcp://127.0.0.1:*")
        service = ConnectionService(
            factory, ZmqPullConnection, f"bind:{boundAddress(taken)}"
        )
        self.assertRaises(ZmqEndpointError, service.startService)
        self.assertIsNone(service.connection)
        self.assertFalse(service.running)
        self.assertEqual(factory.connections, {taken})

    async def test_terminateTwice(self) -> None:
        factory = ZmqFactory(self.reactor)
        await factory.terminate()
        await factory.terminate()
        self.assertTrue(factory.closed)
        self.assertRaises(ZmqConnectionClosedError, ZmqPullConnection, factory)

    async def test_terminateSharedContext(self) -> None:
        """A context the factory does not own is left alone."""
        context: zmq.Context[Any] = zmq.Context()
        self.addCleanup(context.term)
        factory = ZmqFactory(self.reactor, context=context)
        await factory.terminate()
        self.assertFalse(context.closed)


class ZmqRequestClient:
    """A REQ connection for the tests, with a timeout."""

    def __init__(self, factory: ZmqFactory, address: str) -> None:
        from txzmq import ZmqREQConnection

        self.connection = ZmqREQConnection(factory, f"connect:{address}")

    def ask(self, *parts: bytes) -> Deferred[Any]:
        return self.connection.sendMsg(*parts, timeout=TIMEOUT)

"""
Unit tests for the reactor glue: L{txzmq.ZmqConnection}, L{txzmq.ZmqFactory}
and the pattern classes, driven by a L{MemoryReactorClock}.

The sockets are real pyzmq sockets over inproc, so delivery is
synchronous and deterministic; the reactor is fake, so no time passes
unless a test advances the clock.  A test plays the reactor itself: it
calls C{doRead()} when the descriptor would signal, and
C{reactor.advance(0)} to run the passes a connection scheduled.
"""

from __future__ import annotations

import itertools
from typing import Any

import zmq
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IFileDescriptor,
    ILoggingContext,
    IReactorFDSet,
    IReadDescriptor,
)
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial import unittest
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from txzmq import (
    ZmqConnection,
    ZmqConnectionClosedError,
    ZmqEndpoint,
    ZmqEndpointError,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
    ZmqSubConnection,
    ZmqUnknownRequestError,
    ZmqWouldBlockError,
    ZmqXPubConnection,
)
from txzmq.test._helpers import (
    RecordingDealer,
    RecordingPair,
    RecordingPull,
    RecordingREP,
    RecordingRouter,
    RecordingSub,
    RecordingXPub,
    RecordingXSub,
    bind,
    connect,
    inprocAddress,
)

# ---------------------------------------------------------------------------
# Test doubles and helpers


class FakeReactor(MemoryReactorClock):
    """
    A L{MemoryReactorClock} that also records every C{addReader} and
    C{removeReader} call and, like a real reactor, returns an id from
    C{addSystemEventTrigger} that C{removeSystemEventTrigger} accepts.
    (L{MemoryReactor} returns L{None} and cannot remove triggers.)
    """

    def __init__(self):
        super().__init__()
        self.addReaderCalls: list[Any] = []
        self.removeReaderCalls: list[Any] = []
        self.removedFilenos: list[int] = []
        self._triggerIds = itertools.count(1)
        self._triggersById: dict[Any, Any] = {}

    def addReader(self, reader):
        self.addReaderCalls.append(reader)
        super().addReader(reader)

    def removeReader(self, reader):
        self.removeReaderCalls.append(reader)
        self.removedFilenos.append(reader.fileno())
        super().removeReader(reader)

    def addSystemEventTrigger(self, phase, eventType, callable, *args, **kw):
        super().addSystemEventTrigger(phase, eventType, callable, *args, **kw)
        triggerId = (phase, eventType, next(self._triggerIds))
        self._triggersById[triggerId] = (callable, args, kw)
        return triggerId

    def removeSystemEventTrigger(self, triggerID):
        phase, eventType, _ = triggerID
        entry = self._triggersById.pop(triggerID)
        self.triggers[phase][eventType].remove(entry)

    def fireSystemEvent(self, eventType):
        """
        Run the "during" triggers of C{eventType} as a real reactor does:
        each is taken off the list before it runs, so removing it then
        raises L{ValueError}.
        """
        during = self.triggers.get("during", {}).get(eventType, [])
        while during:
            callable, args, kw = during.pop(0)
            callable(*args, **kw)

    def shutdownTriggers(self) -> list[Any]:
        return list(self.triggers.get("during", {}).get("shutdown", []))

    def runTurn(self) -> None:
        """
        Run the calls due now, but not the ones they schedule: one reactor
        iteration, as a real reactor's C{runUntilCurrent} does.
        (C{advance(0)} keeps going until no call is due.)
        """
        now = self.seconds()
        for call in [c for c in self.calls if c.getTime() <= now]:
            if call in self.calls:  # not cancelled by an earlier one
                self.calls.remove(call)
                call.called = 1
                call.func(*call.args, **call.kw)


def globalReactor() -> Any:
    """The reactor trial runs (imported late: trial installs it first)."""
    from twisted.internet import reactor

    return reactor


def recvNow(sock: zmq.Socket[Any]) -> list[bytes]:
    """
    Receive a message that must already be there (inproc delivery is
    synchronous); the poll only waits if the test is about to fail.
    """
    if not sock.poll(1000):
        raise AssertionError("no message to receive")
    return sock.recv_multipart(zmq.NOBLOCK)


def nothingToReceive(sock: zmq.Socket[Any]) -> bool:
    return not sock.poll(0)


def eventsFrom(events: Any, source: object, level: LogLevel | None = None) -> list[Any]:
    return [
        event
        for event in events
        if event.get("log_source") is source
        and (level is None or event.get("log_level") == level)
    ]


class ZmqTestReceiver(ZmqConnection):
    """A bare connection (PULL) recording every message."""

    socketType = zmq.PULL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.messages: list[list[bytes]] = []
        super().__init__(*args, **kwargs)

    def messageReceived(self, message: list[bytes]) -> None:
        self.messages.append(message)


class _Base(SynchronousTestCase):
    """
    A fake reactor and a factory using it, shut down after the test
    (after every raw socket the test opened: cleanups run last first).
    """

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.factory = ZmqFactory(reactor=self.reactor)
        self.addCleanup(self.factory.shutdown)
        self.recordSockets()

    def raw(
        self,
        kind: int,
        bindTo: str | None = None,
        connectTo: str | None = None,
    ) -> zmq.Socket[Any]:
        """A plain pyzmq socket in the factory's context."""
        sock: zmq.Socket[Any] = self.factory.context.socket(kind)
        sock.set(zmq.LINGER, 0)
        self.addCleanup(sock.close)
        if bindTo is not None:
            sock.bind(bindTo)
        if connectTo is not None:
            sock.connect(connectTo)
        return sock

    def pending(self) -> list[Any]:
        return list(self.reactor.getDelayedCalls())

    def recordSockets(self, factory: ZmqFactory | None = None) -> list[zmq.Socket[Any]]:
        """
        Record the sockets the factory's context creates from now on.  At
        cleanup (before the factory's shutdown), a socket that is neither
        closed nor a live connection's is an error: it is closed, so the
        factory's shutdown does not block forever on it.
        """
        factory = factory or self.factory
        context = factory.context
        made: list[zmq.Socket[Any]] = []
        original = context.socket

        def socket(*args: Any, **kwargs: Any) -> zmq.Socket[Any]:
            sock = original(*args, **kwargs)
            made.append(sock)
            return sock

        self.patch(context, "socket", socket)

        def closeLeaked() -> None:
            live = {id(connection.socket) for connection in factory.connections}
            leaked = [s for s in made if not s.closed and id(s) not in live]
            for sock in leaked:
                sock.close(linger=0)
            if leaked:
                raise AssertionError(f"sockets left open: {leaked!r}")

        self.addCleanup(closeLeaked)
        return made

    def pushTo(self, address: str, count: int) -> zmq.Socket[Any]:
        """A raw PUSH socket that sent C{count} messages to C{address}."""
        push = self.raw(zmq.PUSH, connectTo=address)
        for i in range(count):
            push.send(b"m%d" % (i,), zmq.NOBLOCK)
        return push


# ---------------------------------------------------------------------------
# Constructor, descriptor interfaces, repr


class ConstructorTests(_Base):
    def test_addsReader(self) -> None:
        conn = ZmqTestReceiver(self.factory, bind(inprocAddress()))
        self.assertIn(conn, self.reactor.getReaders())
        self.assertEqual(self.reactor.addReaderCalls, [conn])
        self.assertEqual(self.factory.connections, {conn})
        self.assertFalse(conn.closed)

    def test_schedulesExactlyOnePass(self) -> None:
        """
        The constructor (including its bind) schedules one pass on the next
        turn, and that pass, finding nothing, schedules nothing more.
        """
        conn = ZmqTestReceiver(self.factory, bind(inprocAddress()))
        calls = self.pending()
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0].getTime(), self.reactor.seconds())
        self.reactor.advance(0)
        self.assertEqual(self.pending(), [])
        self.assertEqual(conn.messages, [])

    def test_noEndpointStillOnePass(self) -> None:
        ZmqTestReceiver(self.factory)
        self.assertEqual(len(self.pending()), 1)

    def test_noCallbackInsideConstructor(self) -> None:
        """
        Messages already waiting when the socket binds are delivered on the
        reactor's next turn, after the subclass's C{__init__} finished.
        """

        class LateInit(ZmqTestReceiver):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.initialized = False
                self.calls: list[tuple[bool, list[bytes]]] = []
                super().__init__(*args, **kwargs)
                self.initialized = True

            def messageReceived(self, message: list[bytes]) -> None:
                self.calls.append((self.initialized, message))

        address = inprocAddress()
        self.pushTo(address, 3)  # connected before the bind: queued
        conn = LateInit(self.factory, bind(address))
        self.assertEqual(conn.calls, [])
        self.assertIn(conn, self.reactor.getReaders())
        self.assertEqual(len(self.pending()), 1)
        self.reactor.advance(0)
        self.assertEqual(
            conn.calls, [(True, [b"m0"]), (True, [b"m1"]), (True, [b"m2"])]
        )
        self.assertEqual(self.pending(), [])

    def test_fileno(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        fd = conn.fileno()
        self.assertIsInstance(fd, int)
        self.assertEqual(fd, conn.socket.get(zmq.FD))
        self.assertEqual(fd, conn.fd)
        self.assertNotEqual(fd, -1)

    def test_interfaces(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        self.assertTrue(verifyObject(IReadDescriptor, conn))
        self.assertTrue(verifyObject(IFileDescriptor, conn))
        self.assertTrue(verifyObject(ILoggingContext, conn))

    def test_logPrefix(self) -> None:
        self.assertEqual(ZmqTestReceiver(self.factory).logPrefix(), "ZMQ")

    def test_repr(self) -> None:
        """
        The repr is txZMQ 1.0's: class name, factory, endpoints.
        """
        conn = ZmqTestReceiver(
            self.factory, ZmqEndpoint(ZmqEndpointType.bind, "inproc://#1")
        )
        self.assertEqual(
            repr(conn),
            "ZmqTestReceiver(ZmqFactory(), [ZmqEndpoint(type='bind', address='inproc://#1')])",
        )

    def test_reprNoEndpoints(self) -> None:
        self.assertEqual(
            repr(ZmqTestReceiver(self.factory)), "ZmqTestReceiver(ZmqFactory(), [])"
        )

    def test_reprSeveralEndpoints(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        conn.addEndpoints(
            [
                ZmqEndpoint(ZmqEndpointType.bind, "inproc://a"),
                ZmqEndpoint(ZmqEndpointType.connect, "inproc://a"),
            ]
        )
        self.assertEqual(
            repr(conn),
            "ZmqTestReceiver(ZmqFactory(), [ZmqEndpoint(type='bind', address='inproc://a'), "
            "ZmqEndpoint(type='connect', address='inproc://a')])",
        )

    def test_plainTupleEndpoint(self) -> None:
        """
        A plain C{(type, address)} tuple is accepted and recorded as a
        L{ZmqEndpoint}.
        """
        address = inprocAddress()
        conn = ZmqTestReceiver(self.factory, ("bind", address))
        self.assertEqual(conn.endpoints, [ZmqEndpoint("bind", address)])
        self.assertIsInstance(conn.endpoints[0], ZmqEndpoint)

    def test_noSocketType(self) -> None:
        made = self.recordSockets()
        e = self.assertRaises(TypeError, ZmqConnection, self.factory)
        self.assertIn("ZmqConnection has no socketType", str(e))

        class NoType(ZmqConnection):
            pass

        e = self.assertRaises(TypeError, NoType, self.factory, bind(inprocAddress()))
        self.assertIn("NoType has no socketType", str(e))
        self.assertEqual(made, [])
        self.assertEqual(self.factory.connections, set())
        self.assertEqual(self.reactor.addReaderCalls, [])

    def test_identity(self) -> None:
        conn = ZmqTestReceiver(self.factory, identity=b"me")
        self.assertEqual(conn.identity, b"me")
        self.assertEqual(conn.socket.get(zmq.IDENTITY), b"me")

    def test_noIdentity(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        self.assertIsNone(conn.identity)
        self.assertEqual(conn.socket.get(zmq.IDENTITY), b"")

    def test_identityMustBeBytes(self) -> None:
        made = self.recordSockets()
        e = self.assertRaises(TypeError, ZmqTestReceiver, self.factory, identity="me")
        self.assertEqual(str(e), "identity must be bytes, not str")
        self.assertRaises(
            TypeError, ZmqTestReceiver, self.factory, identity=bytearray(b"me")
        )
        self.assertEqual(made, [])
        self.assertEqual(self.factory.connections, set())

    def test_identityLength(self) -> None:
        """
        libzmq takes identities of 1 to 255 bytes: others are refused with
        a ValueError before any socket is made.
        """
        made = self.recordSockets()
        for identity in (b"", b"x" * 256):
            e = self.assertRaises(
                ValueError, ZmqTestReceiver, self.factory, identity=identity
            )
            self.assertIn("1 to 255 bytes", str(e))
        self.assertEqual(made, [])
        self.assertEqual(self.factory.connections, set())
        self.assertEqual(self.reactor.getReaders(), [])
        conn = ZmqTestReceiver(self.factory, identity=b"x" * 255)
        self.assertEqual(conn.socket.get(zmq.IDENTITY), b"x" * 255)

    def test_reactorWithoutFDSet(self) -> None:
        clock = Clock()
        self.assertFalse(IReactorFDSet.providedBy(clock))
        factory = ZmqFactory(reactor=clock)
        made = self.recordSockets(factory)
        e = self.assertRaises(
            TypeError, ZmqTestReceiver, factory, bind(inprocAddress())
        )
        self.assertIn("IReactorFDSet", str(e))
        self.assertIn("Clock", str(e))
        self.assertEqual(made, [])
        self.assertEqual(factory.connections, set())
        self.assertEqual(clock.getDelayedCalls(), [])
        factory.shutdown()
        self.assertTrue(factory.context.closed)

    def test_factoryShutDown(self) -> None:
        self.factory.shutdown()
        e = self.assertRaises(ZmqConnectionClosedError, ZmqTestReceiver, self.factory)
        self.assertIsInstance(e, RuntimeError)
        self.assertIn("ZmqFactory has been shut down", str(e))


# ---------------------------------------------------------------------------
# Read passes


class ReadPassTests(_Base):
    def receiver(self, **kwargs: Any) -> tuple[ZmqTestReceiver, str]:
        address = inprocAddress()
        conn = ZmqTestReceiver(self.factory, bind(address), **kwargs)
        self.reactor.advance(0)
        self.assertEqual(self.pending(), [])
        return conn, address

    def test_doReadDelivers(self) -> None:
        conn, address = self.receiver()
        push = self.raw(zmq.PUSH, connectTo=address)
        push.send_multipart([b"a", b"b"])
        push.send(b"c")
        conn.doRead()
        self.assertEqual(conn.messages, [[b"a", b"b"], [b"c"]])
        self.assertEqual(self.pending(), [])

    def test_readBatchSize(self) -> None:
        """
        At most C{readBatchSize} messages are delivered per pass; the rest
        waits for a pass scheduled on the next turn.
        """
        conn, address = self.receiver(readBatchSize=3)
        self.pushTo(address, 10)
        conn.doRead()
        self.assertEqual(len(conn.messages), 3)
        self.assertEqual(len(self.pending()), 1)
        self.reactor.runTurn()
        self.assertEqual(len(conn.messages), 6)
        self.assertEqual(len(self.pending()), 1)
        self.reactor.runTurn()
        self.assertEqual(len(conn.messages), 9)
        self.assertEqual(len(self.pending()), 1)
        self.reactor.runTurn()
        self.assertEqual(conn.messages, [[b"m%d" % (i,)] for i in range(10)])
        self.assertEqual(self.pending(), [])

    def test_readBatchSizeAdvance(self) -> None:
        """
        Advancing the clock runs the follow-up passes until all is read.
        """
        conn, address = self.receiver(readBatchSize=3)
        self.pushTo(address, 10)
        conn.doRead()
        self.reactor.advance(0)
        self.assertEqual(len(conn.messages), 10)
        self.assertEqual(self.pending(), [])

    def test_readBatchSizeYieldsToOtherCalls(self) -> None:
        """
        Between two batches, other calls due on the same turn run: a flood
        on one socket does not starve the reactor's timers.
        """
        order: list[str] = []

        class Recording(ZmqTestReceiver):
            def messageReceived(self, message: list[bytes]) -> None:
                order.append("message")

        address = inprocAddress()
        conn = Recording(self.factory, bind(address), readBatchSize=2)
        self.reactor.advance(0)
        self.pushTo(address, 4)
        self.reactor.callLater(0, order.append, "timer")
        conn.doRead()
        self.reactor.advance(0)
        self.assertEqual(order, ["message", "message", "timer", "message", "message"])

    def test_readBatchSizeExactMultiple(self) -> None:
        conn, address = self.receiver(readBatchSize=3)
        self.pushTo(address, 6)
        conn.doRead()
        self.reactor.runTurn()
        self.assertEqual(len(conn.messages), 6)
        # The budget ran out: one more pass looks, finds nothing, stops.
        self.assertEqual(len(self.pending()), 1)
        self.reactor.runTurn()
        self.assertEqual(len(conn.messages), 6)
        self.assertEqual(self.pending(), [])

    def test_readBatchSizeClassAttribute(self) -> None:
        class Small(ZmqTestReceiver):
            readBatchSize = 2

        address = inprocAddress()
        conn = Small(self.factory, bind(address))
        self.reactor.advance(0)
        self.pushTo(address, 5)
        conn.doRead()
        self.assertEqual(len(conn.messages), 2)

    def test_doReadCancelsScheduledPass(self) -> None:
        """
        A C{doRead} while a pass is scheduled does the pass now; the
        scheduled one is cancelled rather than run twice.
        """
        address = inprocAddress()
        conn = ZmqTestReceiver(self.factory, bind(address))
        self.assertEqual(len(self.pending()), 1)
        self.pushTo(address, 2)
        conn.doRead()
        self.assertEqual(len(conn.messages), 2)
        self.assertEqual(self.pending(), [])

    def test_emptyPassSchedulesNothing(self) -> None:
        conn, _ = self.receiver()
        conn.doRead()
        self.assertEqual(conn.messages, [])
        self.assertEqual(self.pending(), [])

    def test_sendSchedulesPass(self) -> None:
        """
        A send may consume the edge announcing incoming messages, so after
        a send a connection that receives reads C{EVENTS} and schedules a
        pass when a message waits; with nothing to read it schedules
        nothing (the C{EVENTS} read re-armed the descriptor).
        """
        address = inprocAddress()
        router = self.raw(zmq.ROUTER, bindTo=address)
        dealer = RecordingDealer(self.factory, connect(address))
        self.reactor.advance(0)
        self.assertEqual(self.pending(), [])
        dealer.sendMsg(b"x")
        self.assertEqual(self.pending(), [])
        peer, body = recvNow(router)
        router.send_multipart([peer, b"back"])
        dealer.sendMsg(b"y")
        self.assertEqual(len(self.pending()), 1)
        # Several sends in one turn schedule one pass.
        dealer.sendMsg(b"z")
        self.assertEqual(len(self.pending()), 1)
        self.reactor.advance(0)
        self.assertEqual(dealer.received, [(b"back",)])
        self.assertEqual(self.pending(), [])

    def test_sendOnSendOnlySchedulesNothing(self) -> None:
        address = inprocAddress()
        pull = self.raw(zmq.PULL, bindTo=address)
        push = ZmqPushConnection(self.factory, connect(address))
        self.reactor.advance(0)
        push.push(b"x")
        self.assertEqual(self.pending(), [])
        self.assertEqual(recvNow(pull), [b"x"])

    def test_sendOnlyDoRead(self) -> None:
        """
        A send-only socket's pass only reads C{EVENTS}: it never tries to
        receive (which would fail and shut it down).
        """
        push = ZmqPushConnection(self.factory, bind(inprocAddress()))
        with capturedLogs() as events:
            push.doRead()
            self.reactor.advance(0)
        self.assertFalse(push.closed)
        self.assertEqual(eventsFrom(events, push), [])
        self.assertEqual(self.pending(), [])

    def test_exceptionInCallbackLogged(self) -> None:
        """
        An exception raised by C{messageReceived} is logged, and the next
        messages are still delivered.
        """

        class Failing(ZmqTestReceiver):
            def messageReceived(self, message: list[bytes]) -> None:
                if message == [b"m0"]:
                    raise ZeroDivisionError("boom")
                super().messageReceived(message)

        address = inprocAddress()
        conn = Failing(self.factory, bind(address))
        self.reactor.advance(0)
        self.pushTo(address, 3)
        with capturedLogs() as events:
            conn.doRead()
        self.assertEqual(conn.messages, [[b"m1"], [b"m2"]])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        failures = [e for e in eventsFrom(events, conn) if "log_failure" in e]
        self.assertEqual(len(failures), 1)
        self.assertIsInstance(failures[0]["log_failure"].value, ZeroDivisionError)
        self.assertIn("Unhandled error delivering a message", formatEvent(failures[0]))
        self.assertFalse(conn.closed)

    def test_messageReceivedNotOverridden(self) -> None:
        class Bare(ZmqConnection):
            socketType = zmq.PULL

        address = inprocAddress()
        conn = Bare(self.factory, bind(address))
        self.pushTo(address, 2)
        conn.doRead()
        self.assertEqual(self.successResultOf(conn.receive()), [b"m0"])
        self.assertEqual(self.successResultOf(conn.receive()), [b"m1"])
        self.assertFalse(conn.closed)

    def test_shutdownInCallback(self) -> None:
        class StopAfterTwo(ZmqTestReceiver):
            def messageReceived(self, message: list[bytes]) -> None:
                super().messageReceived(message)
                if len(self.messages) == 2:
                    self.shutdown()

        address = inprocAddress()
        conn = StopAfterTwo(self.factory, bind(address))
        self.pushTo(address, 5)
        with capturedLogs() as events:
            conn.doRead()
        self.assertEqual(conn.messages, [[b"m0"], [b"m1"]])
        # It stopped, rather than failing to receive on the closed socket.
        self.assertEqual(eventsFrom(events, conn), [])
        self.assertTrue(conn.closed)
        self.assertEqual(self.pending(), [])
        conn.doRead()
        self.assertEqual(len(conn.messages), 2)

    def test_shutdownInCallbackOfScheduledPass(self) -> None:
        class StopAtOnce(ZmqTestReceiver):
            def messageReceived(self, message: list[bytes]) -> None:
                super().messageReceived(message)
                self.shutdown()

        address = inprocAddress()
        self.pushTo(address, 3)
        conn = StopAtOnce(self.factory, bind(address), readBatchSize=1)
        self.reactor.advance(0)
        self.assertEqual(conn.messages, [[b"m0"]])
        self.assertEqual(self.pending(), [])
        self.assertNotIn(conn, self.reactor.getReaders())

    def test_eventsCheckedAfterEAGAIN(self) -> None:
        """
        When a receive finds nothing but C{EVENTS} then shows a message
        (libzmq processed commands in between), the pass goes on reading:
        it must not return while a message waits, since the edge that
        announced it is gone.
        """
        conn, address = self.receiver()
        self.pushTo(address, 2)
        original = conn.socket.recv_multipart
        calls: list[int] = []

        def recvOnceEmpty(*args: Any) -> list[bytes]:
            calls.append(1)
            if len(calls) == 1:
                raise zmq.Again()
            return original(*args)

        self.patch(conn.socket, "recv_multipart", recvOnceEmpty)
        conn.doRead()
        self.assertEqual(conn.messages, [[b"m0"], [b"m1"]])
        self.assertEqual(self.pending(), [])

    def test_receiveErrorShutsDown(self) -> None:
        """
        An error from libzmq other than EAGAIN while receiving is logged and
        shuts the connection down.
        """
        conn, _ = self.receiver()

        def broken(*args: Any, **kwargs: Any) -> zmq.Frame:
            raise zmq.ZMQError(zmq.ETERM)

        self.patch(conn, "_recv", broken)
        with capturedLogs() as events:
            conn.doRead()
        self.assertTrue(conn.closed)
        self.assertNotIn(conn, self.reactor.getReaders())
        errors = eventsFrom(events, conn, LogLevel.error)
        self.assertEqual(len(errors), 1)
        self.assertIn("shutting it down", formatEvent(errors[0]))


# ---------------------------------------------------------------------------
# Shutdown


class ShutdownTests(_Base):
    def test_shutdown(self) -> None:
        conn = ZmqTestReceiver(self.factory, bind(inprocAddress()))
        self.assertEqual(len(self.pending()), 1)
        conn.shutdown()
        self.assertTrue(conn.closed)
        self.assertTrue(conn.socket.closed)
        self.assertNotIn(conn, self.reactor.getReaders())
        self.assertEqual(self.reactor.removeReaderCalls, [conn])
        self.assertNotIn(conn, self.factory.connections)
        self.assertEqual(self.pending(), [])

    def test_removeReaderWithRealDescriptor(self) -> None:
        """
        The reader is removed while C{fileno()} still names the descriptor,
        for reactors that look readers up by descriptor.
        """
        conn = ZmqTestReceiver(self.factory)
        fd = conn.fileno()
        conn.shutdown()
        self.assertEqual(self.reactor.removedFilenos, [fd])

    def test_idempotent(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        conn.shutdown()
        conn.shutdown()
        self.assertEqual(self.reactor.removeReaderCalls, [conn])
        self.assertTrue(conn.closed)

    def test_filenoAfterShutdown(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        conn.shutdown()
        self.assertEqual(conn.fileno(), -1)

    def test_sendAfterShutdown(self) -> None:
        address = inprocAddress()
        self.raw(zmq.PULL, bindTo=address)
        push = ZmqPushConnection(self.factory, connect(address))
        push.shutdown()
        e = self.assertRaises(ZmqConnectionClosedError, push.push, b"x")
        self.assertIn("ZmqPushConnection has been shut down", str(e))
        self.assertRaises(ZmqConnectionClosedError, push.send, [b"x"])

    def test_otherMethodsAfterShutdown(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        conn.shutdown()
        self.assertRaises(
            ZmqConnectionClosedError, conn.setSocketOptions, highWaterMark=1
        )
        self.assertRaises(
            ZmqConnectionClosedError, conn.addEndpoints, [bind(inprocAddress())]
        )

    def test_doReadAfterShutdown(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        conn.shutdown()
        conn.doRead()
        self.assertEqual(conn.messages, [])
        self.assertEqual(self.pending(), [])

    def test_connectionLost(self) -> None:
        """
        The reactor dropping the descriptor shuts the connection down.
        """
        conn = ZmqTestReceiver(self.factory)
        conn.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(conn.closed)
        self.assertTrue(conn.socket.closed)
        self.assertNotIn(conn, self.factory.connections)
        self.assertEqual(self.pending(), [])

    def test_lingerOnClose(self) -> None:
        """
        The socket keeps the factory's (finite) linger period, so closing it
        cannot block the context's termination forever.
        """
        conn = ZmqTestReceiver(self.factory)
        self.assertEqual(conn.socket.get(zmq.LINGER), self.factory.lingerPeriod)


# ---------------------------------------------------------------------------
# The factory


class FactoryTests(_Base):
    def test_repr(self) -> None:
        self.assertEqual(repr(self.factory), "ZmqFactory()")

    def test_shutdownClosesAll(self) -> None:
        address = inprocAddress()
        pull = ZmqTestReceiver(self.factory, bind(address))
        push = ZmqPushConnection(self.factory, connect(address))
        self.assertEqual(self.factory.connections, {pull, push})
        self.factory.shutdown()
        self.assertTrue(self.factory.closed)
        self.assertTrue(pull.closed)
        self.assertTrue(push.closed)
        self.assertEqual(self.factory.connections, set())
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertEqual(self.pending(), [])
        self.assertTrue(self.factory.context.closed)

    def test_shutdownIdempotent(self) -> None:
        ZmqTestReceiver(self.factory)
        self.factory.shutdown()
        self.factory.shutdown()
        self.assertTrue(self.factory.closed)
        self.assertEqual(len(self.reactor.removeReaderCalls), 1)

    def test_connectionAfterShutdown(self) -> None:
        self.factory.shutdown()
        self.assertRaises(ZmqConnectionClosedError, ZmqPushConnection, self.factory)
        self.assertRaises(
            ZmqConnectionClosedError,
            ZmqREQConnection,
            self.factory,
            connect(inprocAddress()),
        )
        self.assertEqual(self.reactor.getReaders(), [])

    def test_sharedContext(self) -> None:
        """
        A context given to the factory is not the factory's to terminate.
        """
        context = zmq.Context()
        self.addCleanup(context.term)
        factory = ZmqFactory(reactor=self.reactor, context=context)
        self.assertIs(factory.context, context)
        conn = ZmqTestReceiver(factory)
        factory.shutdown()
        self.assertTrue(conn.closed)
        self.assertFalse(context.closed)

    def test_contextType(self) -> None:
        self.assertRaises(TypeError, ZmqFactory, reactor=self.reactor, context="ctx")

    def test_lingerPeriod(self) -> None:
        factory = ZmqFactory(reactor=self.reactor, lingerPeriod=42)
        self.addCleanup(factory.shutdown)
        self.assertEqual(factory.lingerPeriod, 42)
        self.assertEqual(ZmqTestReceiver(factory).socket.get(zmq.LINGER), 42)
        self.assertEqual(ZmqFactory.lingerPeriod, 100)

    def test_badLingerPeriod(self) -> None:
        self.assertRaises(ValueError, ZmqFactory, reactor=self.reactor, lingerPeriod=-1)
        self.assertRaises(TypeError, ZmqFactory, reactor=self.reactor, lingerPeriod="1")
        self.assertRaises(
            TypeError, ZmqFactory, reactor=self.reactor, lingerPeriod=True
        )

    def test_ioThreads(self) -> None:
        factory = ZmqFactory(reactor=self.reactor, ioThreads=2)
        self.addCleanup(factory.shutdown)
        self.assertEqual(factory.context.get(zmq.IO_THREADS), 2)
        self.assertRaises(ValueError, ZmqFactory, reactor=self.reactor, ioThreads=-1)
        self.assertRaises(TypeError, ZmqFactory, reactor=self.reactor, ioThreads=1.5)
        self.assertRaises(TypeError, ZmqFactory, reactor=self.reactor, ioThreads=True)

    def test_registerForShutdown(self) -> None:
        self.factory.registerForShutdown()
        self.factory.registerForShutdown()
        self.assertEqual(len(self.reactor.shutdownTriggers()), 1)
        self.assertIsNotNone(self.factory.trigger)

    def test_triggerShutsDown(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        self.factory.registerForShutdown()
        self.reactor.fireSystemEvent("shutdown")
        self.assertTrue(self.factory.closed)
        self.assertTrue(conn.closed)
        self.assertTrue(self.factory.context.closed)
        self.assertIsNone(self.factory.trigger)
        # The trigger that fired is not removed again (removing it here
        # would raise KeyError in the fake).
        self.factory.shutdown()

    def test_shutdownRemovesTrigger(self) -> None:
        self.factory.registerForShutdown()
        self.factory.shutdown()
        self.assertEqual(self.reactor.shutdownTriggers(), [])
        self.assertIsNone(self.factory.trigger)

    def test_registerAfterShutdown(self) -> None:
        self.factory.shutdown()
        self.factory.registerForShutdown()
        self.assertEqual(self.reactor.shutdownTriggers(), [])

    def test_defaultReactor(self) -> None:
        factory = ZmqFactory()
        self.addCleanup(factory.shutdown)
        self.assertIs(factory.reactor, globalReactor())

    def test_reactorAssignable(self) -> None:
        """
        txZMQ 1.0 code sets C{factory.reactor}; the connections made
        afterwards use that reactor (the global one is never consulted).
        """
        factory = ZmqFactory()
        self.addCleanup(factory.shutdown)
        other = FakeReactor()
        factory.reactor = other
        self.assertIs(factory.reactor, other)
        conn = ZmqTestReceiver(factory, bind(inprocAddress()))
        self.assertEqual(other.getReaders(), [conn])
        self.assertEqual(len(other.getDelayedCalls()), 1)
        self.assertNotIn(conn, globalReactor().getReaders())

    def test_shutdownErrbacksRequests(self) -> None:
        address = inprocAddress()
        rep = RecordingREP(self.factory, bind(address))
        req = ZmqREQConnection(self.factory, connect(address))
        d = req.sendMsg(b"q", timeout=10)
        rep.doRead()
        self.assertEqual(len(rep.requests), 1)
        self.factory.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertEqual(self.pending(), [])


# ---------------------------------------------------------------------------
# Settings


class SettingsTests(_Base):
    def test_defaultHighWaterMark(self) -> None:
        """
        The default high-water mark is finite (1000 messages each way).
        """
        conn = ZmqTestReceiver(self.factory)
        self.assertEqual(conn.highWaterMark, 1000)
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 1000)
        self.assertEqual(conn.socket.get(zmq.RCVHWM), 1000)

    def test_highWaterMarkKeyword(self) -> None:
        conn = ZmqTestReceiver(self.factory, highWaterMark=5)
        self.assertEqual(conn.highWaterMark, 5)
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 5)
        self.assertEqual(conn.socket.get(zmq.RCVHWM), 5)
        # Per connection: the class and other connections are unchanged.
        self.assertEqual(ZmqTestReceiver.highWaterMark, 1000)
        self.assertEqual(ZmqTestReceiver(self.factory).socket.get(zmq.SNDHWM), 1000)

    def test_unlimitedHighWaterMark(self) -> None:
        conn = ZmqTestReceiver(self.factory, highWaterMark=0)
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 0)
        self.assertEqual(conn.socket.get(zmq.RCVHWM), 0)

    def test_classAttributeOverride(self) -> None:
        class Custom(ZmqTestReceiver):
            highWaterMark = 7
            lingerPeriod = 9
            reconnectInterval = 250

        conn = Custom(self.factory)
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 7)
        self.assertEqual(conn.socket.get(zmq.RCVHWM), 7)
        self.assertEqual(conn.socket.get(zmq.LINGER), 9)
        self.assertEqual(conn.socket.get(zmq.RECONNECT_IVL), 250)

    def test_keywordBeatsClassAttribute(self) -> None:
        class Custom(ZmqTestReceiver):
            highWaterMark = 7

        conn = Custom(self.factory, highWaterMark=3)
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 3)

    def test_specificHighWaterMarks(self) -> None:
        conn = ZmqTestReceiver(self.factory, highWaterMark=5, sendHighWaterMark=3)
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 3)
        self.assertEqual(conn.socket.get(zmq.RCVHWM), 5)
        conn2 = ZmqTestReceiver(self.factory, receiveHighWaterMark=4)
        self.assertEqual(conn2.socket.get(zmq.SNDHWM), 1000)
        self.assertEqual(conn2.socket.get(zmq.RCVHWM), 4)

    def test_lingerFromFactory(self) -> None:
        self.assertEqual(ZmqTestReceiver(self.factory).socket.get(zmq.LINGER), 100)
        factory = ZmqFactory(reactor=self.reactor, lingerPeriod=42)
        self.addCleanup(factory.shutdown)
        self.assertEqual(ZmqTestReceiver(factory).socket.get(zmq.LINGER), 42)
        self.assertEqual(
            ZmqTestReceiver(factory, lingerPeriod=7).socket.get(zmq.LINGER), 7
        )
        self.assertEqual(
            ZmqTestReceiver(factory, lingerPeriod=0).socket.get(zmq.LINGER), 0
        )

    def test_otherOptions(self) -> None:
        conn = ZmqTestReceiver(
            self.factory,
            tcpKeepalive=1,
            tcpKeepaliveCount=3,
            tcpKeepaliveIdle=60,
            tcpKeepaliveInterval=5,
            reconnectInterval=250,
            reconnectIntervalMax=1000,
        )
        socket = conn.socket
        self.assertEqual(socket.get(zmq.TCP_KEEPALIVE), 1)
        self.assertEqual(socket.get(zmq.TCP_KEEPALIVE_CNT), 3)
        self.assertEqual(socket.get(zmq.TCP_KEEPALIVE_IDLE), 60)
        self.assertEqual(socket.get(zmq.TCP_KEEPALIVE_INTVL), 5)
        self.assertEqual(socket.get(zmq.RECONNECT_IVL), 250)
        self.assertEqual(socket.get(zmq.RECONNECT_IVL_MAX), 1000)

    def test_unsetOptionsLeftAlone(self) -> None:
        """
        Options left at "unset" keep libzmq's defaults.
        """
        socket = ZmqTestReceiver(self.factory).socket
        self.assertEqual(socket.get(zmq.TCP_KEEPALIVE), -1)
        self.assertEqual(socket.get(zmq.TCP_KEEPALIVE_IDLE), -1)
        self.assertEqual(socket.get(zmq.RECONNECT_IVL_MAX), 0)

    def test_unknownKeyword(self) -> None:
        made = self.recordSockets()
        e = self.assertRaises(TypeError, ZmqTestReceiver, self.factory, hwm=5)
        self.assertIn("unknown setting(s) hwm", str(e))
        self.assertIn("highWaterMark", str(e))
        self.assertIn("readBatchSize", str(e))
        self.assertEqual(made, [])
        self.assertEqual(self.factory.connections, set())

    def test_patternSpecificKeywords(self) -> None:
        """
        C{topicSep} is a setting of pub/sub connections only.
        """
        self.assertRaises(TypeError, ZmqTestReceiver, self.factory, topicSep=b"|")
        self.assertEqual(RecordingSub(self.factory, topicSep=b"|").topicSep, b"|")
        self.assertRaises(ValueError, RecordingSub, self.factory, topicSep=b"")
        self.assertRaises(TypeError, ZmqPubConnection, self.factory, topicSep="|")

    def test_badValues(self) -> None:
        made = self.recordSockets()
        self.assertRaises(TypeError, ZmqTestReceiver, self.factory, highWaterMark="5")
        self.assertRaises(TypeError, ZmqTestReceiver, self.factory, highWaterMark=True)
        self.assertRaises(ValueError, ZmqTestReceiver, self.factory, highWaterMark=-1)
        self.assertRaises(ValueError, ZmqTestReceiver, self.factory, lingerPeriod=-1)
        self.assertRaises(ValueError, ZmqTestReceiver, self.factory, readBatchSize=0)
        self.assertRaises(TypeError, ZmqTestReceiver, self.factory, readBatchSize=2.0)
        self.assertEqual(made, [])
        self.assertEqual(self.factory.connections, set())

    def test_setSocketOptions(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        conn.setSocketOptions(highWaterMark=9, lingerPeriod=3)
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 9)
        self.assertEqual(conn.socket.get(zmq.RCVHWM), 9)
        self.assertEqual(conn.socket.get(zmq.LINGER), 3)
        self.assertEqual(conn.highWaterMark, 9)
        self.assertEqual(conn.lingerPeriod, 3)

    def test_setSocketOptionsChecksFirst(self) -> None:
        """
        Nothing is applied when any setting is bad.
        """
        conn = ZmqTestReceiver(self.factory)
        e = self.assertRaises(
            TypeError, conn.setSocketOptions, highWaterMark=3, bogus=1
        )
        self.assertIn("bogus", str(e))
        self.assertRaises(
            ValueError, conn.setSocketOptions, highWaterMark=3, lingerPeriod=-1
        )
        self.assertEqual(conn.socket.get(zmq.SNDHWM), 1000)
        self.assertEqual(conn.highWaterMark, 1000)

    def test_setReadBatchSize(self) -> None:
        address = inprocAddress()
        conn = ZmqTestReceiver(self.factory, bind(address))
        conn.setSocketOptions(readBatchSize=2)
        self.assertEqual(conn.readBatchSize, 2)
        self.pushTo(address, 5)
        conn.doRead()
        self.assertEqual(len(conn.messages), 2)


class SettingsRevertTests(_Base):
    """
    Setting an option back to its "unset" value with C{setSocketOptions}.
    """

    def test_tcpKeepaliveBackToDefault(self) -> None:
        """
        C{tcpKeepalive=0} means "leave the system default": going back to it
        restores libzmq's default (-1), as for a connection made with it.
        """
        conn = ZmqTestReceiver(self.factory, tcpKeepalive=1)
        conn.setSocketOptions(tcpKeepalive=0)
        self.assertEqual(conn.tcpKeepalive, 0)
        self.assertEqual(
            conn.socket.get(zmq.TCP_KEEPALIVE),
            ZmqTestReceiver(self.factory).socket.get(zmq.TCP_KEEPALIVE),
        )

    def test_verboseSubscriptionsOff(self) -> None:
        """
        After C{setSocketOptions(verboseSubscriptions=False)}, an XPUB
        passes on only the first subscription to a tag again.
        """
        address = inprocAddress()
        xpub = RecordingXPub(self.factory, bind(address), verboseSubscriptions=True)
        xpub.setSocketOptions(verboseSubscriptions=False)
        for _ in range(2):
            sub = self.raw(zmq.SUB, connectTo=address)
            sub.subscribe(b"t")
        xpub.doRead()
        self.assertEqual(xpub.subscriptions, [(b"t", True)])


# ---------------------------------------------------------------------------
# Endpoints


class EndpointTests(_Base):
    def test_unknownType(self) -> None:
        made = self.recordSockets()
        e = self.assertRaises(
            ValueError,
            ZmqTestReceiver,
            self.factory,
            ZmqEndpoint("listen", inprocAddress()),
        )
        self.assertIn("unknown endpoint type 'listen'", str(e))
        self.assertEqual(len(made), 1)
        self.assertTrue(made[0].closed)
        self.assertEqual(self.factory.connections, set())
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertEqual(self.pending(), [])
        # Would block forever on a socket left open.
        self.factory.shutdown()
        self.assertTrue(self.factory.context.closed)

    def test_invalidAddress(self) -> None:
        made = self.recordSockets()
        e = self.assertRaises(
            ZmqEndpointError, ZmqTestReceiver, self.factory, bind("bogus://nowhere")
        )
        self.assertIsInstance(e, zmq.ZMQError)
        self.assertIsInstance(e, ValueError)
        self.assertEqual(e.errno, zmq.EPROTONOSUPPORT)
        self.assertIn("cannot bind to 'bogus://nowhere'", str(e))
        self.assertTrue(made[0].closed)
        self.assertEqual(self.factory.connections, set())
        self.factory.shutdown()
        self.assertTrue(self.factory.context.closed)

    def test_invalidConnectAddress(self) -> None:
        e = self.assertRaises(
            ZmqEndpointError, ZmqTestReceiver, self.factory, connect("tcp://no port")
        )
        self.assertIn("cannot connect to", str(e))

    def test_addressInUse(self) -> None:
        address = inprocAddress()
        ZmqTestReceiver(self.factory, bind(address))
        e = self.assertRaises(
            ZmqEndpointError, ZmqTestReceiver, self.factory, bind(address)
        )
        self.assertEqual(e.errno, zmq.EADDRINUSE)
        self.assertIn(address, str(e))
        self.assertEqual(len(self.factory.connections), 1)

    def test_addEndpointsKeepsEarlierOnFailure(self) -> None:
        first = inprocAddress()
        conn = ZmqTestReceiver(self.factory)
        self.assertRaises(
            ZmqEndpointError,
            conn.addEndpoints,
            [bind(first), bind("bogus://x"), bind(inprocAddress())],
        )
        self.assertEqual(conn.endpoints, [bind(first)])
        self.assertFalse(conn.closed)
        # The first endpoint is really bound.
        self.pushTo(first, 1)
        conn.doRead()
        self.assertEqual(conn.messages, [[b"m0"]])

    def test_addEndpointsChecksAllFirst(self) -> None:
        """
        An endpoint of an unknown type is found before any is used.
        """
        first = inprocAddress()
        conn = ZmqTestReceiver(self.factory)
        self.assertRaises(
            ValueError,
            conn.addEndpoints,
            [bind(first), ZmqEndpoint("listen", inprocAddress())],
        )
        self.assertEqual(conn.endpoints, [])
        # Nothing was bound to the first address.
        other = ZmqTestReceiver(self.factory, bind(first))
        self.assertEqual(other.endpoints, [bind(first)])

    def test_addEndpointsSingleEndpoint(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        e = self.assertRaises(TypeError, conn.addEndpoints, bind(inprocAddress()))
        self.assertIn("list of endpoints", str(e))
        self.assertEqual(conn.endpoints, [])

    def test_addEndpointStrings(self) -> None:
        """
        The string form of endpoints is accepted wherever endpoints are.
        """
        address = inprocAddress()
        conn = ZmqTestReceiver(self.factory, f"bind:{address}")
        other = ZmqTestReceiver(self.factory)
        other.addEndpoints([f"connect:{address}"])
        self.assertEqual(conn.endpoints, [bind(address)])
        self.assertEqual(other.endpoints, [connect(address)])

    def test_addEndpointsNotEndpoints(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        e = self.assertRaises(ValueError, conn.addEndpoints, ["inproc://x"])
        self.assertIn("'bind:inproc://x'", str(e))
        self.assertRaises(TypeError, conn.addEndpoints, [5])
        self.assertRaises(TypeError, conn.addEndpoints, [("bind", 5)])
        self.assertRaises(
            TypeError, conn.addEndpoints, [("bind", "inproc://x", "extra")]
        )
        self.assertEqual(conn.endpoints, [])

    def test_addEndpointsSeveral(self) -> None:
        address1, address2 = inprocAddress(), inprocAddress()
        conn = ZmqTestReceiver(self.factory, bind(address1))
        conn.addEndpoints([bind(address2)])
        self.assertEqual(conn.endpoints, [bind(address1), bind(address2)])
        self.pushTo(address1, 1)
        self.pushTo(address2, 1)
        conn.doRead()
        self.assertEqual(conn.messages, [[b"m0"], [b"m0"]])

    def test_addEndpointsSchedulesPass(self) -> None:
        conn = ZmqTestReceiver(self.factory)
        self.reactor.advance(0)
        self.assertEqual(self.pending(), [])
        conn.addEndpoints([bind(inprocAddress())])
        self.assertEqual(len(self.pending()), 1)

    def test_endpointTypeConstants(self) -> None:
        self.assertEqual(ZmqEndpointType.bind, "bind")
        self.assertEqual(ZmqEndpointType.connect, "connect")
        endpoint = ZmqEndpoint(ZmqEndpointType.connect, "inproc://x")
        self.assertEqual(endpoint.type, "connect")
        self.assertEqual(endpoint.address, "inproc://x")


# ---------------------------------------------------------------------------
# REQ / REP


class REQTests(_Base):
    def setUp(self) -> None:
        super().setUp()
        address = inprocAddress()
        self.router = self.raw(zmq.ROUTER, bindTo=address)
        self.req = ZmqREQConnection(self.factory, connect(address))
        self.reactor.advance(0)

    def receiveRequest(self) -> tuple[bytes, bytes, list[bytes]]:
        """The next request the ROUTER got: (peer, id, parts)."""
        frames = recvNow(self.router)
        self.assertEqual(frames[2], b"")
        return frames[0], frames[1], frames[3:]

    def timers(self) -> list[Any]:
        return [
            call for call in self.pending() if call.getTime() > self.reactor.seconds()
        ]

    def test_reply(self) -> None:
        d = self.req.sendMsg(b"a", b"b")
        peer, requestId, parts = self.receiveRequest()
        self.assertEqual(parts, [b"a", b"b"])
        self.assertNoResult(d)
        self.router.send_multipart([peer, requestId, b"", b"r1", b"r2"])
        self.req.doRead()
        self.assertEqual(self.successResultOf(d), [b"r1", b"r2"])

    def test_emptyRequest(self) -> None:
        d = self.req.sendMsg()
        peer, requestId, parts = self.receiveRequest()
        self.assertEqual(parts, [])
        self.router.send_multipart([peer, requestId, b""])
        self.req.doRead()
        self.assertEqual(self.successResultOf(d), [])

    def test_uniqueIds(self) -> None:
        d1 = self.req.sendMsg(b"1")
        d2 = self.req.sendMsg(b"2")
        _, id1, _ = self.receiveRequest()
        _, id2, _ = self.receiveRequest()
        self.assertNotEqual(id1, id2)
        self.assertNotEqual(id1, b"")
        self.req.shutdown()
        self.failureResultOf(d1, ZmqConnectionClosedError)
        self.failureResultOf(d2, ZmqConnectionClosedError)

    def test_repliesOutOfOrder(self) -> None:
        d1 = self.req.sendMsg(b"1")
        d2 = self.req.sendMsg(b"2")
        peer, id1, _ = self.receiveRequest()
        _, id2, _ = self.receiveRequest()
        self.router.send_multipart([peer, id2, b"", b"for 2"])
        self.router.send_multipart([peer, id1, b"", b"for 1"])
        self.req.doRead()
        self.assertEqual(self.successResultOf(d1), [b"for 1"])
        self.assertEqual(self.successResultOf(d2), [b"for 2"])

    def test_timeout(self) -> None:
        d = self.req.sendMsg(b"q", timeout=5)
        self.reactor.advance(4.9)
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        failure = self.failureResultOf(d, ZmqRequestTimeoutError)
        self.assertIsInstance(failure.value, TimeoutError)
        self.assertIn("within 5 s", str(failure.value))
        self.assertEqual(self.pending(), [])

    def test_lateReplyDropped(self) -> None:
        """
        A reply to a request that timed out is logged at debug level and
        dropped; a newer request is answered normally.
        """
        d1 = self.req.sendMsg(b"old", timeout=5)
        peer, id1, _ = self.receiveRequest()
        self.reactor.advance(5)
        self.failureResultOf(d1, ZmqRequestTimeoutError)
        d2 = self.req.sendMsg(b"new", timeout=5)
        _, id2, _ = self.receiveRequest()
        self.router.send_multipart([peer, id1, b"", b"late"])
        self.router.send_multipart([peer, id2, b"", b"fresh"])
        with capturedLogs() as events:
            self.req.doRead()
        self.assertEqual(self.successResultOf(d2), [b"fresh"])
        debug = eventsFrom(events, self.req, LogLevel.debug)
        self.assertEqual(len(debug), 1)
        self.assertEqual(debug[0]["requestId"], id1.hex())
        # The reply cancelled the newer request's timer.
        self.assertEqual(self.timers(), [])

    def test_lateReplyBeforeNewerReply(self) -> None:
        """
        The late reply does not fire the pending newer request.
        """
        d1 = self.req.sendMsg(b"old", timeout=1)
        peer, id1, _ = self.receiveRequest()
        self.reactor.advance(1)
        self.failureResultOf(d1, ZmqRequestTimeoutError)
        d2 = self.req.sendMsg(b"new")
        self.router.send_multipart([peer, id1, b"", b"late"])
        self.req.doRead()
        self.assertNoResult(d2)
        self.req.shutdown()
        self.failureResultOf(d2, ZmqConnectionClosedError)

    def test_defaultRequestTimeout(self) -> None:
        class Impatient(ZmqREQConnection):
            defaultRequestTimeout = 2.0

        req = Impatient(
            self.factory, connect(self.router.getsockopt_string(zmq.LAST_ENDPOINT))
        )
        d = req.sendMsg(b"q")
        d2 = req.sendMsg(b"q", timeout=10)
        self.reactor.advance(2)
        self.failureResultOf(d, ZmqRequestTimeoutError)
        self.assertNoResult(d2)
        self.reactor.advance(8)
        self.failureResultOf(d2, ZmqRequestTimeoutError)

    def test_noTimeoutNoTimer(self) -> None:
        d = self.req.sendMsg(b"q")
        self.assertEqual(self.timers(), [])
        self.reactor.advance(10**6)
        self.assertNoResult(d)
        self.req.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)

    def test_cancel(self) -> None:
        d = self.req.sendMsg(b"q", timeout=5)
        peer, requestId, _ = self.receiveRequest()
        self.assertEqual(len(self.timers()), 1)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.timers(), [])
        # A reply that comes anyway is dropped.
        self.router.send_multipart([peer, requestId, b"", b"r"])
        with capturedLogs() as events:
            self.req.doRead()
        self.assertEqual(len(eventsFrom(events, self.req, LogLevel.debug)), 1)
        # Nothing is left to fail at shutdown.
        self.req.shutdown()

    def test_cancelWithoutTimeout(self) -> None:
        d = self.req.sendMsg(b"q")
        d.cancel()
        self.failureResultOf(d, CancelledError)

    def test_replyCancelsTimer(self) -> None:
        d = self.req.sendMsg(b"q", timeout=5)
        peer, requestId, _ = self.receiveRequest()
        self.router.send_multipart([peer, requestId, b"", b"r"])
        self.req.doRead()
        self.successResultOf(d)
        self.assertEqual(self.timers(), [])
        self.reactor.advance(5)

    def test_shutdownErrbacksPending(self) -> None:
        d1 = self.req.sendMsg(b"1", timeout=5)
        d2 = self.req.sendMsg(b"2")
        self.req.shutdown()
        self.failureResultOf(d1, ZmqConnectionClosedError)
        self.failureResultOf(d2, ZmqConnectionClosedError)
        self.assertEqual(self.pending(), [])
        # Idempotent.
        self.req.shutdown()

    def test_sendMsgAfterShutdown(self) -> None:
        self.req.shutdown()
        self.assertRaises(ZmqConnectionClosedError, self.req.sendMsg, b"q")

    def test_badTimeout(self) -> None:
        self.assertRaises(ValueError, self.req.sendMsg, b"q", timeout=0)
        self.assertRaises(ValueError, self.req.sendMsg, b"q", timeout=-1)
        self.assertRaises(TypeError, self.req.sendMsg, b"q", timeout="5")
        self.assertRaises(TypeError, self.req.sendMsg, b"q", timeout=True)
        self.assertTrue(nothingToReceive(self.router))
        self.assertEqual(self.timers(), [])

    def test_badPart(self) -> None:
        e = self.assertRaises(TypeError, self.req.sendMsg, b"a", "b")
        self.assertIn("encode", str(e))
        self.assertTrue(nothingToReceive(self.router))

    def test_noPeerQueues(self) -> None:
        """
        With no peer the request waits in the outgoing queue; its timeout
        takes it out again, and nothing is left pending.
        """
        lonely = ZmqREQConnection(self.factory)
        d = lonely.sendMsg(b"q", timeout=5)
        self.assertEqual(lonely.queuedMessages, 1)
        self.reactor.advance(5)
        self.failureResultOf(d, ZmqRequestTimeoutError)
        self.assertEqual(lonely.queuedMessages, 0)
        self.assertEqual(lonely.requestsInFlight, 0)

    def test_malformedReply(self) -> None:
        d = self.req.sendMsg(b"q")
        peer, requestId, _ = self.receiveRequest()
        self.router.send_multipart([peer, b"no delimiter"])
        with capturedLogs() as events:
            self.req.doRead()
        self.assertNoResult(d)
        self.assertEqual(len(eventsFrom(events, self.req, LogLevel.warn)), 1)
        self.router.send_multipart([peer, requestId, b"", b"ok"])
        self.req.doRead()
        self.assertEqual(self.successResultOf(d), [b"ok"])

    def test_customIds(self) -> None:
        class Numbered(ZmqREQConnection):
            counter = 0

            def _getNextId(self) -> bytes:
                self.counter += 1
                return b"id-%d" % (self.counter,)

        req = Numbered(
            self.factory, connect(self.router.getsockopt_string(zmq.LAST_ENDPOINT))
        )
        d = req.sendMsg(b"q")
        peer, requestId, _ = self.receiveRequest()
        self.assertEqual(requestId, b"id-1")
        self.router.send_multipart([peer, b"id-1", b"", b"r"])
        req.doRead()
        self.assertEqual(self.successResultOf(d), [b"r"])

    def test_repeatedIdRefusedBeforeSending(self) -> None:
        """
        An id generator that repeats a pending id gets a ValueError, and the
        duplicate request never reaches the wire.
        """

        class Stuck(ZmqREQConnection):
            def _getNextId(self) -> bytes:
                return b"same"

        req = Stuck(
            self.factory, connect(self.router.getsockopt_string(zmq.LAST_ENDPOINT))
        )
        first = req.sendMsg(b"first")
        first.addErrback(lambda f: f.trap(ZmqConnectionClosedError))
        e = self.assertRaises(ValueError, req.sendMsg, b"second")
        self.assertIn("unique", str(e))
        peer, requestId, parts = self.receiveRequest()
        self.assertEqual((requestId, parts), (b"same", [b"first"]))
        self.assertRaises(zmq.Again, self.router.recv_multipart, zmq.NOBLOCK)


class REPTests(_Base):
    def setUp(self) -> None:
        super().setUp()
        self.address = inprocAddress()
        self.rep = RecordingREP(self.factory, bind(self.address))
        self.reactor.advance(0)

    def test_roundTrip(self) -> None:
        req = ZmqREQConnection(self.factory, connect(self.address))
        d = req.sendMsg(b"hello", b"there")
        self.rep.doRead()
        self.assertEqual(len(self.rep.requests), 1)
        messageId, parts = self.rep.requests[0]
        self.assertEqual(parts, [b"hello", b"there"])
        self.rep.reply(messageId, b"world")
        req.doRead()
        self.assertEqual(self.successResultOf(d), [b"world"])

    def test_replyLater(self) -> None:
        """
        Requests can be answered in any order, after others arrived.
        """
        req = ZmqREQConnection(self.factory, connect(self.address))
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2")
        self.rep.doRead()
        (id1, _), (id2, _) = self.rep.requests
        self.rep.reply(id2, b"two")
        self.rep.reply(id1, b"one")
        req.doRead()
        self.assertEqual(self.successResultOf(d1), [b"one"])
        self.assertEqual(self.successResultOf(d2), [b"two"])

    def test_plainReqClient(self) -> None:
        """
        A plain ZeroMQ REQ socket is a client too; its peer identity is the
        request id.
        """
        client = self.raw(zmq.REQ)
        client.set(zmq.IDENTITY, b"client-1")
        client.connect(self.address)
        client.send(b"question")
        self.rep.doRead()
        self.assertEqual(self.rep.requests, [(b"client-1", [b"question"])])
        self.rep.reply(b"client-1", b"answer", b"more")
        self.assertEqual(recvNow(client), [b"answer", b"more"])

    def test_unknownId(self) -> None:
        e = self.assertRaises(ZmqUnknownRequestError, self.rep.reply, b"nope", b"x")
        self.assertIsInstance(e, KeyError)
        self.assertIn("b'nope'", str(e))

    def test_replyTwice(self) -> None:
        req = ZmqREQConnection(self.factory, connect(self.address))
        d = req.sendMsg(b"q")
        self.rep.doRead()
        messageId = self.rep.requests[0][0]
        self.rep.reply(messageId, b"first")
        self.assertRaises(ZmqUnknownRequestError, self.rep.reply, messageId, b"second")
        req.doRead()
        self.assertEqual(self.successResultOf(d), [b"first"])

    def test_badReplyArguments(self) -> None:
        req = ZmqREQConnection(self.factory, connect(self.address))
        d = req.sendMsg(b"q")
        self.rep.doRead()
        messageId = self.rep.requests[0][0]
        self.assertRaises(TypeError, self.rep.reply, messageId.decode("latin-1"), b"x")
        self.assertRaises(TypeError, self.rep.reply, messageId, "text")
        # Still waiting: a good reply goes through.
        self.rep.reply(messageId, b"ok")
        req.doRead()
        self.assertEqual(self.successResultOf(d), [b"ok"])

    def test_malformedRequest(self) -> None:
        client = self.raw(zmq.DEALER, connectTo=self.address)
        client.send(b"no delimiter")
        client.send_multipart([b"id-1", b"", b"good"])
        with capturedLogs() as events:
            self.rep.doRead()
        self.assertEqual(self.rep.requests, [(b"id-1", [b"good"])])
        warnings = eventsFrom(events, self.rep, LogLevel.warn)
        self.assertEqual(len(warnings), 1)
        self.assertIn("malformed request", formatEvent(warnings[0]))
        self.rep.reply(b"id-1", b"answer")
        self.assertEqual(recvNow(client), [b"id-1", b"", b"answer"])

    def test_wouldBlockKeepsRequest(self) -> None:
        """
        A reply that cannot be sent now can be tried again.
        """
        req = ZmqREQConnection(self.factory, connect(self.address))
        d = req.sendMsg(b"q")
        self.rep.doRead()
        messageId = self.rep.requests[0][0]
        original = self.rep._sendNow
        attempts: list[Any] = []

        def sendNow(frames: Any) -> bool:
            attempts.append(frames)
            if len(attempts) == 1:
                return False
            return original(frames)

        self.patch(self.rep, "_sendNow", sendNow)
        self.assertRaises(ZmqWouldBlockError, self.rep.reply, messageId, b"r")
        self.rep.reply(messageId, b"r")
        self.assertEqual(len(attempts), 2)
        req.doRead()
        self.assertEqual(self.successResultOf(d), [b"r"])

    def test_replyAfterShutdown(self) -> None:
        self.rep.shutdown()
        self.assertRaises(ZmqConnectionClosedError, self.rep.reply, b"x", b"y")

    def test_gotMessageNotOverridden(self) -> None:
        rep = ZmqREPConnection(self.factory, bind(inprocAddress()))
        client = self.raw(zmq.DEALER, connectTo=rep.endpoints[0].address)
        client.send_multipart([b"id", b"", b"q"])
        rep.doRead()
        self.assertEqual(self.successResultOf(rep.receive()), (b"id", b"q"))
        rep.reply(b"id", b"r")
        self.assertEqual(client.recv_multipart(), [b"id", b"", b"r"])


# ---------------------------------------------------------------------------
# Publish / subscribe


class PubSubTests(_Base):
    def setUp(self) -> None:
        super().setUp()
        self.address = inprocAddress()

    def test_publishSubscribe(self) -> None:
        pub = ZmqPubConnection(self.factory, bind(self.address))
        sub = RecordingSub(self.factory, connect(self.address))
        sub.subscribe(b"")
        self.reactor.advance(0)  # the PUB pass takes the subscription in
        pub.publish(b"body", b"tag")
        pub.publish(b"no tag")
        sub.doRead()
        self.assertEqual(sub.received, [(b"body", b"tag"), (b"no tag", b"")])

    def test_wireFormat(self) -> None:
        pub = ZmqPubConnection(self.factory, bind(self.address))
        sub = self.raw(zmq.SUB, connectTo=self.address)
        sub.subscribe(b"")
        pub.socket.get(zmq.EVENTS)
        pub.publish(b"body", b"tag")
        pub.publish("caf\xe9", "t\xe9")
        self.assertEqual(recvNow(sub), [b"tag\0body"])
        self.assertEqual(recvNow(sub), [b"t\xc3\xa9\0caf\xc3\xa9"])

    def test_customSeparator(self) -> None:
        pub = ZmqPubConnection(self.factory, bind(self.address), topicSep=b"||")
        sub = RecordingSub(self.factory, connect(self.address), topicSep=b"||")
        sub.subscribe(b"")
        self.reactor.advance(0)
        pub.publish(b"a||b", b"tag")
        sub.doRead()
        self.assertEqual(sub.received, [(b"a||b", b"tag")])

    def test_publishBadType(self) -> None:
        pub = ZmqPubConnection(self.factory, bind(self.address))
        self.assertRaises(TypeError, pub.publish, 1)
        self.assertRaises(TypeError, pub.publish, b"x", None)

    def test_pubIsSendOnly(self) -> None:
        pub = ZmqPubConnection(self.factory, bind(self.address))
        self.reactor.advance(0)
        pub.publish(b"x")
        self.assertEqual(self.pending(), [])
        pub.doRead()
        self.assertFalse(pub.closed)

    def test_subscriptionFilters(self) -> None:
        pub = self.raw(zmq.PUB, bindTo=self.address)
        sub = RecordingSub(self.factory, connect(self.address))
        sub.subscribe(b"news")
        pub.get(zmq.EVENTS)
        pub.send(b"sports\0no")
        pub.send(b"newsletter\0yes")
        pub.send(b"news\0yes too")
        sub.doRead()
        self.assertEqual(sub.received, [(b"yes", b"newsletter"), (b"yes too", b"news")])
        sub.unsubscribe(b"news")
        pub.get(zmq.EVENTS)
        pub.send(b"news\0gone")
        sub.doRead()
        self.assertEqual(len(sub.received), 2)

    def test_subscribeSchedulesPass(self) -> None:
        sub = RecordingSub(self.factory, connect(self.address))
        self.reactor.advance(0)
        sub.subscribe(b"x")
        self.assertEqual(len(self.pending()), 1)
        self.reactor.advance(0)
        sub.unsubscribe(b"x")
        self.assertEqual(len(self.pending()), 1)

    def test_subscribeBadTag(self) -> None:
        sub = RecordingSub(self.factory, connect(self.address))
        e = self.assertRaises(TypeError, sub.subscribe, "news")
        self.assertIn("encode", str(e))
        self.assertRaises(TypeError, sub.unsubscribe, None)
        sub.shutdown()
        self.assertRaises(ZmqConnectionClosedError, sub.subscribe, b"news")

    def test_malformedDropped(self) -> None:
        pub = self.raw(zmq.PUB, bindTo=self.address)
        sub = RecordingSub(self.factory, connect(self.address))
        sub.subscribe(b"")
        pub.get(zmq.EVENTS)
        pub.send(b"no separator")
        pub.send_multipart([b"a", b"b", b"c"])
        pub.send_multipart([b"tag", b"two frames"])
        pub.send(b"tag\0one frame")
        with capturedLogs() as events:
            sub.doRead()
        self.assertEqual(
            sub.received, [(b"two frames", b"tag"), (b"one frame", b"tag")]
        )
        warnings = eventsFrom(events, sub, LogLevel.warn)
        self.assertEqual(len(warnings), 2)
        self.assertIn("malformed published message", formatEvent(warnings[0]))
        self.assertFalse(sub.closed)

    def test_gotMessageNotOverridden(self) -> None:
        pub = self.raw(zmq.PUB, bindTo=self.address)
        sub = ZmqSubConnection(self.factory, connect(self.address))
        sub.subscribe(b"")
        pub.get(zmq.EVENTS)
        pub.send(b"t\0m")
        sub.doRead()
        self.assertEqual(self.successResultOf(sub.receive()), (b"m", b"t"))

    def test_xpubSubscriptions(self) -> None:
        xpub = RecordingXPub(self.factory, bind(self.address))
        sub = self.raw(zmq.SUB, connectTo=self.address)
        sub.subscribe(b"abc")
        xpub.doRead()
        self.assertEqual(xpub.subscriptions, [(b"abc", True)])
        sub.unsubscribe(b"abc")
        xpub.doRead()
        self.assertEqual(xpub.subscriptions, [(b"abc", True), (b"abc", False)])

    def test_xpubPublishes(self) -> None:
        xpub = RecordingXPub(self.factory, bind(self.address))
        sub = self.raw(zmq.SUB, connectTo=self.address)
        sub.subscribe(b"t")
        xpub.doRead()
        self.reactor.advance(0)
        xpub.publish(b"m", b"t")
        # XPUB receives, but nothing waits: no pass is needed.
        self.assertEqual(self.pending(), [])
        self.assertEqual(recvNow(sub), [b"t\0m"])
        sub.subscribe(b"u")
        xpub.publish(b"m", b"t")
        # Now the send found a subscription waiting: a pass will read it.
        self.assertEqual(len(self.pending()), 1)
        self.reactor.advance(0)
        self.assertEqual(xpub.subscriptions[-1], (b"u", True))

    def test_xpubDefaultGotSubscription(self) -> None:
        xpub = ZmqXPubConnection(self.factory, bind(self.address))
        sub = self.raw(zmq.SUB, connectTo=self.address)
        sub.subscribe(b"t")
        with capturedLogs() as events:
            xpub.doRead()
        self.assertEqual(eventsFrom(events, xpub), [])

    def test_xpubVerbose(self) -> None:
        quiet = RecordingXPub(self.factory, bind(self.address))
        verboseAddress = inprocAddress()
        verbose = RecordingXPub(
            self.factory, bind(verboseAddress), verboseSubscriptions=True
        )
        for address in (self.address, self.address, verboseAddress, verboseAddress):
            sub = self.raw(zmq.SUB, connectTo=address)
            sub.subscribe(b"t")
        quiet.doRead()
        verbose.doRead()
        self.assertEqual(quiet.subscriptions, [(b"t", True)])
        self.assertEqual(verbose.subscriptions, [(b"t", True), (b"t", True)])

    def test_xpubMalformed(self) -> None:
        xpub = RecordingXPub(self.factory, bind(self.address))
        xsub = self.raw(zmq.XSUB, connectTo=self.address)
        xsub.send(b"\x05not a subscription")
        xsub.send(b"")
        xsub.send(b"\x01ok")
        with capturedLogs() as events:
            xpub.doRead()
        self.assertEqual(xpub.subscriptions, [(b"ok", True)])
        self.assertEqual(len(eventsFrom(events, xpub, LogLevel.warn)), 2)

    def test_xsub(self) -> None:
        xpub = self.raw(zmq.XPUB, bindTo=self.address)
        xsub = RecordingXSub(self.factory, connect(self.address))
        xsub.subscribe(b"t")
        self.assertEqual(recvNow(xpub), [b"\x01t"])
        xpub.send(b"t\0m")
        xsub.doRead()
        self.assertEqual(xsub.received, [(b"m", b"t")])
        xsub.unsubscribe(b"t")
        self.assertEqual(recvNow(xpub), [b"\x00t"])
        self.assertRaises(TypeError, xsub.subscribe, "t")


# ---------------------------------------------------------------------------
# Push/pull, router/dealer, pair


class PatternShapeTests(_Base):
    def setUp(self) -> None:
        super().setUp()
        self.address = inprocAddress()

    def test_pushPull(self) -> None:
        pull = RecordingPull(self.factory, bind(self.address))
        push = ZmqPushConnection(self.factory, connect(self.address))
        push.push(b"one")
        push.push([b"a", b"b"])
        push.push((b"c", bytearray(b"d")))
        pull.doRead()
        self.assertEqual(pull.pulled, [[b"one"], [b"a", b"b"], [b"c", b"d"]])

    def test_pushNoPeer(self) -> None:
        push = ZmqPushConnection(self.factory)
        e = self.assertRaises(ZmqWouldBlockError, push.push, b"x")
        self.assertIsInstance(e, zmq.Again)
        self.assertEqual(e.errno, zmq.EAGAIN)
        self.assertIn("nothing was sent", str(e))

    def test_pushBadMessage(self) -> None:
        """
        A bad frame is found before anything is sent: no half message.
        """
        pull = RecordingPull(self.factory, bind(self.address))
        push = ZmqPushConnection(self.factory, connect(self.address))
        e = self.assertRaises(TypeError, push.push, "text")
        self.assertIn("encode", str(e))
        self.assertRaises(TypeError, push.push, [b"a", "b"])
        self.assertRaises(TypeError, push.push, None)
        self.assertRaises(ValueError, push.push, [])
        push.push(b"good")
        pull.doRead()
        self.assertEqual(pull.pulled, [[b"good"]])

    def test_pullNotOverridden(self) -> None:
        pull = ZmqPullConnection(self.factory, bind(self.address))
        self.pushTo(self.address, 1)
        pull.doRead()
        self.assertEqual(self.successResultOf(pull.receive()), [b"m0"])

    def test_routerDealer(self) -> None:
        router = RecordingRouter(self.factory, bind(self.address))
        dealer = RecordingDealer(
            self.factory, connect(self.address), identity=b"dealer-1"
        )
        dealer.sendMsg(b"hi")
        dealer.sendMultipart([b"a", b"b"])
        router.doRead()
        self.assertEqual(
            router.received, [(b"dealer-1", b"hi"), (b"dealer-1", b"a", b"b")]
        )
        router.sendMsg(b"dealer-1", b"back")
        router.sendMultipart(b"dealer-1", [b"x", b"y"])
        dealer.doRead()
        self.assertEqual(dealer.received, [(b"back",), (b"x", b"y")])

    def test_routerBadArguments(self) -> None:
        router = RecordingRouter(self.factory, bind(self.address))
        self.assertRaises(TypeError, router.sendMsg, "peer", b"x")
        self.assertRaises(TypeError, router.sendMsg, b"peer", "x")
        self.assertRaises(TypeError, router.sendMultipart, b"peer", b"not a list")
        self.assertRaises(TypeError, router.sendMultipart, b"peer", [b"a", 1])

    def test_dealerBadArguments(self) -> None:
        self.raw(zmq.ROUTER, bindTo=self.address)
        dealer = RecordingDealer(self.factory, connect(self.address))
        self.assertRaises(TypeError, dealer.sendMsg, "x")
        self.assertRaises(TypeError, dealer.sendMsg, [b"x"])
        self.assertRaises(ValueError, dealer.sendMultipart, [])

    def test_pair(self) -> None:
        one = RecordingPair(self.factory, bind(self.address))
        two = RecordingPair(self.factory, connect(self.address))
        one.sendMsg(b"ping")
        two.doRead()
        self.assertEqual(two.received, [(b"ping",)])
        two.sendMultipart([b"po", b"ng"])
        one.doRead()
        self.assertEqual(one.received, [(b"po", b"ng")])


# ---------------------------------------------------------------------------
# The real reactor's descriptor bookkeeping


class RealReactorTests(unittest.TestCase):
    """
    With the reactor trial runs (select, poll, epoll, asyncio...):
    registering and unregistering the descriptor.  C{removeReader} happens
    while C{fileno()} already returns -1, which every reactor must handle.
    The reactor is checked clean after each test: no pass may be left.
    """

    def setUp(self) -> None:
        self.factory = ZmqFactory(reactor=globalReactor())
        self.addCleanup(self.factory.shutdown)

    def test_addRemoveReader(self) -> None:
        conn = ZmqTestReceiver(self.factory, bind(inprocAddress()))
        self.assertIn(conn, globalReactor().getReaders())
        conn.shutdown()
        self.assertEqual(conn.fileno(), -1)
        self.assertNotIn(conn, globalReactor().getReaders())

    def test_factoryShutdown(self) -> None:
        conns = [ZmqTestReceiver(self.factory) for _ in range(3)]
        self.factory.shutdown()
        readers = globalReactor().getReaders()
        for conn in conns:
            self.assertNotIn(conn, readers)

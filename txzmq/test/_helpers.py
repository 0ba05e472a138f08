"""
Shared helpers for txzmq's own tests: unique addresses and Deferreds that
fire when enough messages have arrived (no sleeps).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.trial import unittest
from twisted.trial.unittest import SynchronousTestCase as TestCase
from zope.interface import provider

from txzmq import (
    ZmqConnection,
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPairConnection,
    ZmqPullConnection,
    ZmqREPConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqXPubConnection,
    ZmqXSubConnection,
)
from txzmq.connection import _MonitorReader

if TYPE_CHECKING:
    _CaseBase = unittest.TestCase
else:
    _CaseBase = object

_counter = itertools.count()

TIMEOUT = 10.0
"""Seconds an integration test waits for messages before it fails."""


def inprocAddress() -> str:
    """A fresh inproc address."""
    return f"inproc://txzmq-test-{os.getpid()}-{next(_counter)}"


def ipcAddress(case: TestCase) -> str:
    """
    A fresh ipc address in a private temporary directory, removed when
    C{case} is cleaned up.
    """
    directory = tempfile.mkdtemp(prefix="txzmq-")
    case.addCleanup(shutil.rmtree, directory, True)
    return f"ipc://{directory}/{next(_counter)}.sock"


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


def boundAddress(connection: ZmqConnection) -> str:
    """
    The address a connection actually bound last (resolves the random port
    of C{tcp://127.0.0.1:*}).
    """
    return connection.socket.getsockopt_string(zmq.LAST_ENDPOINT)


class Collector:
    """
    Records what a callback receives; L{waitFor} returns a Deferred that
    fires with the records once there are at least C{count}.
    """

    def __init__(self, reactor: IReactorTime, timeout: float = TIMEOUT) -> None:
        self.items: list[Any] = []
        self._reactor = reactor
        self._timeout = timeout
        self._waiters: list[tuple[int, Deferred[list[Any]]]] = []

    def __call__(self, *args: Any) -> None:
        self.items.append(args[0] if len(args) == 1 else args)
        self._check()

    def _check(self) -> None:
        ready = [(n, d) for n, d in self._waiters if len(self.items) >= n]
        for waiter in ready:
            self._waiters.remove(waiter)
            waiter[1].callback(list(self.items))

    def waitFor(self, count: int) -> Deferred[list[Any]]:
        d: Deferred[list[Any]] = Deferred()
        self._waiters.append((count, d))
        self._check()
        if not d.called:
            d.addTimeout(self._timeout, self._reactor)
        return d


def untilTrue(
    reactor: IReactorTime,
    step: Callable[[], bool],
    interval: float = 0.01,
    timeout: float = TIMEOUT,
) -> Deferred[None]:
    """
    Call C{step} every C{interval} seconds until it returns true (for
    example: publish a probe until a subscriber has seen one, the way to
    wait out ZeroMQ's slow-joiner window without a fixed sleep).
    """
    d: Deferred[None] = Deferred()
    deadline = reactor.seconds() + timeout

    def tick() -> None:
        if step():
            d.callback(None)
        elif reactor.seconds() > deadline:
            d.errback(TimeoutError(f"condition not met within {timeout} s"))
        else:
            reactor.callLater(interval, tick)

    tick()
    return d


def captureLogs(case: TestCase) -> list[LogEvent]:
    """Collect the log events emitted until C{case} is cleaned up."""
    events: list[LogEvent] = []

    @provider(ILogObserver)
    def observer(event: LogEvent) -> None:
        events.append(event)

    globalLogPublisher.addObserver(observer)
    case.addCleanup(globalLogPublisher.removeObserver, observer)
    return events


def shutDownOwnersFirst(factory: ZmqFactory) -> None:
    """
    Shut C{factory} down, closing monitored connections before their
    monitor readers.

    C{factory.shutdown()} closes connections in set order; when a monitor
    reader goes first, its owner's C{disable_monitor()} can block forever
    in libzmq (a PAIR send with no peer).  Reported; until it is fixed,
    the owners go first here.
    """
    owners = [c for c in factory.connections if not isinstance(c, _MonitorReader)]
    for connection in owners:
        connection.shutdown()
    factory.shutdown()


class FactoryMixin(_CaseBase):
    """
    For a L{unittest.TestCase}: a factory on trial's reactor
    (C{self.factory}, C{self.reactor}), shut down with L{shutdownFactory}
    when the test ends.
    """

    def setUp(self) -> None:
        from twisted.internet import reactor

        self.reactor: Any = reactor
        self.factory = ZmqFactory(reactor)
        self.addCleanup(self.shutdownFactory, self.factory)

    @staticmethod
    def shutdownFactory(factory: ZmqFactory) -> None:
        factory.shutdown()

    def wait(self, d: Deferred[Any], seconds: float = TIMEOUT) -> Deferred[Any]:
        """Fail C{d} with a timeout instead of letting a lost message hang."""
        return d.addTimeout(seconds, self.reactor)

    def rawSocket(self, socketType: int) -> zmq.Socket[bytes]:
        """A plain pyzmq socket in the factory's context, closed before
        the factory shuts down."""
        sock: zmq.Socket[bytes] = self.factory.context.socket(socketType)
        sock.setsockopt(zmq.LINGER, 0)
        self.addCleanup(sock.close)
        return sock

    def captureLogs(self) -> list[LogEvent]:
        """Collect log events until the end of the test."""
        return captureLogs(self)


class TransportMixin(FactoryMixin):
    """
    L{FactoryMixin}, and fresh addresses for the transport named by
    C{transport}.
    """

    transport: str

    def newAddress(self, transport: str | None = None) -> str:
        transport = transport or self.transport
        if transport == "inproc":
            return inprocAddress()
        if transport == "ipc":
            return ipcAddress(self)
        return "tcp://127.0.0.1:*"


TRANSPORTS = ["inproc", "ipc", "tcp"]


def addTransportCases(
    namespace: MutableMapping[str, Any],
    mixins: Iterable[type],
    transports: Iterable[str] = TRANSPORTS,
) -> None:
    """
    Put into C{namespace} (a test module's C{globals()}) one
    L{unittest.TestCase} per mixin and transport, named
    C{<mixin>_<transport>}, skipped where libzmq lacks the transport.
    """
    transports = list(transports)
    for mixin in mixins:
        for transport in transports:
            name = f"{mixin.__name__}_{transport}"
            attributes: dict[str, Any] = {
                "transport": transport,
                "__module__": namespace["__name__"],
            }
            if transport == "ipc" and not zmq.has("ipc"):
                attributes["skip"] = f"libzmq has no {transport} transport here"
            namespace[name] = type(name, (mixin, unittest.TestCase), attributes)


# Connections that record what their callback is given, one per pattern.


class RecordingPull(ZmqPullConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pulled: list[list[Any]] = []
        super().__init__(*args, **kwargs)

    def onPull(self, message: list[Any]) -> None:
        self.pulled.append(message)


class RecordingSub(ZmqSubConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, bytes]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: Any, tag: bytes) -> None:
        self.received.append((message, tag))


class RecordingXSub(ZmqXSubConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, bytes]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: Any, tag: bytes) -> None:
        self.received.append((message, tag))


class RecordingXPub(ZmqXPubConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.subscriptions: list[tuple[bytes, bool]] = []
        super().__init__(*args, **kwargs)

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        self.subscriptions.append((tag, subscribed))


class RecordingREP(ZmqREPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.requests: list[tuple[bytes, list[Any]]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, messageId: bytes, *messageParts: Any) -> None:
        self.requests.append((messageId, list(messageParts)))


class RecordingRouter(ZmqRouterConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, ...]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, *args: Any) -> None:
        self.received.append(args)


class RecordingDealer(ZmqDealerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, ...]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, *args: Any) -> None:
        self.received.append(args)


class RecordingPair(ZmqPairConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, ...]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, *args: Any) -> None:
        self.received.append(args)

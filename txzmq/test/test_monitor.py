"""
Connection events: L{txzmq.monitor} on its own (hand-made monitor frames,
no sockets), then the monitoring API of connections on real sockets over
tcp and ipc, a peer process killed and restarted, and the slow-joiner
answer of L{ZmqXPubConnection.whenSubscribed} over tcp, ipc and inproc.

Nothing here sleeps: tests wait for the event, the subscription or the
message they need, each with a timeout.  Tests marked C{todo} expose bugs
that are still open.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet import defer
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    gatherResults,
    succeed,
)
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.trial import unittest

import txzmq
from txzmq import (
    ZmqConnection,
    ZmqConnectionClosedError,
    ZmqEndpointError,
    ZmqEvent,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqXPubConnection,
)
from txzmq._framing import MalformedMessage
from txzmq.monitor import HANDSHAKE_FAILURES, PeerTracker, decodeEvent, describeFailure
from txzmq.test._helpers import (
    TIMEOUT,
    Collector,
    TransportMixin,
    bind,
    boundAddress,
    connect,
    inprocAddress,
    ipcAddress,
    shutDownOwnersFirst,
)

if TYPE_CHECKING:
    _Base = unittest.TestCase
else:
    _Base = object

E = zmq.Event
ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------
# Helpers


def frames(
    kind: int, value: int, endpoint: bytes = b"tcp://127.0.0.1:5555"
) -> list[bytes]:
    """A monitor message as libzmq sends it: event id and value, endpoint."""
    return [struct.pack("=hi", kind, value), endpoint]


def event(
    kind: zmq.Event, endpoint: str = "tcp://127.0.0.1:5555", value: int = 0
) -> ZmqEvent:
    return ZmqEvent(kind, endpoint, value)


def withoutDelays(kinds: list[zmq.Event]) -> list[zmq.Event]:
    """Kinds without CONNECT_DELAYED (tcp reports it, ipc usually not)."""
    return [k for k in kinds if k != E.CONNECT_DELAYED]


def isSubsequence(wanted: list[Any], items: list[Any]) -> bool:
    """Whether C{wanted} appears in C{items} in order (not necessarily adjacent)."""
    remaining = iter(items)
    return all(any(item == w for item in remaining) for w in wanted)


def openSockets(context: zmq.Context[Any]) -> int:
    """The pyzmq sockets of C{context} not closed yet."""
    return sum(1 for s in list(context._sockets) if not s.closed)


def zmqDescriptors() -> dict[str, str]:
    """
    This process's descriptors of the kinds libzmq opens (eventfds, epoll
    instances, sockets) and what they are.
    """
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the directory listing's own descriptor
            continue
        if target.startswith(("anon_inode:", "socket:")):
            found[fd] = target
    return found


class EventRecorder:
    """
    An event observer: keeps every event, and L{waitFor} fires once an
    event of a kind has arrived (with a timeout, so a missing event fails
    the test instead of hanging it).
    """

    def __init__(self, reactor: Any, timeout: float = TIMEOUT) -> None:
        self.events: list[ZmqEvent] = []
        self._reactor = reactor
        self._timeout = timeout
        self._waiters: list[tuple[zmq.Event, int, Deferred[ZmqEvent]]] = []

    def __call__(self, event: ZmqEvent) -> None:
        self.events.append(event)
        for waiter in list(self._waiters):
            kind, count, d = waiter
            matching = [e for e in self.events if e.kind == kind]
            if len(matching) >= count:
                self._waiters.remove(waiter)
                d.callback(matching[count - 1])

    @property
    def kinds(self) -> list[zmq.Event]:
        return [e.kind for e in self.events]

    def waitFor(self, kind: zmq.Event, count: int = 1) -> Deferred[ZmqEvent]:
        """Fire with the C{count}-th event of C{kind}, now or when it comes."""
        matching = [e for e in self.events if e.kind == kind]
        if len(matching) >= count:
            return succeed(matching[count - 1])
        d: Deferred[ZmqEvent] = Deferred()
        self._waiters.append((kind, count, d))
        return d.addTimeout(self._timeout, self._reactor)


class XPublisher(ZmqXPubConnection):
    """An XPUB connection that records subscriptions instead of keeping them."""

    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.subscriptions = Collector(factory.reactor)

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        self.subscriptions((tag, subscribed))

    def waitForSubscription(
        self, tag: bytes, subscribed: bool, count: int = 1
    ) -> Deferred[None]:
        """
        Fire once C{(tag, subscribed)} has been passed to gotSubscription
        C{count} times in all.
        """
        wanted = (tag, subscribed)
        d: Deferred[None] = Deferred()

        def check(_: object = None) -> None:
            if self.subscriptions.items.count(wanted) >= count:
                d.callback(None)
            else:
                waiter = self.subscriptions.waitFor(len(self.subscriptions.items) + 1)
                waiter.addCallbacks(check, d.errback)

        check()
        return d


class ZapDenier(ZmqRouterConnection):
    """A ZAP handler (RFC 27) that refuses every peer with status 400."""

    def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
        # [b"", version, request id, domain, address, identity, mechanism, ...]
        requestId = frames[2]
        self.sendMultipart(
            senderId, [b"", b"1.0", requestId, b"400", b"no entry", b"", b""]
        )


class _Silent(Protocol):
    """A TCP client that says nothing unless told to."""


class _SocketsMixin(TransportMixin):
    """
    A factory on trial's reactor, addresses for C{transport}, and event
    recorders.
    """

    transport = "tcp"
    timeout = 60

    # Shut every connection down before the factory: each then closes its
    # own monitor first.  (factory.shutdown() alone may close a monitor
    # reader before its connection and hang: see
    # L{MonitorLifecycleTests.test_factoryShutdownWithManyMonitors}.)
    shutdownFactory = staticmethod(shutDownOwnersFirst)

    def listen(self, cls: Callable[..., Any], **kwargs: Any) -> tuple[Any, str]:
        connection = cls(self.factory, bind(self.newAddress()), **kwargs)
        return connection, boundAddress(connection)

    def record(self, connection: ZmqConnection) -> EventRecorder:
        recorder = EventRecorder(self.reactor)
        connection.addEventObserver(recorder)
        return recorder

    def monitored(
        self, cls: Callable[..., Any], *endpoints: Any, **kwargs: Any
    ) -> tuple[Any, EventRecorder]:
        """
        A connection monitoring every event from before its endpoints are
        added, and the recorder of its events.
        """
        connection = cls(self.factory, monitorEvents=zmq.EVENT_ALL, **kwargs)
        recorder = self.record(connection)
        connection.addEndpoints(list(endpoints))
        return connection, recorder


# ---------------------------------------------------------------------------
# Pure: decoding, descriptions, events, peer bookkeeping


class DecodeEventTests(unittest.SynchronousTestCase):
    SINGLE_EVENTS = [
        E.CONNECTED,
        E.CONNECT_DELAYED,
        E.CONNECT_RETRIED,
        E.LISTENING,
        E.BIND_FAILED,
        E.ACCEPTED,
        E.ACCEPT_FAILED,
        E.CLOSED,
        E.CLOSE_FAILED,
        E.DISCONNECTED,
        E.MONITOR_STOPPED,
        E.HANDSHAKE_FAILED_NO_DETAIL,
        E.HANDSHAKE_SUCCEEDED,
        E.HANDSHAKE_FAILED_PROTOCOL,
        E.HANDSHAKE_FAILED_AUTH,
    ]

    def test_everyKind(self) -> None:
        """
        Each event libzmq reports decodes to a ZmqEvent of that kind (a
        C{zmq.Event}), with its endpoint as text and its value.
        """
        for kind in self.SINGLE_EVENTS:
            decoded = decodeEvent(frames(kind, 42, b"ipc:///tmp/x.sock"))
            self.assertEqual(decoded, ZmqEvent(kind, "ipc:///tmp/x.sock", 42))
            self.assertIsInstance(decoded.kind, zmq.Event)
            self.assertIs(type(decoded.value), int)

    def test_endpointText(self) -> None:
        """
        The endpoint is decoded as UTF-8, bad bytes replaced; libzmq
        sends an empty one for some events (CLOSED of a listener).
        """
        self.assertEqual(decodeEvent(frames(E.CLOSED, 3, b"")).endpoint, "")
        self.assertEqual(
            decodeEvent(frames(E.CONNECTED, 3, "tcp://caf\u00e9:1".encode())).endpoint,
            "tcp://caf\u00e9:1",
        )
        self.assertEqual(
            decodeEvent(frames(E.CONNECTED, 3, b"tcp://\xff:1")).endpoint,
            "tcp://\ufffd:1",
        )

    def test_largeValues(self) -> None:
        """Values use the 32 bits libzmq sends: a ZMTP protocol error code."""
        code = zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
        self.assertEqual(
            decodeEvent(frames(E.HANDSHAKE_FAILED_PROTOCOL, code)).value, code
        )

    def test_malformed(self) -> None:
        """
        Anything that is not two frames with a 6-byte first frame raises
        MalformedMessage.
        """
        good = frames(E.CONNECTED, 1)
        for bad in (
            [],
            [good[0]],
            [*good, b"extra"],
            [b"12345", good[1]],
            [good[0] + b"\0", good[1]],
        ):
            self.assertRaises(MalformedMessage, decodeEvent, bad)

    def test_negativeValue(self) -> None:
        """The value is a signed 32-bit integer: -1 stays -1."""
        self.assertEqual(decodeEvent(frames(E.CLOSED, -1)).value, -1)

    def test_notOneEvent(self) -> None:
        """
        A first frame naming no event, or several at once, is not a
        monitor event.
        """
        for kind in (0, E.CONNECTED | E.ACCEPTED, -5):
            self.assertRaises(MalformedMessage, decodeEvent, frames(kind, 0))


class DescribeFailureTests(unittest.SynchronousTestCase):
    def test_errno(self) -> None:
        """
        Bind, accept and close failures and handshakes failed without
        detail are described by their errno.
        """
        for kind in (
            E.BIND_FAILED,
            E.ACCEPT_FAILED,
            E.CLOSE_FAILED,
            E.HANDSHAKE_FAILED_NO_DETAIL,
        ):
            self.assertEqual(
                describeFailure(kind, errno.EADDRINUSE), zmq.strerror(errno.EADDRINUSE)
            )
            self.assertEqual(describeFailure(kind, 0), "no detail")

    def test_protocolError(self) -> None:
        """A failed ZMTP handshake names the protocol error, or its code."""
        self.assertEqual(
            describeFailure(
                E.HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
            ),
            "protocol error: zmtp mechanism mismatch",
        )
        self.assertEqual(
            describeFailure(
                E.HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID
            ),
            "protocol error: zap bad request id",
        )
        self.assertEqual(
            describeFailure(E.HANDSHAKE_FAILED_PROTOCOL, 0x12345),
            "protocol error: code 0x12345",
        )

    def test_authentication(self) -> None:
        """A refused authentication gives the ZAP status code."""
        self.assertEqual(
            describeFailure(E.HANDSHAKE_FAILED_AUTH, 400),
            "authentication refused (ZAP status 400)",
        )

    def test_notFailures(self) -> None:
        for kind in (
            E.CONNECTED,
            E.LISTENING,
            E.DISCONNECTED,
            E.HANDSHAKE_SUCCEEDED,
            E.MONITOR_STOPPED,
        ):
            self.assertEqual(describeFailure(kind, 98), "")


class ZmqEventTests(unittest.SynchronousTestCase):
    def test_exported(self) -> None:
        self.assertIs(txzmq.ZmqEvent, ZmqEvent)
        self.assertIn("ZmqEvent", txzmq.__all__)

    def test_tuple(self) -> None:
        """A ZmqEvent is a named tuple (kind, endpoint, value)."""
        e = event(E.ACCEPTED, "tcp://127.0.0.1:1", 7)
        kind, endpoint, value = e
        self.assertEqual((kind, endpoint, value), (E.ACCEPTED, "tcp://127.0.0.1:1", 7))
        self.assertEqual(e, ZmqEvent(E.ACCEPTED, "tcp://127.0.0.1:1", 7))

    def test_failed(self) -> None:
        """
        Bind, accept, close and handshake failures are failures; nothing
        else is (a disconnection is not).
        """
        failures = {
            E.BIND_FAILED,
            E.ACCEPT_FAILED,
            E.CLOSE_FAILED,
            E.HANDSHAKE_FAILED_NO_DETAIL,
            E.HANDSHAKE_FAILED_PROTOCOL,
            E.HANDSHAKE_FAILED_AUTH,
        }
        for kind in DecodeEventTests.SINGLE_EVENTS:
            self.assertEqual(event(kind).failed, kind in failures, kind)
        self.assertEqual(
            HANDSHAKE_FAILURES,
            {
                E.HANDSHAKE_FAILED_NO_DETAIL,
                E.HANDSHAKE_FAILED_PROTOCOL,
                E.HANDSHAKE_FAILED_AUTH,
            },
        )

    def test_reason(self) -> None:
        self.assertEqual(
            event(E.BIND_FAILED, value=errno.EADDRINUSE).reason,
            zmq.strerror(errno.EADDRINUSE),
        )
        self.assertEqual(event(E.CONNECTED, value=12).reason, "")

    def test_str(self) -> None:
        """
        C{str()} is the kind in lower case and the endpoint, then the
        reason of a failure.
        """
        self.assertEqual(
            str(event(E.HANDSHAKE_SUCCEEDED, "ipc:///a")),
            "handshake_succeeded ipc:///a",
        )
        self.assertEqual(
            str(event(E.HANDSHAKE_FAILED_AUTH, "tcp://127.0.0.1:9", 400)),
            "handshake_failed_auth tcp://127.0.0.1:9: authentication refused (ZAP status 400)",
        )
        self.assertEqual(str(ZmqEvent(E(0), "x", 0)), "0 x")


class PeerTrackerTests(unittest.SynchronousTestCase):
    A = "tcp://127.0.0.1:1"
    B = "ipc:///tmp/b.sock"

    def connected(self, tracker: PeerTracker, endpoint: str) -> None:
        fire = tracker.update(event(E.HANDSHAKE_SUCCEEDED, endpoint)).fire
        if fire is not None:
            fire()

    def disconnected(self, tracker: PeerTracker, endpoint: str, fd: int = 0) -> None:
        fire = tracker.update(event(E.DISCONNECTED, endpoint, fd)).fire
        if fire is not None:
            fire()

    def test_counts(self) -> None:
        """
        A peer counts from its successful handshake to its disconnection,
        per endpoint.
        """
        tracker = PeerTracker()
        self.assertEqual((tracker.connected, tracker.isConnected()), (0, False))
        self.connected(tracker, self.A)
        self.connected(tracker, self.A)
        self.connected(tracker, self.B)
        self.assertEqual(tracker.connected, 3)
        self.assertEqual(tracker.peers, {self.A: 2, self.B: 1})
        self.disconnected(tracker, self.A)
        self.disconnected(tracker, self.B)
        self.assertEqual(tracker.peers, {self.A: 1})
        self.assertTrue(tracker.isConnected(self.A))
        self.assertFalse(tracker.isConnected(self.B))
        self.assertFalse(tracker.isConnected("tcp://elsewhere:1"))

    def test_disconnectWithoutPeer(self) -> None:
        """A disconnection never makes a count negative."""
        tracker = PeerTracker()
        self.disconnected(tracker, self.A)
        self.assertEqual((tracker.connected, tracker.peers), (0, {}))

    def test_otherEventsIgnored(self) -> None:
        tracker = PeerTracker()
        for kind in (
            E.CONNECTED,
            E.ACCEPTED,
            E.LISTENING,
            E.CLOSED,
            E.HANDSHAKE_FAILED_AUTH,
        ):
            self.assertEqual(tracker.update(event(kind)), (None, None))
        self.assertEqual(tracker.connected, 0)

    def test_whenConnected(self) -> None:
        """
        whenConnected() fires with the handshake event, but only when the
        update's returned function is called (after the connection's own
        callbacks); at once with None when a peer is already connected.
        """
        tracker = PeerTracker()
        d = tracker.whenConnected()
        handshake = event(E.HANDSHAKE_SUCCEEDED, self.A)
        fire = tracker.update(handshake).fire
        self.assertNoResult(d)
        assert fire is not None
        fire()
        self.assertIs(self.successResultOf(d), handshake)
        self.assertIsNone(self.successResultOf(tracker.whenConnected()))
        self.assertIsNone(self.successResultOf(tracker.whenConnected(self.A)))

    def test_whenConnectedEndpoint(self) -> None:
        """With an endpoint, only a handshake at that endpoint fires it."""
        tracker = PeerTracker()
        atB = tracker.whenConnected(self.B)
        anywhere = tracker.whenConnected()
        self.connected(tracker, self.A)
        self.assertNoResult(atB)
        self.assertEqual(self.successResultOf(anywhere).endpoint, self.A)  # type: ignore[union-attr]
        self.connected(tracker, self.B)
        self.assertEqual(self.successResultOf(atB).endpoint, self.B)  # type: ignore[union-attr]

    def test_whenDisconnected(self) -> None:
        """
        whenDisconnected() fires with the next disconnection, whichever
        endpoint; each waiter once.
        """
        tracker = PeerTracker()
        self.connected(tracker, self.A)
        first, second = tracker.whenDisconnected(), tracker.whenDisconnected()
        self.assertIsNone(tracker.update(event(E.HANDSHAKE_SUCCEEDED, self.B)).fire)
        self.disconnected(tracker, self.A, 12)
        self.assertEqual(self.successResultOf(first), event(E.DISCONNECTED, self.A, 12))
        self.assertEqual(
            self.successResultOf(second), event(E.DISCONNECTED, self.A, 12)
        )
        later = tracker.whenDisconnected()
        self.assertNoResult(later)
        self.disconnected(tracker, self.B, 13)
        self.assertEqual(self.successResultOf(later).value, 13)

    def test_cancel(self) -> None:
        """A cancelled Deferred is forgotten: later events leave it alone."""
        tracker = PeerTracker()
        connecting, disconnecting = tracker.whenConnected(), tracker.whenDisconnected()
        connecting.cancel()
        disconnecting.cancel()
        self.failureResultOf(connecting, CancelledError)
        self.failureResultOf(disconnecting, CancelledError)
        self.assertIsNone(tracker.update(event(E.HANDSHAKE_SUCCEEDED)).fire)
        self.assertIsNone(tracker.update(event(E.DISCONNECTED)).fire)

    def test_fail(self) -> None:
        """fail() errbacks every waiter, each with a new exception."""
        tracker = PeerTracker()
        waiters = [
            tracker.whenConnected(),
            tracker.whenConnected(self.A),
            tracker.whenDisconnected(),
        ]
        tracker.fail(lambda: ZmqConnectionClosedError("gone"))
        errors = [
            self.failureResultOf(d, ZmqConnectionClosedError).value for d in waiters
        ]
        self.assertEqual(len({id(e) for e in errors}), 3)
        self.assertIsNone(tracker.update(event(E.HANDSHAKE_SUCCEEDED)).fire)

    def test_failedHandshakeIsNoPeer(self) -> None:
        """
        The disconnection that follows a failed handshake (a port scanner,
        a health check, a peer speaking another protocol) is not that of
        a counted peer: the connected peer still counts.
        """
        tracker = PeerTracker()
        for e in [
            event(E.ACCEPTED, self.A, 20),
            event(E.HANDSHAKE_SUCCEEDED, self.A, 0),
            event(E.ACCEPTED, self.A, 21),
            event(E.HANDSHAKE_FAILED_NO_DETAIL, self.A, errno.EPIPE),
            event(E.DISCONNECTED, self.A, 21),
        ]:
            tracker.update(e)
        self.assertEqual(tracker.connected, 1)


# ---------------------------------------------------------------------------
# Fake reactor: timeouts run on a clock


class FakeClockTests(unittest.SynchronousTestCase):
    """
    Real sockets, but a L{MemoryReactorClock}: nothing is ever read, so no
    event arrives, and timeouts fire exactly when the clock says.
    """

    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.factory = ZmqFactory(self.clock)
        self.addCleanup(_SocketsMixin.shutdownFactory, self.factory)

    def test_whenConnectedTimeout(self) -> None:
        """whenConnected(timeout=) fails with TimeoutError after that many seconds."""
        conn = ZmqPullConnection(self.factory)
        d = conn.whenConnected(timeout=5)
        self.assertTrue(conn.monitoring, "whenConnected() enables monitoring")
        self.clock.advance(4.9)
        self.assertNoResult(d)
        self.clock.advance(0.1)
        self.failureResultOf(d, defer.TimeoutError)

    def test_whenConnectedEndpointTimeout(self) -> None:
        conn = ZmqPullConnection(self.factory)
        d = conn.whenConnected("tcp://127.0.0.1:1", timeout=2)
        self.clock.advance(2)
        self.failureResultOf(d, defer.TimeoutError)

    def test_whenDisconnectedTimeout(self) -> None:
        conn = ZmqPullConnection(self.factory)
        d = conn.whenDisconnected(timeout=3)
        self.assertTrue(conn.monitoring)
        self.clock.advance(3)
        self.failureResultOf(d, defer.TimeoutError)

    def test_whenSubscribedTimeout(self) -> None:
        """whenSubscribed needs no monitoring: subscriptions are messages."""
        xpub = ZmqXPubConnection(self.factory)
        d = xpub.whenSubscribed(b"news", timeout=1)
        self.assertFalse(xpub.monitoring)
        self.clock.advance(1)
        self.failureResultOf(d, defer.TimeoutError)

    def test_inprocFiresAtOnce(self) -> None:
        """
        inproc produces no events: whenConnected for an inproc endpoint
        fires at once with None, and does not enable monitoring.
        """
        conn = ZmqPullConnection(self.factory, bind(inprocAddress()))
        self.assertIsNone(
            self.successResultOf(
                conn.whenConnected(conn.endpoints[0].address, timeout=1)
            )
        )
        self.assertFalse(conn.monitoring)

    def test_settings(self) -> None:
        """
        monitorEvents is a setting: a keyword argument or a class
        attribute; it must be a non-negative int.
        """

        class Watched(ZmqPullConnection):
            monitorEvents = zmq.EVENT_LISTENING

        self.assertFalse(ZmqPullConnection(self.factory).monitoring)
        self.assertTrue(Watched(self.factory).monitoring)
        self.assertTrue(
            ZmqPullConnection(self.factory, monitorEvents=zmq.EVENT_ALL).monitoring
        )
        self.assertRaises(ValueError, ZmqPullConnection, self.factory, monitorEvents=-1)
        self.assertRaises(
            TypeError, ZmqPullConnection, self.factory, monitorEvents="all"
        )
        conn = ZmqPullConnection(self.factory)
        self.assertRaises(ValueError, conn.enableMonitor, -1)
        self.assertRaises(TypeError, conn.enableMonitor, 1.5)
        self.assertFalse(conn.monitoring)

    def test_enableDisable(self) -> None:
        """
        enableMonitor() and disableMonitor() switch monitoring; disabling
        twice is harmless; each monitor is one extra socket.
        """
        conn = ZmqPullConnection(self.factory)
        self.assertEqual(openSockets(self.factory.context), 1)
        conn.enableMonitor()
        conn.enableMonitor(zmq.EVENT_CONNECTED)
        self.assertTrue(conn.monitoring)
        self.assertEqual(openSockets(self.factory.context), 2)
        conn.disableMonitor()
        conn.disableMonitor()
        self.assertFalse(conn.monitoring)
        self.assertEqual(openSockets(self.factory.context), 1)

    def test_closed(self) -> None:
        """After shutdown the monitoring methods raise ZmqConnectionClosedError."""
        conn = ZmqPullConnection(self.factory)
        conn.shutdown()
        for call in (
            conn.enableMonitor,
            conn.disableMonitor,
            conn.whenConnected,
            conn.whenDisconnected,
        ):
            self.assertRaises(ZmqConnectionClosedError, call)
        xpub = ZmqXPubConnection(self.factory)
        xpub.shutdown()
        self.assertRaises(ZmqConnectionClosedError, xpub.whenSubscribed, b"x")

    def test_shutdownFailsWaiters(self) -> None:
        """
        shutdown() fails the Deferreds still waiting for a peer or a
        subscription with ZmqConnectionClosedError, and closes the
        monitor socket.
        """
        conn = ZmqPullConnection(self.factory)
        waiting = [
            conn.whenConnected(timeout=10),
            conn.whenConnected("tcp://127.0.0.1:1"),
            conn.whenDisconnected(),
        ]
        xpub = ZmqXPubConnection(self.factory)
        subscribed = xpub.whenSubscribed(b"x", timeout=10)
        conn.shutdown()
        xpub.shutdown()
        for d in [*waiting, subscribed]:
            self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertFalse(conn.monitoring)
        self.assertEqual(openSockets(self.factory.context), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_setSocketOptions(self) -> None:
        """setSocketOptions(monitorEvents=...) switches monitoring like the constructor."""
        conn = ZmqPullConnection(self.factory)
        conn.setSocketOptions(monitorEvents=zmq.EVENT_ALL)
        self.assertTrue(conn.monitoring)


# ---------------------------------------------------------------------------
# Real sockets: the events themselves


class EventSequenceTests(_SocketsMixin):
    """The events of binding, connecting, handshakes and disconnections."""

    async def test_bindSide(self) -> None:
        """
        A bound socket reports LISTENING, then per peer ACCEPTED and
        HANDSHAKE_SUCCEEDED, and DISCONNECTED when the peer goes: all at
        the bound address (a tcp port resolved), ACCEPTED and DISCONNECTED
        with the same file descriptor.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        address = boundAddress(server)
        listening = await events.waitFor(E.LISTENING)
        self.assertGreater(listening.value, 0)
        peer = ZmqPushConnection(self.factory, connect(address))
        await self.wait(server.whenConnected())
        peer.shutdown()
        gone = await events.waitFor(E.DISCONNECTED)
        self.assertEqual(
            events.kinds,
            [E.LISTENING, E.ACCEPTED, E.HANDSHAKE_SUCCEEDED, E.DISCONNECTED],
        )
        self.assertEqual({e.endpoint for e in events.events}, {address})
        self.assertEqual(events.events[1].value, gone.value)
        self.assertFalse(any(e.failed for e in events.events))

    async def test_connectSide(self) -> None:
        """
        A connecting socket reports CONNECTED and HANDSHAKE_SUCCEEDED (tcp
        first CONNECT_DELAYED) at the address as given to connect; when
        the peer goes, DISCONNECTED, then CONNECT_RETRIED as it tries
        again.
        """
        server, address = self.listen(ZmqPullConnection)
        client, events = self.monitored(
            ZmqPushConnection, connect(address), reconnectInterval=50
        )
        handshake = await self.wait(client.whenConnected(address))
        assert handshake is not None
        self.assertEqual(
            (handshake.kind, handshake.endpoint), (E.HANDSHAKE_SUCCEEDED, address)
        )
        self.assertEqual(
            withoutDelays(events.kinds), [E.CONNECTED, E.HANDSHAKE_SUCCEEDED]
        )
        server.shutdown()
        retried = await events.waitFor(E.CONNECT_RETRIED)
        self.assertGreaterEqual(retried.value, 50)
        kinds = withoutDelays(events.kinds)
        self.assertEqual(
            kinds[:3], [E.CONNECTED, E.HANDSHAKE_SUCCEEDED, E.DISCONNECTED]
        )
        self.assertIn(E.CONNECT_RETRIED, kinds[3:])
        self.assertEqual({e.endpoint for e in events.events}, {address})

    async def test_connectRetriedUntilListening(self) -> None:
        """
        Connecting where nobody listens yet reports CONNECT_RETRIED, with
        the reconnect interval in milliseconds; once a peer binds there,
        the handshake succeeds.
        """
        address = self.unusedAddress()
        client, events = self.monitored(
            ZmqPushConnection, connect(address), reconnectInterval=50
        )
        connected = client.whenConnected(address, timeout=TIMEOUT)
        retried = await events.waitFor(E.CONNECT_RETRIED)
        self.assertEqual(retried.endpoint, address)
        self.assertGreaterEqual(retried.value, 50)
        self.assertNoResult(connected)
        ZmqPullConnection(self.factory, bind(address))
        handshake = await connected
        assert handshake is not None
        self.assertEqual(
            (handshake.kind, handshake.endpoint), (E.HANDSHAKE_SUCCEEDED, address)
        )
        self.assertEqual(client.connectedPeers, 1)

    def unusedAddress(self) -> str:
        """An address nobody listens on (yet)."""
        if self.transport == "ipc":
            return ipcAddress(self)
        with socket.socket() as probe:  # closed at once, unlike a ZeroMQ socket
            probe.bind(("127.0.0.1", 0))
            return f"tcp://127.0.0.1:{probe.getsockname()[1]}"

    async def test_unbindCloses(self) -> None:
        """Unbinding a listener reports CLOSED."""
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        await events.waitFor(E.LISTENING)
        server.socket.unbind(boundAddress(server))
        closed = await events.waitFor(E.CLOSED)
        self.assertEqual(events.kinds, [E.LISTENING, E.CLOSED])
        self.assertFalse(closed.failed)

    async def test_peerCallbacks(self) -> None:
        """
        peerConnected and peerDisconnected are called with the handshake
        and the disconnection; connectedPeers counts the peers in between.
        """
        calls: list[tuple[str, zmq.Event, int]] = []

        class Server(ZmqPullConnection):
            def peerConnected(self, event: ZmqEvent) -> None:
                calls.append(("connected", event.kind, self.connectedPeers))

            def peerDisconnected(self, event: ZmqEvent) -> None:
                calls.append(("disconnected", event.kind, self.connectedPeers))

        server, events = self.monitored(Server, bind(self.newAddress()))
        address = boundAddress(server)
        peers = [ZmqPushConnection(self.factory, connect(address)) for _ in range(2)]
        await events.waitFor(E.HANDSHAKE_SUCCEEDED, 2)
        self.assertEqual(server.connectedPeers, 2)
        peers[0].shutdown()
        await self.wait(server.whenDisconnected())
        self.assertEqual(server.connectedPeers, 1)
        self.assertEqual(
            calls,
            [
                ("connected", E.HANDSHAKE_SUCCEEDED, 1),
                ("connected", E.HANDSHAKE_SUCCEEDED, 2),
                ("disconnected", E.DISCONNECTED, 1),
            ],
        )

    async def test_inprocHasNoEvents(self) -> None:
        """
        inproc binds, connections and disconnections produce no event: the
        first event of a connection bound to inproc, then to the transport
        under test, is that LISTENING (events of one socket arrive in
        order).
        """
        server, events = self.monitored(ZmqPullConnection, bind(inprocAddress()))
        inproc = server.endpoints[0].address
        client = ZmqPushConnection(self.factory, connect(inproc))
        client.push(b"over inproc")
        self.assertEqual(await self.wait(server.receive()), [b"over inproc"])
        client.shutdown()
        server.addEndpoints([bind(self.newAddress())])
        listening = await events.waitFor(E.LISTENING)
        self.assertEqual(events.events, [listening])
        self.assertEqual(listening.endpoint, boundAddress(server))
        self.assertIsNone(self.successResultOf(server.whenConnected(inproc)))


class TcpEventTests(_SocketsMixin, unittest.TestCase):
    """Failures only tcp shows: address in use, handshakes that fail."""

    async def test_bindFailed(self) -> None:
        """
        Binding an address in use raises ZmqEndpointError, and the monitor
        reports BIND_FAILED with EADDRINUSE, logged as a warning.
        """
        logs = self.captureLogs()
        _, address = self.listen(ZmqPullConnection)
        other, events = self.monitored(ZmqPullConnection)
        error = self.assertRaises(ZmqEndpointError, other.addEndpoints, [bind(address)])
        self.assertEqual(error.errno, errno.EADDRINUSE)
        failed = await events.waitFor(E.BIND_FAILED)
        self.assertEqual(failed.value, errno.EADDRINUSE)
        self.assertTrue(failed.failed)
        self.assertEqual(failed.reason, zmq.strerror(errno.EADDRINUSE))
        self.assertTrue(address.endswith(failed.endpoint), (address, failed.endpoint))
        warnings = [
            e
            for e in logs
            if e.get("log_level") == LogLevel.warn
            and "bind_failed" in str(e.get("event"))
        ]
        self.assertEqual(len(warnings), 1)

    async def test_handshakeFailedProtocol(self) -> None:
        """
        A peer offering another security mechanism fails the handshake:
        HANDSHAKE_FAILED_PROTOCOL saying so, then DISCONNECTED.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        port = int(boundAddress(server).rsplit(":", 1)[1])
        protocol = await connectProtocol(
            TCP4ClientEndpoint(self.reactor, "127.0.0.1", port), _Silent()
        )
        # A ZMTP 3.0 greeting asking for PLAIN; the server uses NULL.
        protocol.transport.write(
            b"\xff" + bytes(8) + b"\x7f\x03\x00" + b"PLAIN".ljust(20, b"\0") + bytes(32)
        )
        failed = await events.waitFor(E.HANDSHAKE_FAILED_PROTOCOL)
        protocol.transport.loseConnection()
        self.assertEqual(failed.value, zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        self.assertEqual(failed.reason, "protocol error: zmtp mechanism mismatch")
        await events.waitFor(E.DISCONNECTED)
        self.assertEqual(server.connectedPeers, 0)

    async def test_handshakeFailedAuth(self) -> None:
        """
        A peer refused by the ZAP handler: both sides report
        HANDSHAKE_FAILED_AUTH with the ZAP status code, and nobody counts
        as connected.
        """
        ZapDenier(self.factory, bind("inproc://zeromq.zap.01"))
        server = ZmqPullConnection(self.factory, monitorEvents=zmq.EVENT_ALL)
        serverEvents = self.record(server)
        server.socket.plain_server = True
        server.addEndpoints([bind(self.newAddress())])
        client = ZmqPushConnection(self.factory, monitorEvents=zmq.EVENT_ALL)
        clientEvents = self.record(client)
        client.socket.plain_username = b"mallory"
        client.socket.plain_password = b"guess"
        client.addEndpoints([connect(boundAddress(server))])
        refused = await serverEvents.waitFor(E.HANDSHAKE_FAILED_AUTH)
        told = await clientEvents.waitFor(E.HANDSHAKE_FAILED_AUTH)
        client.shutdown()
        self.assertEqual((refused.value, told.value), (400, 400))
        self.assertEqual(told.reason, "authentication refused (ZAP status 400)")
        self.assertEqual((server.connectedPeers, client.connectedPeers), (0, 0))

    async def test_healthCheckKeepsPeerCount(self) -> None:
        """
        A plain TCP connection that closes without a handshake (a load
        balancer's health check) does not uncount the connected peer.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        address = boundAddress(server)
        ZmqPushConnection(self.factory, connect(address))
        await self.wait(server.whenConnected())
        port = int(address.rsplit(":", 1)[1])
        probe = await connectProtocol(
            TCP4ClientEndpoint(self.reactor, "127.0.0.1", port), _Silent()
        )
        probe.transport.loseConnection()
        await events.waitFor(E.DISCONNECTED)
        self.assertEqual(server.connectedPeers, 1)
        self.assertIsNone(self.successResultOf(server.whenConnected()))


# ---------------------------------------------------------------------------
# Real sockets: callbacks, observers, errors


class ObserverTests(_SocketsMixin, unittest.TestCase):
    async def test_order(self) -> None:
        """
        Each event goes to eventReceived, then to the observers in the
        order they were added.
        """
        calls: list[tuple[str, zmq.Event]] = []

        class Server(ZmqPullConnection):
            def eventReceived(self, event: ZmqEvent) -> None:
                calls.append(("method", event.kind))

        server = Server(self.factory, monitorEvents=zmq.EVENT_ALL)
        server.addEventObserver(lambda e: calls.append(("first", e.kind)))
        server.addEventObserver(lambda e: calls.append(("second", e.kind)))
        done = self.record(server)
        server.addEndpoints([bind(self.newAddress())])
        await done.waitFor(E.LISTENING)
        self.assertEqual(
            calls,
            [("method", E.LISTENING), ("first", E.LISTENING), ("second", E.LISTENING)],
        )

    async def test_remove(self) -> None:
        """A removed observer gets no more events; removing a stranger raises."""
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        removed = EventRecorder(self.reactor)
        server.addEventObserver(removed)
        await events.waitFor(E.LISTENING)
        await removed.waitFor(E.LISTENING)
        server.removeEventObserver(removed)
        self.assertRaises(ValueError, server.removeEventObserver, removed)
        ZmqPushConnection(self.factory, connect(boundAddress(server)))
        await events.waitFor(E.HANDSHAKE_SUCCEEDED)
        self.assertEqual(removed.kinds, [E.LISTENING])

    async def test_errorsLoggedAndMonitoringGoesOn(self) -> None:
        """
        An exception from eventReceived or an observer is logged; the
        other observers still get the event, later events still come, and
        whenConnected still fires.
        """

        class Broken(ZmqPullConnection):
            def eventReceived(self, event: ZmqEvent) -> None:
                raise ZeroDivisionError(str(event))

        def brokenObserver(event: ZmqEvent) -> None:
            raise KeyError(str(event))

        server = Broken(self.factory, monitorEvents=zmq.EVENT_ALL)
        server.addEventObserver(brokenObserver)
        events = self.record(server)
        server.addEndpoints([bind(self.newAddress())])
        connected = server.whenConnected(timeout=TIMEOUT)
        ZmqPushConnection(self.factory, connect(boundAddress(server)))
        await connected
        self.assertEqual(events.kinds, [E.LISTENING, E.ACCEPTED, E.HANDSHAKE_SUCCEEDED])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 3)
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 3)
        self.assertTrue(server.monitoring)

    async def test_failuresAreWarnings(self) -> None:
        """
        A failure event is logged as a warning naming it; other events are
        not logged.
        """
        logs = self.captureLogs()
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        server.addEndpoints([bind("tcp://127.0.0.1:*")])
        await events.waitFor(E.LISTENING, 2)
        self.assertRaises(
            ZmqEndpointError, server.addEndpoints, [bind(boundAddress(server))]
        )
        await events.waitFor(E.BIND_FAILED)
        texts = [
            str(e.get("event"))
            for e in logs
            if e.get("log_level") == LogLevel.warn and "event" in e
        ]
        self.assertEqual(len(texts), 1)
        self.assertIn("bind_failed", texts[0])
        self.assertIn(zmq.strerror(errno.EADDRINUSE), texts[0])

    def test_malformedMonitorMessage(self) -> None:
        """A message on the monitor socket that is not an event is dropped with a warning."""
        logs = self.captureLogs()
        server = ZmqPullConnection(self.factory, monitorEvents=zmq.EVENT_ALL)
        events = self.record(server)
        reader = server._monitor
        assert reader is not None
        reader.messageReceived([b"not an event"])
        self.assertEqual(events.events, [])
        self.assertTrue(
            any("Dropping a monitor message" in e.get("log_format", "") for e in logs)
        )

    async def test_peerConnectedErrorKeepsWaiters(self) -> None:
        """
        An exception from peerConnected is logged, and the whenConnected
        Deferreds waiting for that handshake still fire.
        """

        class Broken(ZmqPullConnection):
            def peerConnected(self, event: ZmqEvent) -> None:
                raise ZeroDivisionError("peerConnected")

        server = Broken(
            self.factory, bind(self.newAddress()), monitorEvents=zmq.EVENT_ALL
        )
        connected = server.whenConnected(timeout=2)
        ZmqPushConnection(self.factory, connect(boundAddress(server)))
        try:
            await connected
        finally:
            self.flushLoggedErrors(ZeroDivisionError)


# ---------------------------------------------------------------------------
# Real sockets: enabling, disabling, shutting down


class MonitorLifecycleTests(_SocketsMixin, unittest.TestCase):
    async def test_mask(self) -> None:
        """Only the events of the mask given to enableMonitor() arrive."""
        server = ZmqPullConnection(self.factory)
        server.enableMonitor(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        events = self.record(server)
        server.addEndpoints([bind(self.newAddress())])
        peer = ZmqPushConnection(self.factory, connect(boundAddress(server)))
        await events.waitFor(E.HANDSHAKE_SUCCEEDED)
        peer.shutdown()
        await events.waitFor(E.DISCONNECTED)
        self.assertEqual(events.kinds, [E.HANDSHAKE_SUCCEEDED, E.DISCONNECTED])

    async def test_enableAgainChangesMask(self) -> None:
        """Enabling again replaces the mask."""
        server = ZmqPullConnection(self.factory)
        events = self.record(server)
        server.enableMonitor(zmq.EVENT_LISTENING)
        server.addEndpoints([bind(self.newAddress())])
        await events.waitFor(E.LISTENING)
        server.enableMonitor(zmq.EVENT_ACCEPTED)
        server.addEndpoints([bind(self.newAddress())])
        ZmqPushConnection(self.factory, connect(boundAddress(server)))
        await events.waitFor(E.ACCEPTED)
        self.assertEqual(events.kinds, [E.LISTENING, E.ACCEPTED])

    async def test_disableThenEnable(self) -> None:
        """
        While monitoring is disabled nothing is reported; once enabled
        again, new events are.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        address = boundAddress(server)
        await events.waitFor(E.LISTENING)
        server.disableMonitor()
        self.assertFalse(server.monitoring)
        unseen = ZmqPushConnection(self.factory, connect(address))
        unseen.push(b"unseen")
        # Delivered: both ends of the handshake are done.
        self.assertEqual(await self.wait(server.receive()), [b"unseen"])
        server.enableMonitor()
        ZmqPushConnection(self.factory, connect(address))
        await events.waitFor(E.HANDSHAKE_SUCCEEDED)
        self.assertEqual(
            events.kinds,
            [E.LISTENING, E.MONITOR_STOPPED, E.ACCEPTED, E.HANDSHAKE_SUCCEEDED],
        )

    async def test_monitorStoppedDelivered(self) -> None:
        """disableMonitor() reports MONITOR_STOPPED, the last event."""
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        await events.waitFor(E.LISTENING)
        server.disableMonitor()
        self.assertEqual(events.kinds, [E.LISTENING, E.MONITOR_STOPPED])

    async def test_peerLeftWhileDisabled(self) -> None:
        """
        A peer that left while monitoring was off no longer counts once
        monitoring is enabled again.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        peer = ZmqPushConnection(self.factory, connect(boundAddress(server)))
        await self.wait(server.whenConnected())
        server.disableMonitor()
        peer.shutdown()
        server.enableMonitor()
        self.assertEqual(server.connectedPeers, 0)
        pending = server.whenConnected()
        self.assertNoResult(pending)
        pending.cancel()
        self.failureResultOf(pending, CancelledError)

    async def test_shutdownReleasesSockets(self) -> None:
        """
        Enabling and disabling many times, then shutting down, leaves no
        socket open and no file descriptor behind.
        """
        before = zmqDescriptors()
        factory = ZmqFactory(self.reactor)
        self.addCleanup(self.shutdownFactory, factory)
        server = ZmqPullConnection(
            factory, bind("tcp://127.0.0.1:*"), monitorEvents=zmq.EVENT_ALL
        )
        client = ZmqPushConnection(
            factory, connect(boundAddress(server)), monitorEvents=zmq.EVENT_ALL
        )
        await self.wait(gatherResults([server.whenConnected(), client.whenConnected()]))
        for _ in range(20):
            server.disableMonitor()
            server.enableMonitor()
        self.assertEqual(openSockets(factory.context), 4)
        server.disableMonitor()
        self.assertEqual(openSockets(factory.context), 3)
        client.shutdown()
        server.shutdown()
        self.assertEqual(openSockets(factory.context), 0)
        self.assertEqual(factory.connections, set())
        factory.shutdown()
        self.assertEqual(zmqDescriptors(), before)

    if not os.path.isdir("/proc/self/fd"):
        test_shutdownReleasesSockets.skip = "no /proc/self/fd to count descriptors"  # type: ignore[attr-defined]

    async def test_shutdownFailsWaiters(self) -> None:
        """
        Shutting down fails the pending whenConnected and whenDisconnected
        Deferreds with ZmqConnectionClosedError.
        """
        server, _ = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        waiting = [
            server.whenConnected(),
            server.whenConnected("ipc:///nowhere"),
            server.whenDisconnected(),
        ]
        server.shutdown()
        for d in waiting:
            await self.assertFailure(d, ZmqConnectionClosedError)
        self.assertEqual(openSockets(self.factory.context), 0)

    def test_factoryShutdownWithManyMonitors(self) -> Deferred[None]:
        """
        factory.shutdown() with many monitored connections ends (in a child
        process: it used to hang for good).
        """
        return self.runChild(FACTORY_SHUTDOWN_SCRIPT, "factories shut down")

    def test_monitorEventsOnBaseClass(self) -> Deferred[None]:
        """
        Setting monitorEvents on ZmqConnection itself (txZMQ-style global
        configuration) monitors every connection, not the monitors too.
        """
        return self.runChild(BASE_CLASS_SCRIPT, "monitoring with 2 sockets")

    def runChild(self, script: str, expected: str) -> Deferred[None]:
        async def check() -> None:
            child = ChildProcess()
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
            )
            self.reactor.spawnProcess(
                child,
                sys.executable,
                [sys.executable, "-c", script],
                env=env,
                path=str(ROOT),
            )
            self.addCleanup(child.kill)
            reason = await child.ended
            report = f"\nstdout:\n{child.output()}\nstderr:\n{child.err.decode()}"
            self.assertIsInstance(reason, ProcessDone, report)
            self.assertIn(expected, child.output(), report)

        return Deferred.fromCoroutine(check())


FACTORY_SHUTDOWN_SCRIPT = r"""
import faulthandler
faulthandler.dump_traceback_later(5, exit=True)  # the bug: a hang
import zmq
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import react
from txzmq import ZmqFactory, ZmqPullConnection
from txzmq.test._helpers import bind

async def main(reactor):
    for _ in range(10):
        factory = ZmqFactory(reactor)
        listening = []
        for _ in range(30):
            d = Deferred()
            pull = ZmqPullConnection(factory, monitorEvents=zmq.EVENT_ALL)
            pull.addEventObserver(lambda event, d=d: d.called or d.callback(event))
            pull.addEndpoints([bind("tcp://127.0.0.1:*")])
            listening.append(d)
        await gatherResults(listening)
        factory.shutdown()
    print("factories shut down", flush=True)

react(main)
"""

BASE_CLASS_SCRIPT = r"""
import faulthandler, sys
faulthandler.dump_traceback_later(5, exit=True)  # the bug: a hang
import zmq
from twisted.internet import reactor
from txzmq import ZmqConnection, ZmqFactory, ZmqPullConnection

sys.setrecursionlimit(300)  # fail fast rather than make a thousand sockets

ZmqConnection.monitorEvents = zmq.EVENT_ALL
factory = ZmqFactory(reactor)
pull = ZmqPullConnection(factory)
print("monitoring" if pull.monitoring else "not monitoring", "with", len(factory.context._sockets), "sockets", flush=True)
pull.shutdown()
factory.shutdown()
"""


# ---------------------------------------------------------------------------
# Real sockets: whenConnected and whenDisconnected


class WaitingTests(_SocketsMixin):
    async def test_whenConnected(self) -> None:
        """
        whenConnected() fires with the handshake event of the first peer;
        once a peer is connected, at once with None.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        address = boundAddress(server)
        first = server.whenConnected(timeout=TIMEOUT)
        second = server.whenConnected(address, timeout=TIMEOUT)
        self.assertNoResult(first)
        ZmqPushConnection(self.factory, connect(address))
        handshake = await first
        self.assertEqual(handshake, ZmqEvent(E.HANDSHAKE_SUCCEEDED, address, 0))
        self.assertIs(await second, handshake)
        self.assertIsNone(self.successResultOf(server.whenConnected()))
        self.assertIsNone(
            self.successResultOf(server.whenConnected(address, timeout=1))
        )
        self.assertEqual(server.connectedPeers, 1)

    async def test_whenConnectedEndpoint(self) -> None:
        """
        With an endpoint, whenConnected() waits for a peer at that
        endpoint: one at another endpoint of the same connection does not
        count.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        mine = boundAddress(server)
        server.addEndpoints([bind(self.newAddress("tcp"))])
        other = boundAddress(server)
        atMine = server.whenConnected(mine, timeout=TIMEOUT)
        ZmqPushConnection(self.factory, connect(other))
        await events.waitFor(E.HANDSHAKE_SUCCEEDED)
        self.assertNoResult(atMine)
        self.assertIsNone(self.successResultOf(server.whenConnected(other)))
        ZmqPushConnection(self.factory, connect(mine))
        handshake = await atMine
        assert handshake is not None
        self.assertEqual(handshake.endpoint, mine)
        self.assertEqual(server.connectedPeers, 2)

    async def test_whenConnectedConnectSide(self) -> None:
        """On the connecting side the endpoint is the address as given."""
        server, address = self.listen(ZmqPullConnection)
        client = ZmqPushConnection(self.factory, monitorEvents=zmq.EVENT_ALL)
        client.addEndpoints([connect(address)])
        handshake = await self.wait(client.whenConnected(address))
        assert handshake is not None
        self.assertEqual(
            (handshake.kind, handshake.endpoint), (E.HANDSHAKE_SUCCEEDED, address)
        )

    async def test_whenConnectedEnablesMonitoring(self) -> None:
        """
        whenConnected() on a connection without monitoring enables it, and
        sees peers connecting afterwards.
        """
        server, address = self.listen(ZmqPullConnection)
        connected = server.whenConnected(timeout=TIMEOUT)
        self.assertTrue(server.monitoring)
        ZmqPushConnection(self.factory, connect(address))
        handshake = await connected
        assert handshake is not None
        self.assertEqual(handshake.kind, E.HANDSHAKE_SUCCEEDED)

    async def test_whenConnectedTimeout(self) -> None:
        """
        Without a peer, whenConnected(timeout=) fails with Twisted's
        TimeoutError; a peer connecting later upsets nothing.
        """
        server, address = self.listen(ZmqPullConnection, monitorEvents=zmq.EVENT_ALL)
        await self.assertFailure(server.whenConnected(timeout=0.05), defer.TimeoutError)
        ZmqPushConnection(self.factory, connect(address))
        await self.wait(server.whenConnected())

    async def test_whenDisconnected(self) -> None:
        """
        whenDisconnected() fires with the DISCONNECTED event of the next
        peer to go; connectedPeers goes down.
        """
        server, events = self.monitored(ZmqPullConnection, bind(self.newAddress()))
        address = boundAddress(server)
        peers = [ZmqPushConnection(self.factory, connect(address)) for _ in range(2)]
        await events.waitFor(E.HANDSHAKE_SUCCEEDED, 2)
        gone = server.whenDisconnected(timeout=TIMEOUT)
        self.assertNoResult(gone)
        peers[1].shutdown()
        event = await gone
        self.assertEqual((event.kind, event.endpoint), (E.DISCONNECTED, address))
        self.assertEqual(server.connectedPeers, 1)

    async def test_whenDisconnectedTimeout(self) -> None:
        server, address = self.listen(ZmqPullConnection, monitorEvents=zmq.EVENT_ALL)
        await self.assertFailure(
            server.whenDisconnected(timeout=0.05), defer.TimeoutError
        )


# ---------------------------------------------------------------------------
# A peer process killed and restarted


PEER_SCRIPT = r"""
import os, sys, time
import zmq

kind, port = sys.argv[1], sys.argv[2]
parent = os.getppid()
context = zmq.Context()
sock = context.socket({"rep": zmq.REP, "pull": zmq.PULL, "sub": zmq.SUB}[kind])
sock.linger = 0
if kind == "sub":
    sock.subscribe(b"")
sock.bind("tcp://127.0.0.1:" + port)
print("listening", sock.getsockopt_string(zmq.LAST_ENDPOINT).rsplit(":", 1)[1], flush=True)
deadline = time.monotonic() + 120  # never outlive a test run gone wrong
while time.monotonic() < deadline and os.getppid() == parent:
    if not sock.poll(100):
        continue
    frames = sock.recv_multipart()
    if kind == "rep":
        sock.send_multipart([b"pong", *frames])
    else:
        print("received", b"|".join(frames).hex(), flush=True)
"""


class ChildProcess(ProcessProtocol):
    """
    A child's output, line by line: L{waitForLine} fires with the first
    line starting with a prefix; C{ended} with how the child ended.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.err = bytearray()
        self.ended: Deferred[object] = Deferred()
        self._partial = b""
        self._waiters: list[tuple[str, Deferred[str]]] = []

    def outReceived(self, data: bytes) -> None:
        *complete, self._partial = (self._partial + data).split(b"\n")
        for line in complete:
            self.lines.append(line.decode("utf-8", "replace"))
        for waiter in list(self._waiters):
            found = self._find(waiter[0])
            if found is not None:
                self._waiters.remove(waiter)
                waiter[1].callback(found)

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        waiters, self._waiters = self._waiters, []
        for prefix, d in waiters:
            d.errback(
                AssertionError(
                    f"the child ended without printing {prefix!r}: {self.err.decode()}"
                )
            )
        self.ended.callback(reason.value)

    def output(self) -> str:
        return "\n".join(self.lines)

    def _find(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)

    def waitForLine(self, prefix: str, reactor: Any) -> Deferred[str]:
        found = self._find(prefix)
        if found is not None:
            return succeed(found)
        d: Deferred[str] = Deferred()
        self._waiters.append((prefix, d))
        return d.addTimeout(TIMEOUT, reactor)

    def kill(self) -> Deferred[object] | None:
        """Kill the child if it still runs; fire once it has ended."""
        if self.ended.called:
            return None
        assert self.transport is not None
        self.transport.signalProcess("KILL")
        return self.ended


class PeerProcessTests(_SocketsMixin, unittest.TestCase):
    """
    A REP, PULL or SUB peer in a child process binds a tcp port this
    process connects to; it is killed (the events show the disconnection),
    restarted on the same port (they show the reconnection), and messaging
    resumes.
    """

    async def startPeer(self, kind: str, port: str = "*") -> tuple[ChildProcess, str]:
        child = ChildProcess()
        self.reactor.spawnProcess(
            child,
            sys.executable,
            [sys.executable, "-c", PEER_SCRIPT, kind, port],
            env=dict(os.environ),
        )
        self.addCleanup(child.kill)
        line = await child.waitForLine("listening ", self.reactor)
        return child, line.split()[1]

    async def killAndRestart(
        self,
        kind: str,
        connection: ZmqConnection,
        peer: ChildProcess,
        port: str,
        events: EventRecorder,
    ) -> ChildProcess:
        address = f"tcp://127.0.0.1:{port}"
        gone = connection.whenDisconnected(timeout=TIMEOUT)
        assert peer.transport is not None
        peer.transport.signalProcess("KILL")
        disconnected = await gone
        self.assertEqual(
            (disconnected.kind, disconnected.endpoint), (E.DISCONNECTED, address)
        )
        self.assertIsInstance(await peer.ended, ProcessTerminated)
        self.assertEqual(connection.connectedPeers, 0)
        back = connection.whenConnected(address, timeout=TIMEOUT)
        self.assertNoResult(back)
        newPeer, newPort = await self.startPeer(kind, port)
        self.assertEqual(newPort, port)
        handshake = await back
        assert handshake is not None
        self.assertEqual(
            (handshake.kind, handshake.endpoint), (E.HANDSHAKE_SUCCEEDED, address)
        )
        self.assertEqual(connection.connectedPeers, 1)
        # The disconnection, the attempts to reconnect, the new handshake.
        kinds = events.kinds
        self.assertTrue(
            isSubsequence(
                [
                    E.HANDSHAKE_SUCCEEDED,
                    E.DISCONNECTED,
                    E.CONNECT_RETRIED,
                    E.CONNECTED,
                    E.HANDSHAKE_SUCCEEDED,
                ],
                kinds,
            ),
            kinds,
        )
        self.assertEqual(kinds.count(E.HANDSHAKE_SUCCEEDED), 2)
        return newPeer

    async def test_rep(self) -> None:
        peer, port = await self.startPeer("rep")
        address = f"tcp://127.0.0.1:{port}"
        req, events = self.monitored(
            ZmqREQConnection, connect(address), reconnectInterval=50
        )
        await self.wait(req.whenConnected(address))
        self.assertEqual(
            await req.sendMsg(b"ping", timeout=TIMEOUT), [b"pong", b"ping"]
        )
        await self.killAndRestart("rep", req, peer, port, events)
        self.assertEqual(
            await req.sendMsg(b"again", timeout=TIMEOUT), [b"pong", b"again"]
        )

    async def test_pull(self) -> None:
        peer, port = await self.startPeer("pull")
        address = f"tcp://127.0.0.1:{port}"
        push, events = self.monitored(
            ZmqPushConnection, connect(address), reconnectInterval=50
        )
        await self.wait(push.whenConnected(address))
        push.push([b"one", b"1"])
        await peer.waitForLine("received " + b"one|1".hex(), self.reactor)
        newPeer = await self.killAndRestart("pull", push, peer, port, events)
        push.push([b"two", b"2"])
        await newPeer.waitForLine("received " + b"two|2".hex(), self.reactor)

    async def test_sub(self) -> None:
        """
        A publisher connecting to a subscriber: whenSubscribed before the
        first message; after the restart the new subscriber gets what is
        published once the handshake is done.
        """
        peer, port = await self.startPeer("sub")
        address = f"tcp://127.0.0.1:{port}"
        xpub, events = self.monitored(
            ZmqXPubConnection, connect(address), reconnectInterval=50
        )
        self.assertEqual(await xpub.whenSubscribed(b"news", timeout=TIMEOUT), b"")
        xpub.publish(b"first", b"news")
        await peer.waitForLine("received " + b"news\0first".hex(), self.reactor)
        newPeer = await self.killAndRestart("sub", xpub, peer, port, events)
        await xpub.whenSubscribed(b"news", timeout=TIMEOUT)
        xpub.publish(b"second", b"news")
        await newPeer.waitForLine("received " + b"news\0second".hex(), self.reactor)


# ---------------------------------------------------------------------------
# Slow joiners: ZmqXPubConnection.whenSubscribed


class WhenSubscribedTests(_SocketsMixin):
    async def test_matchingPrefixesOnly(self) -> None:
        """
        whenSubscribed(tag) fires with the first subscription that is a
        prefix of C{tag + topicSep}: not with one that is longer than the
        tag or different.
        """
        xpub, address = self.listen(XPublisher)
        sub = ZmqSubConnection(self.factory, connect(address))
        paris = xpub.whenSubscribed(b"weather.paris", timeout=TIMEOUT)
        news = xpub.whenSubscribed(b"news", timeout=TIMEOUT)
        sub.subscribe(b"newsletter")
        sub.subscribe(b"weathe")
        self.assertEqual(await paris, b"weathe")
        self.assertEqual(xpub.activeSubscriptions, {b"newsletter", b"weathe"})
        self.assertNoResult(news)
        sub.subscribe(b"news\0")  # exactly the tag b"news"
        self.assertEqual(await news, b"news\0")

    async def test_alreadySubscribed(self) -> None:
        """When a subscription already matches, the Deferred has fired."""
        xpub, address = self.listen(XPublisher)
        sub = ZmqSubConnection(self.factory, connect(address))
        sub.subscribe(b"")
        self.assertEqual(await self.wait(xpub.whenSubscribed(b"anything")), b"")
        self.assertEqual(
            self.successResultOf(xpub.whenSubscribed("text tag", timeout=1)), b""
        )
        self.assertEqual(self.successResultOf(xpub.whenSubscribed(b"")), b"")

    async def test_timeout(self) -> None:
        xpub, _ = self.listen(XPublisher)
        await self.assertFailure(
            xpub.whenSubscribed(b"x", timeout=0.05), defer.TimeoutError
        )

    async def test_cancel(self) -> None:
        """A cancelled Deferred is forgotten; the next subscription fires the others."""
        xpub, address = self.listen(XPublisher)
        cancelled = xpub.whenSubscribed(b"x")
        waiting = xpub.whenSubscribed(b"x", timeout=TIMEOUT)
        cancelled.cancel()
        self.failureResultOf(cancelled, CancelledError)
        ZmqSubConnection(self.factory, connect(address)).subscribe(b"x")
        self.assertEqual(await waiting, b"x")

    async def test_unsubscribeBookkeeping(self) -> None:
        """
        activeSubscriptions holds a prefix while some subscriber does: it
        goes when the last one unsubscribes or leaves; whenSubscribed then
        waits again.
        """
        xpub, address = self.listen(XPublisher)
        first = ZmqSubConnection(self.factory, connect(address))
        second = ZmqSubConnection(self.factory, connect(address))
        first.subscribe(b"a")
        first.subscribe(b"first\0")
        second.subscribe(b"a")
        second.subscribe(b"second\0")
        # A subscriber's subscriptions arrive in order: once its own tag
        # is there, its b"a" is too (libzmq passes only the first b"a" on).
        await self.wait(
            gatherResults(
                [xpub.whenSubscribed(b"first"), xpub.whenSubscribed(b"second")]
            )
        )
        self.assertEqual(xpub.activeSubscriptions, {b"a", b"first\0", b"second\0"})
        first.unsubscribe(b"a")
        first.unsubscribe(b"first\0")
        await self.wait(xpub.waitForSubscription(b"first\0", False))
        self.assertEqual(xpub.activeSubscriptions, {b"a", b"second\0"})
        second.shutdown()  # leaving unsubscribes from everything
        await self.wait(xpub.waitForSubscription(b"second\0", False))
        await self.wait(xpub.waitForSubscription(b"a", False))
        self.assertEqual(xpub.activeSubscriptions, set())
        again = xpub.whenSubscribed(b"a", timeout=TIMEOUT)
        self.assertNoResult(again)
        first.subscribe(b"a")
        self.assertEqual(await again, b"a")

    async def test_verboseUnsubscribeBookkeeping(self) -> None:
        """
        With verboseSubscriptions, every subscription is counted; once all
        subscribers unsubscribed, the prefix is no longer active.
        """
        xpub, address = self.listen(XPublisher, verboseSubscriptions=True)
        subs = [ZmqSubConnection(self.factory, connect(address)) for _ in range(2)]
        for sub in subs:
            sub.subscribe(b"x")
        await self.wait(xpub.subscriptions.waitFor(2))
        for sub in subs:
            sub.unsubscribe(b"x")
        await self.wait(xpub.waitForSubscription(b"x", False))
        self.assertEqual(xpub.activeSubscriptions, set())
        pending = xpub.whenSubscribed(b"x")
        self.assertNoResult(pending)
        pending.cancel()
        self.failureResultOf(pending, CancelledError)

    async def test_subscriptionsNotTaken(self) -> None:
        """
        whenSubscribed works on an XPUB whose gotSubscription is not
        overridden, however many subscriptions nobody takes with
        receive().
        """
        xpub, address = self.listen(ZmqXPubConnection, receiveBufferSize=2)
        sub = ZmqSubConnection(self.factory, connect(address))
        for tag in (b"a", b"b", b"c"):
            sub.subscribe(tag)
        self.assertEqual(await xpub.whenSubscribed(b"c", timeout=2), b"c")

    async def test_shutdownFails(self) -> None:
        xpub, _ = self.listen(XPublisher)
        d = xpub.whenSubscribed(b"x")
        xpub.shutdown()
        await self.assertFailure(d, ZmqConnectionClosedError)

    async def test_firstMessageNeverLost(self) -> None:
        """
        A message published as soon as whenSubscribed fired reaches the
        new subscriber, round after round, whichever side binds.
        """
        for publisherBinds in (True, False):
            for round in range(10):
                tag = b"round-%d" % round
                if publisherBinds:
                    xpub, address = self.listen(ZmqXPubConnection)
                    sub = ZmqSubConnection(self.factory, connect(address))
                else:
                    sub, address = self.listen(ZmqSubConnection)
                    xpub = ZmqXPubConnection(self.factory, connect(address))
                sub.subscribe(tag)
                await xpub.whenSubscribed(tag, timeout=TIMEOUT)
                xpub.publish(b"first", tag)
                self.assertEqual(await self.wait(sub.receive()), (b"first", tag))
                sub.shutdown()
                xpub.shutdown()

    async def test_firstMessageReachesEverySubscriber(self) -> None:
        """
        With N subscribers to the same topic, wait for a tag of each
        subscriber's own, subscribed last: then the first message on the
        shared topic reaches all of them.
        """
        xpub, address = self.listen(ZmqXPubConnection)
        subscribers = []
        for index in range(5):
            sub = ZmqSubConnection(self.factory, connect(address))
            sub.subscribe(b"news")
            sub.subscribe(b"hello.%d\0" % index)
            subscribers.append(sub)
        await self.wait(
            gatherResults([xpub.whenSubscribed(b"hello.%d" % i) for i in range(5)])
        )
        xpub.publish(b"first", b"news")
        received = await self.wait(
            gatherResults([sub.receive() for sub in subscribers])
        )
        self.assertEqual(received, [(b"first", b"news")] * 5)


# ---------------------------------------------------------------------------
# One test class per transport


for _mixin, _transports in [
    (EventSequenceTests, ["tcp", "ipc"]),
    (WaitingTests, ["tcp", "ipc"]),
    (WhenSubscribedTests, ["tcp", "ipc", "inproc"]),
]:
    for _transport in _transports:
        _name = f"{_mixin.__name__}_{_transport}"
        _attributes: dict[str, Any] = {"transport": _transport, "__module__": __name__}
        if _transport == "ipc" and not zmq.has("ipc"):
            _attributes["skip"] = "libzmq has no ipc transport here"
        globals()[_name] = type(_name, (_mixin, unittest.TestCase), _attributes)
del _mixin, _transports, _transport, _name, _attributes

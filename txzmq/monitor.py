"""
Connection events: what libzmq's socket monitor reports, as typed events
on the reactor.

libzmq publishes a socket's connection events (connected, accepted,
disconnected, handshake succeeded or failed...) on an inproc PAIR socket;
a L{txzmq.ZmqConnection} with monitoring enabled reads that socket with
the same edge-triggered machinery as any other and hands each event, as
a L{ZmqEvent}, to its C{eventReceived} method and its observers.  On top
of them, L{PeerTracker} keeps count of the peers whose handshake
completed, for C{whenConnected()} and C{whenDisconnected()}.

inproc connections produce no events: libzmq reports only tcp, ipc and
other transports.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import zmq
from twisted.internet.defer import Deferred, succeed
from zmq.utils.monitor import parse_monitor_message

from txzmq._framing import MalformedMessage
from txzmq._waiters import Waiters

__all__ = [
    "HANDSHAKE_FAILURES",
    "PeerChange",
    "PeerTracker",
    "ZmqEvent",
    "decodeEvent",
    "describeFailure",
]

HANDSHAKE_FAILURES = frozenset(
    {
        zmq.Event.HANDSHAKE_FAILED_NO_DETAIL,
        zmq.Event.HANDSHAKE_FAILED_PROTOCOL,
        zmq.Event.HANDSHAKE_FAILED_AUTH,
    }
)
"""The events of a failed ZMTP or security handshake."""


class ZmqEvent(NamedTuple):
    """
    One event of a socket's monitor.

    @ivar kind: the C{zmq.Event} (C{zmq.Event.CONNECTED}, ...).
    @ivar endpoint: the address the event is about.
    @ivar value: the event's value: a file descriptor, an errno, a
        reconnect interval, a ZMTP protocol error or a ZAP status code,
        depending on C{kind}.
    """

    kind: zmq.Event
    endpoint: str
    value: int

    @property
    def failed(self) -> bool:
        """Whether the event reports a failure (bind, accept, handshake...)."""
        return self.kind in _FAILURES

    @property
    def reason(self) -> str:
        """A human description of a failure, or C{""}."""
        return describeFailure(self.kind, self.value)

    def __str__(self) -> str:
        text = f"{(self.kind.name or str(int(self.kind))).lower()} {self.endpoint}"
        reason = self.reason
        return f"{text}: {reason}" if reason else text


_FAILURES = HANDSHAKE_FAILURES | {
    zmq.Event.BIND_FAILED,
    zmq.Event.ACCEPT_FAILED,
    zmq.Event.CLOSE_FAILED,
}

_PROTOCOL_ERRORS = {
    getattr(zmq, name): name.removeprefix("PROTOCOL_ERROR_").replace("_", " ").lower()
    for name in dir(zmq)
    if name.startswith("PROTOCOL_ERROR_") and isinstance(getattr(zmq, name), int)
}


def describeFailure(kind: zmq.Event, value: int) -> str:
    """
    Say why an event is a failure: an errno for bind, accept and close
    failures, the ZMTP protocol error or the ZAP status code of a failed
    handshake.  C{""} for an event that is not a failure.
    """
    if kind in (
        zmq.Event.BIND_FAILED,
        zmq.Event.ACCEPT_FAILED,
        zmq.Event.CLOSE_FAILED,
        zmq.Event.HANDSHAKE_FAILED_NO_DETAIL,
    ):
        return zmq.strerror(value) if value else "no detail"
    if kind == zmq.Event.HANDSHAKE_FAILED_PROTOCOL:
        return "protocol error: " + _PROTOCOL_ERRORS.get(value, f"code {value:#x}")
    if kind == zmq.Event.HANDSHAKE_FAILED_AUTH:
        return f"authentication refused (ZAP status {value})"
    return ""


def decodeEvent(frames: Sequence[bytes]) -> ZmqEvent:
    """
    Decode a message of a monitor socket, with pyzmq's parser (which
    checks its shape).

    @raise MalformedMessage: when it is not a monitor event: not two
        frames of the right sizes, or not exactly one known event.
    """
    try:
        parsed = parse_monitor_message(list(frames))
    except (RuntimeError, ValueError) as e:
        raise MalformedMessage(f"not a monitor event: {e}") from None
    # pyzmq passes the id and the value through the zmq.Event flag type,
    # which folds unknown bits and negative values: take the plain ints.
    eventId, value = struct.unpack("=hi", frames[0])
    if eventId <= 0 or eventId & (eventId - 1) or eventId != int(parsed["event"]):
        raise MalformedMessage(f"not a monitor event: unknown event id {eventId}")
    try:
        kind = zmq.Event(eventId)
    except ValueError:
        raise MalformedMessage(
            f"not a monitor event: unknown event id {eventId}"
        ) from None
    if kind.name is None:
        raise MalformedMessage(f"not a monitor event: unknown event id {eventId}")
    endpoint: object = parsed["endpoint"]
    if isinstance(endpoint, bytes):
        endpoint = endpoint.decode("utf-8", "replace")
    return ZmqEvent(kind, str(endpoint), value)


class PeerChange(NamedTuple):
    """What an event means for the peers: see L{PeerTracker.update}."""

    change: str | None
    """C{"connected"}, C{"disconnected"} or None."""
    fire: Callable[[], None] | None
    """Fires the Deferreds waiting for this change, if any."""


class PeerTracker:
    """
    Counts connected peers from monitor events, and fires the Deferreds
    waiting for a peer to connect or disconnect.

    A peer counts once its handshake succeeded, until it disconnects.
    """

    def __init__(self) -> None:
        self.peers: dict[str, int] = {}
        """Connected peers per endpoint."""
        self._failures: dict[str, int] = {}
        """Failed handshakes per endpoint whose disconnection is to come."""
        self._connectWaiters: Waiters[str | None, ZmqEvent | None] = Waiters()
        """Keyed by the endpoint they wait for, or None for any."""
        self._disconnectWaiters: Waiters[None, ZmqEvent] = Waiters()

    @property
    def connected(self) -> int:
        """The number of connected peers."""
        return sum(self.peers.values())

    def isConnected(self, endpoint: str | None = None) -> bool:
        """Whether a peer is connected (at C{endpoint}, if given)."""
        if endpoint is None:
            return self.connected > 0
        return self.peers.get(endpoint, 0) > 0

    def whenConnected(self, endpoint: str | None = None) -> Deferred[ZmqEvent | None]:
        """
        A Deferred firing when a peer is connected (at C{endpoint}):
        at once with None if one is, else with its handshake event.
        """
        if self.isConnected(endpoint):
            return succeed(None)
        return self._connectWaiters.wait(endpoint)

    def whenDisconnected(self) -> Deferred[ZmqEvent]:
        """A Deferred firing with the next disconnection event."""
        return self._disconnectWaiters.wait(None)

    def update(self, event: ZmqEvent) -> PeerChange:
        """
        Take an event into account.

        A DISCONNECTED event that ends a connection whose handshake failed
        (a refused client, a bare TCP health check) is not a peer going
        away.

        @return: whether a peer connected or disconnected, and a function
            that fires the Deferreds the event resolves (to call after the
            connection's own callbacks).
        """
        endpoint = event.endpoint
        if event.kind == zmq.Event.HANDSHAKE_SUCCEEDED:
            self.peers[endpoint] = self.peers.get(endpoint, 0) + 1
            ready = self._connectWaiters.take(lambda wanted: wanted in (None, endpoint))
            return PeerChange("connected", _firing(ready, event))
        if event.kind in HANDSHAKE_FAILURES:
            self._failures[endpoint] = self._failures.get(endpoint, 0) + 1
            return PeerChange(None, None)
        if event.kind != zmq.Event.DISCONNECTED:
            return PeerChange(None, None)
        failures = self._failures.get(endpoint, 0)
        if failures:
            if failures > 1:
                self._failures[endpoint] = failures - 1
            else:
                del self._failures[endpoint]
            return PeerChange(None, None)
        count = self.peers.get(endpoint, 0)
        if count > 1:
            self.peers[endpoint] = count - 1
        else:
            self.peers.pop(endpoint, None)
        gone = self._disconnectWaiters.take(lambda _: True)
        return PeerChange("disconnected", _firing(gone, event))

    def reset(self, error: Callable[[], BaseException]) -> None:
        """
        Forget every count (monitoring stopped: nothing is known any more)
        and fail the waiting Deferreds with C{error()}.
        """
        self.peers.clear()
        self._failures.clear()
        self.fail(error)

    def fail(self, error: Callable[[], BaseException]) -> None:
        """Fail every waiting Deferred (the connection is gone)."""
        self._connectWaiters.fail(error)
        self._disconnectWaiters.fail(error)


def _firing(
    deferreds: Sequence[Deferred[Any]], event: ZmqEvent
) -> Callable[[], None] | None:
    if not deferreds:
        return None

    def fire() -> None:
        for d in deferreds:
            d.callback(event)

    return fire

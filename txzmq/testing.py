"""
Helpers for unit-testing code that uses txzmq, without real sockets.

A L{FakeFactory} makes connections whose ZeroMQ socket is a
L{FakeSocket}: the connection classes run their real code (framing,
request ids, topics, flow control, callbacks) on a
C{MemoryReactorClock}, while the test sees what was sent and delivers
what a peer would send::

    from txzmq.testing import FakeFactory

    class RelayTests(SynchronousTestCase):
        def test_relay(self):
            factory = FakeFactory()
            relay = Relay(factory, "bind:tcp://*:5555")
            factory.deliver(relay, [b"hello"])
            self.assertEqual(factory.sent(relay.output), [[b"HELLO"]])

Request/reply: the frames a REQ connection sent include its request id,
so a reply is delivered as C{[requestId, b"", *parts]}; L{FakeFactory.reply}
does that.  Timeouts run on C{factory.reactor.advance(seconds)}.

The fake socket has no connection events (C{enableMonitor} raises
C{NotImplementedError}) and no security.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from typing import Any

import zmq
from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import MemoryReactorClock

from txzmq.connection import ZmqConnection
from txzmq.errors import ZmqConnectionClosedError
from txzmq.factory import ZmqFactory

__all__ = ["FakeContext", "FakeFactory", "FakeFrame", "FakeSocket"]

_fds = itertools.count(10_000)
_ports = itertools.count(40_000)


class FakeFrame:
    """A received frame, as C{recv(copy=False)} returns it."""

    __slots__ = ("bytes", "more")

    def __init__(self, data: bytes, more: bool) -> None:
        self.bytes = data
        self.more = more

    @property
    def buffer(self) -> memoryview:
        return memoryview(self.bytes)

    def __len__(self) -> int:
        return len(self.bytes)


class FakeSocket:
    """
    Stands in for a C{zmq.Socket}: records sent messages, hands out
    delivered ones.

    @ivar socketType: the ZeroMQ socket type.
    @ivar sentMessages: every whole message sent, as lists of bytes.
    @ivar incoming: messages waiting to be received.
    @ivar options: socket options set, by option number.
    @ivar bound: addresses bound, as given (C{LAST_ENDPOINT} resolves
        C{*} hosts and ports, as libzmq does).
    @ivar connected: addresses connected.
    @ivar room: how many more messages it takes before sends fail with
        C{zmq.Again} (None: unlimited), to test high-water-mark handling.
    @ivar closed: whether C{close()} was called.
    @ivar subscriptions: the SUB subscriptions held, in order.
    """

    def __init__(self, socketType: int) -> None:
        self.socketType = self.type = socketType
        self.sentMessages: list[list[bytes]] = []
        self.incoming: deque[list[bytes]] = deque()
        self.options: dict[int, Any] = {}
        self.bound: list[str] = []
        self.connected: list[str] = []
        self.room: int | None = None
        self.closed = False
        self.subscriptions: list[bytes] = []
        self._last = ""
        self._fd = next(_fds)
        self._partial: list[bytes] = []
        self._frames: deque[FakeFrame] = deque()

    # Options

    def set(self, option: int, value: Any) -> None:
        self._checkOpen()
        self.options[option] = value
        if option == zmq.SUBSCRIBE:
            self.subscriptions.append(value)
        elif option == zmq.UNSUBSCRIBE and value in self.subscriptions:
            self.subscriptions.remove(value)

    setsockopt = set

    def get(self, option: int) -> Any:
        self._checkOpen()
        if option == zmq.FD:
            return self._fd
        if option == zmq.EVENTS:
            events = 0
            if self._frames or self.incoming:
                events |= zmq.POLLIN
            if self.room is None or self.room > 0:
                events |= zmq.POLLOUT
            return events
        if option == zmq.LAST_ENDPOINT:
            return self._last.encode()
        if option == zmq.TYPE:
            return self.socketType
        return self.options.get(option, 0)

    getsockopt = get

    def getsockopt_string(self, option: int) -> str:
        value = self.get(option)
        return value.decode() if isinstance(value, bytes) else str(value)

    def subscribe(self, topic: bytes) -> None:
        self.set(zmq.SUBSCRIBE, topic)

    # Endpoints

    def bind(self, address: str) -> None:
        self._checkOpen()
        self.bound.append(address)
        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://") :].rpartition(":")
            if host == "*":
                host = "0.0.0.0"
            if port == "*":
                port = str(next(_ports))
            address = f"tcp://{host}:{port}"
        self._last = address

    def connect(self, address: str) -> None:
        self._checkOpen()
        self.connected.append(address)
        self._last = address

    def monitor(self, address: str | None, events: int = 0) -> None:
        raise NotImplementedError("FakeSocket has no connection events")

    def disable_monitor(self) -> None:
        pass

    def close(self, linger: int | None = None) -> None:
        self.closed = True

    # Messages

    def send(self, data: Any, flags: int = 0, copy: bool = True) -> None:
        self._checkOpen()
        if not self._partial and self.room is not None:
            if self.room <= 0:
                raise zmq.Again()
        frame = data.bytes if isinstance(data, (zmq.Frame, FakeFrame)) else bytes(data)
        self._partial.append(frame)
        if not flags & zmq.SNDMORE:
            message, self._partial = self._partial, []
            self.sentMessages.append(message)
            if self.room is not None:
                self.room -= 1

    def send_multipart(self, frames: Sequence[Any], flags: int = 0) -> None:
        for index, frame in enumerate(frames):
            more = zmq.SNDMORE if index < len(frames) - 1 else 0
            self.send(frame, flags | more)

    def recv(self, flags: int = 0, copy: bool = True) -> Any:
        self._checkOpen()
        if not self._frames:
            if not self.incoming:
                raise zmq.Again()
            message = self.incoming.popleft()
            last = len(message) - 1
            self._frames.extend(
                FakeFrame(frame, index < last) for index, frame in enumerate(message)
            )
        frame = self._frames.popleft()
        return frame if not copy else frame.bytes

    def recv_multipart(self, flags: int = 0) -> list[bytes]:
        message = [self.recv(flags, copy=False)]
        while message[-1].more:
            message.append(self.recv(flags, copy=False))
        return [frame.bytes for frame in message]

    def _checkOpen(self) -> None:
        if self.closed:
            raise zmq.ZMQError(zmq.ENOTSOCK)


class FakeContext:
    """Stands in for a C{zmq.Context}: makes L{FakeSocket}s."""

    def __init__(self) -> None:
        self.sockets: list[FakeSocket] = []
        self.terminated = False

    def socket(self, socketType: int) -> FakeSocket:
        socket = FakeSocket(socketType)
        self.sockets.append(socket)
        return socket

    def term(self) -> None:
        self.terminated = True


class _MemoryReactorClock(MemoryReactorClock):
    """A MemoryReactorClock whose system event triggers can be removed."""

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Any, *args: Any, **kw: Any
    ) -> Any:
        trigger = (callable, args, kw)
        self.triggers.setdefault(phase, {}).setdefault(eventType, []).append(trigger)
        return (phase, eventType, trigger)

    def removeSystemEventTrigger(self, triggerID: Any) -> None:
        phase, eventType, trigger = triggerID
        self.triggers[phase][eventType].remove(trigger)


class FakeFactory(ZmqFactory):
    """
    A L{ZmqFactory} whose connections use L{FakeSocket}s, on a
    C{MemoryReactorClock} (C{factory.reactor}) unless given a reactor.
    """

    def __init__(
        self,
        reactor: Any = None,
        *,
        ioThreads: int | None = None,
        lingerPeriod: int | None = None,
    ) -> None:
        """
        @param reactor: a fake reactor providing C{IReactorFDSet} and
            C{IReactorTime}, such as C{MemoryReactorClock} (the default);
            a real reactor cannot watch fake sockets.
        """
        if reactor is None:
            reactor = _MemoryReactorClock()
        elif not isinstance(reactor, MemoryReactorClock):
            raise TypeError(
                "FakeFactory needs a fake reactor such as MemoryReactorClock: "
                "a real reactor cannot watch fake sockets"
            )
        super().__init__(reactor, ioThreads=ioThreads, lingerPeriod=lingerPeriod)

    def __repr__(self) -> str:
        return "FakeFactory()"

    def terminate(self) -> Deferred[None]:
        """Shut down at once: a fake context never blocks."""
        self.shutdown()
        return succeed(None)

    def _newContext(self) -> Any:
        return FakeContext()

    def deliver(self, connection: ZmqConnection, *messages: Sequence[bytes]) -> None:
        """
        Make C{messages} (each a list of frames, as the peer sent them)
        arrive at C{connection}, and let it read them now, as when the
        reactor sees its descriptor readable.
        """
        socket = _fakeSocket(connection)
        for message in messages:
            if (
                isinstance(message, (bytes, str))
                or not message
                or not all(isinstance(frame, bytes) for frame in message)
            ):
                raise TypeError(
                    "each message must be a non-empty list of bytes frames, "
                    f"not {message!r}"
                )
        if connection.closed:
            raise ZmqConnectionClosedError(f"{connection!r} has been shut down")
        if not connection._canReceive:
            raise TypeError(f"{type(connection).__name__} does not receive messages")
        socket.incoming.extend(list(message) for message in messages)
        connection.doRead()

    def sent(self, connection: ZmqConnection) -> list[list[bytes]]:
        """Every message C{connection} handed to its socket, oldest first."""
        return list(_fakeSocket(connection).sentMessages)

    def reply(self, connection: ZmqConnection, *parts: bytes) -> None:
        """
        Deliver a reply to the oldest request of a REQ connection that has
        no reply yet (requests are matched in the order they were sent).
        """
        socket = _fakeSocket(connection)
        answered = getattr(socket, "_answered", 0)
        requests = socket.sentMessages
        if answered >= len(requests):
            raise ValueError("every request sent has been answered already")
        requestId = requests[answered][0]
        self.deliver(connection, [requestId, b"", *parts])
        socket._answered = answered + 1  # type: ignore[attr-defined]

    def setRoom(self, connection: ZmqConnection, room: int | None) -> None:
        """
        Let C{connection}'s socket take C{room} more messages before it
        behaves as at its high-water mark (None: unlimited), then let the
        connection act on the change, as when the descriptor signals.
        """
        _fakeSocket(connection).room = room
        connection.doRead()


def _fakeSocket(connection: ZmqConnection) -> FakeSocket:
    socket = connection.socket
    if not isinstance(socket, FakeSocket):
        raise TypeError(
            f"{connection!r} does not use a FakeSocket (not from a FakeFactory)"
        )
    return socket

"""
ZeroMQ connections: one ZeroMQ socket driven by a Twisted reactor.

The reactor watches the socket's C{ZMQ_FD}.  That descriptor is
edge-triggered and shared by reads and writes: it signals that libzmq's
state I{changed}, not that a message waits, and any operation on the
socket (a send, a receive, reading C{ZMQ_EVENTS}) may consume the edge.
So after every pass that touches the socket, the connection reads until
C{EVENTS} shows no C{POLLIN}, and after every send it schedules one more
pass on the next reactor turn.  Reading is bounded per pass
(C{readBatchSize}); what is left is read on the next turn, so a flood on
one socket never starves timers or other connections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast

import zmq
from twisted.internet.interfaces import (
    IDelayedCall,
    IFileDescriptor,
    ILoggingContext,
    IReactorFDSet,
    IReadDescriptor,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txzmq._framing import toFrames
from txzmq._options import (
    SOCKET_OPTIONS,
    SocketOption,
    Validator,
    checkSettings,
    positiveInt,
    socketOptionCalls,
)
from txzmq.errors import (
    ZmqConnectionClosedError,
    ZmqEndpointError,
    ZmqWouldBlockError,
)

if TYPE_CHECKING:
    from txzmq.factory import ZmqFactory

__all__ = ["ZmqConnection", "ZmqEndpoint", "ZmqEndpointType"]


class ZmqEndpointType:
    """
    How a connection attaches to an address: it either binds (listens)
    or connects.
    """

    bind = "bind"
    """Bind: listen for peers at the address."""

    connect = "connect"
    """Connect to a peer listening at the address."""


_ENDPOINT_TYPES = (ZmqEndpointType.bind, ZmqEndpointType.connect)


class ZmqEndpoint(NamedTuple):
    """
    A ZeroMQ address and whether to bind or connect to it.

    @ivar type: L{ZmqEndpointType.bind} or L{ZmqEndpointType.connect}.
    @ivar address: a ZeroMQ address such as C{"tcp://127.0.0.1:5555"},
        C{"ipc:///tmp/sock"} or C{"inproc://name"}.
    """

    type: str
    address: str


def _checkEndpoint(endpoint: object) -> ZmqEndpoint:
    if not isinstance(endpoint, tuple) or len(endpoint) != 2:
        raise TypeError(
            "an endpoint must be a ZmqEndpoint(type, address), "
            f"not {type(endpoint).__name__}"
        )
    kind, address = endpoint
    if kind not in _ENDPOINT_TYPES:
        raise ValueError(
            f"unknown endpoint type {kind!r}; use ZmqEndpointType.bind "
            "or ZmqEndpointType.connect"
        )
    if not isinstance(address, str):
        raise TypeError(f"endpoint address must be str, not {type(address).__name__}")
    return ZmqEndpoint(kind, address)


@implementer(IReadDescriptor, IFileDescriptor, ILoggingContext)
class ZmqConnection:
    """
    A ZeroMQ socket whose events are delivered by the reactor.

    Use one of the pattern subclasses (L{txzmq.ZmqPushConnection},
    L{txzmq.ZmqSubConnection}, ...) or subclass this one, set
    C{socketType} and override L{messageReceived}.

    Settings are class attributes (override them in a subclass, as in
    txZMQ) and can also be passed per connection as keyword arguments or
    changed later with L{setSocketOptions}:

      - C{highWaterMark}: send and receive high-water mark, in messages
        (default 1000; 0 means unlimited, as txZMQ 1.0's default did);
        C{sendHighWaterMark}/C{receiveHighWaterMark} set one side.
      - C{lingerPeriod}: milliseconds to keep unsent messages after
        L{shutdown} (default: the factory's).
      - C{multicastRate}, C{allowLoopbackMulticast}: PGM settings.
      - C{tcpKeepalive}, C{tcpKeepaliveCount}, C{tcpKeepaliveIdle},
        C{tcpKeepaliveInterval}: TCP keepalive (0 leaves the system
        default).
      - C{reconnectInterval}, C{reconnectIntervalMax}: milliseconds.
      - C{readBatchSize}: most messages delivered per reactor turn before
        yielding to other events (default 256).

    @ivar factory: the L{ZmqFactory} that owns the ZeroMQ context.
    @ivar socket: the C{zmq.Socket}.
    @ivar endpoints: the L{ZmqEndpoint}s bound or connected so far.
    @ivar identity: the socket identity given to the constructor, or None.
    @ivar fd: the socket's C{ZMQ_FD}, watched by the reactor.
    """

    socketType: ClassVar[int | None] = None

    highWaterMark: int | None = 1000
    sendHighWaterMark: int | None = None
    receiveHighWaterMark: int | None = None
    lingerPeriod: int | None = None
    multicastRate: int = 100
    allowLoopbackMulticast: bool = False
    tcpKeepalive: int = 0
    tcpKeepaliveCount: int = 0
    tcpKeepaliveIdle: int = 0
    tcpKeepaliveInterval: int = 0
    reconnectInterval: int = 100
    reconnectIntervalMax: int = 0
    readBatchSize: int = 256

    _socketOptions: ClassVar[Mapping[str, SocketOption]] = SOCKET_OPTIONS
    _extraSettings: ClassVar[Mapping[str, Validator]] = {"readBatchSize": positiveInt}
    _canReceive: ClassVar[bool] = True

    _log = Logger()

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | None = None,
        identity: bytes | None = None,
        **settings: Any,
    ) -> None:
        """
        Create the socket, apply the settings, and bind or connect to
        C{endpoint} if one is given (more can be added with
        L{addEndpoints}).

        Nothing is read from the socket, and so no callback runs, before
        the reactor's next turn: a subclass can finish its own
        C{__init__} after calling this one.

        @param factory: the factory owning the ZeroMQ context and reactor.
        @param endpoint: a first endpoint to bind or connect to.
        @param identity: the socket's routing identity (bytes).
        @param settings: per-connection settings; see the class docstring.
        @raise TypeError: for an unknown setting or a value of the wrong
            type, or a reactor that cannot watch file descriptors.
        @raise ValueError: for a bad endpoint type or value.
        @raise ZmqEndpointError: when binding or connecting fails; the
            socket is closed again.
        @raise ZmqConnectionClosedError: when the factory was shut down.
        """
        if self.socketType is None:
            raise TypeError(
                f"{type(self).__name__} has no socketType; use a pattern "
                "class such as ZmqPushConnection, or set socketType"
            )
        values = checkSettings(self._allowedSettings(), settings)
        if identity is not None:
            if not isinstance(identity, bytes):
                raise TypeError(
                    f"identity must be bytes, not {type(identity).__name__}"
                )
            if not 1 <= len(identity) <= 255:
                raise ValueError(
                    f"identity must be 1 to 255 bytes long, got {len(identity)}"
                )
        factory._checkOpen()
        reactor = factory.reactor
        if not IReactorFDSet.providedBy(reactor):
            raise TypeError(
                "txzmq needs a reactor that can watch file descriptors "
                "(IReactorFDSet: select, poll, epoll, kqueue or asyncio); "
                f"{type(reactor).__name__} cannot"
            )
        self.__dict__.update(values)
        self.factory = factory
        self.endpoints: list[ZmqEndpoint] = []
        self.identity = identity
        self._reactor: Any = reactor
        self._closed = False
        self._pass: IDelayedCall | None = None

        self.socket: zmq.Socket[bytes] = factory.context.socket(self.socketType)
        try:
            if self.lingerPeriod is None:
                self.socket.set(zmq.LINGER, factory.lingerPeriod)
            self._applySocketOptions(
                {name: getattr(self, name) for name in self._socketOptions}
            )
            if identity is not None:
                self.socket.set(zmq.IDENTITY, identity)
            self.fd: int = self.socket.get(zmq.FD)
            if endpoint is not None:
                self.addEndpoints([endpoint])
        except BaseException:
            self.socket.close(linger=0)
            self._closed = True
            raise

        factory.connections.add(self)
        reactor.addReader(self)
        # libzmq may hold events from bind/connect (inproc especially)
        # without signalling the FD: look once, on the next turn.
        self._schedulePass()

    @classmethod
    def _allowedSettings(cls) -> dict[str, Validator]:
        allowed = {name: option.validate for name, option in cls._socketOptions.items()}
        allowed.update(cls._extraSettings)
        return allowed

    def _applySocketOptions(
        self, values: Mapping[str, object], explicit: bool = False
    ) -> None:
        calls = socketOptionCalls(self._socketOptions, values, explicit)
        for option, value in calls:
            self.socket.set(option, cast(Any, value))

    def setSocketOptions(self, **settings: Any) -> None:
        """
        Change settings of this connection (the names listed in the class
        docstring).

        High-water marks apply to peers connected after the change, as in
        libzmq.  Options without a name here can be set on C{self.socket}
        directly.
        """
        self._checkOpen()
        values = checkSettings(self._allowedSettings(), settings)
        self._applySocketOptions(values, explicit=True)
        self.__dict__.update(values)

    def addEndpoints(self, endpoints: Iterable[ZmqEndpoint]) -> None:
        """
        Bind or connect to more endpoints.

        A connection may have many endpoints, mixing transports (tcp,
        ipc, inproc...) and types (bind or connect).  Every endpoint is
        checked before any is used.

        @raise ValueError: for an unknown endpoint type.
        @raise TypeError: for something that is not an endpoint.
        @raise ZmqEndpointError: when libzmq refuses an address (invalid,
            or in use); the endpoints before it stay attached.
        """
        self._checkOpen()
        if (
            isinstance(endpoints, tuple)
            and len(endpoints) == 2
            and isinstance(endpoints[0], str)
        ):
            raise TypeError(
                "addEndpoints() takes a list of endpoints, not one endpoint"
            )
        checked = [_checkEndpoint(endpoint) for endpoint in endpoints]
        for endpoint in checked:
            attach = (
                self.socket.bind if endpoint.type == "bind" else self.socket.connect
            )
            try:
                attach(endpoint.address)
            except zmq.ZMQError as e:
                raise ZmqEndpointError(
                    e.errno or zmq.EINVAL,
                    f"cannot {endpoint.type} to {endpoint.address!r}: {e}",
                ) from e
            self.endpoints.append(endpoint)
        self._schedulePass()

    def shutdown(self) -> None:
        """
        Close the connection and its ZeroMQ socket.

        Unsent messages are kept for the linger period by libzmq.  Calling
        it again does nothing.
        """
        if self._closed:
            return
        if self._pass is not None:
            self._pass.cancel()
            self._pass = None
        self._reactor.removeReader(self)
        self._closed = True
        self.factory.connections.discard(self)
        self.socket.close()

    @property
    def closed(self) -> bool:
        """True once L{shutdown} has been called."""
        return self._closed

    def _checkOpen(self) -> None:
        if self._closed:
            raise ZmqConnectionClosedError(
                f"{type(self).__name__} has been shut down; create a new connection"
            )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.factory!r}, {self.endpoints!r})"

    # IFileDescriptor / IReadDescriptor / ILoggingContext

    def fileno(self) -> int:
        """The descriptor the reactor watches, or -1 once shut down."""
        return -1 if self._closed else self.fd

    def logPrefix(self) -> str:
        """Prefix for log lines about this connection."""
        return "ZMQ"

    def connectionLost(self, reason: Failure) -> None:
        """
        The reactor dropped this descriptor (for example because the
        reactor is shutting down): shut the connection down.
        """
        self.shutdown()

    def doRead(self) -> None:
        """
        The reactor saw the descriptor readable: process what libzmq has.
        """
        if self._pass is not None:
            self._pass.cancel()
            self._pass = None
        self._doPass()

    # The edge-triggered machinery

    def _schedulePass(self) -> None:
        """Look at the socket again on the next reactor turn (once)."""
        if self._pass is None and not self._closed:
            self._pass = self._reactor.callLater(0, self._scheduledPass)

    def _scheduledPass(self) -> None:
        self._pass = None
        self._doPass()

    def _doPass(self) -> None:
        """
        Deliver up to C{readBatchSize} messages, then leave the socket in a
        state where the FD will signal again: either C{EVENTS} showed no
        C{POLLIN}, or another pass is scheduled.
        """
        if self._closed:
            return
        socket = self.socket
        if not self._canReceive:
            # Processes libzmq's pending commands and re-arms the FD.
            socket.get(zmq.EVENTS)
            return
        recv = socket.recv_multipart
        budget = self.readBatchSize
        while True:
            if budget <= 0:
                self._schedulePass()
                return
            try:
                message = recv(zmq.NOBLOCK)
            except zmq.Again:
                if cast(int, socket.get(zmq.EVENTS)) & zmq.POLLIN:
                    continue
                return
            except zmq.ZMQError as e:
                self._log.error(
                    "Receiving on {connection!r} failed ({error}); shutting it down",
                    connection=self,
                    error=e,
                )
                self.shutdown()
                return
            budget -= 1
            try:
                self.messageReceived(message)
            except Exception:
                self._log.failure(
                    "Unhandled error delivering a message to {connection!r}",
                    connection=self,
                )
            if self._closed:
                return

    # Sending and receiving

    def send(self, message: Any) -> None:
        """
        Send a message now.

        @param message: one frame (bytes) or a multipart message (a list
            of bytes, one per frame).  Every frame is checked before any is
            sent, so a bad frame never leaves half a message on the wire.
        @raise TypeError: when C{message} is not bytes or a list of bytes.
        @raise ValueError: for an empty list.
        @raise ZmqWouldBlockError: (a C{zmq.Again}) when libzmq cannot take
            the message now: the high-water mark is reached or there is no
            peer.  Nothing was sent.
        @raise ZmqConnectionClosedError: after L{shutdown}.
        """
        self._checkOpen()
        frames = toFrames(message)
        try:
            if len(frames) == 1:
                self.socket.send(frames[0], zmq.NOBLOCK)
            else:
                self.socket.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            raise ZmqWouldBlockError(
                f"{type(self).__name__} cannot send now: the high-water mark "
                "is reached or no peer is connected; nothing was sent"
            ) from None
        if self._canReceive:
            # The send may have consumed the edge that announced incoming
            # messages: look again on the next turn.
            self._schedulePass()

    def messageReceived(self, message: list[bytes]) -> None:
        """
        Called with each complete message (a list of frames).

        Pattern classes override it to decode the message and call their
        own callback (C{gotMessage}, C{onPull}...).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override messageReceived()"
        )

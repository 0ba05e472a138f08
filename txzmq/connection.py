"""
ZeroMQ connections: one ZeroMQ socket driven by a Twisted reactor.

The reactor watches the socket's C{ZMQ_FD}.  That descriptor is
edge-triggered and shared by reads and writes: it signals that libzmq's
state I{changed}, not that a message waits, and any operation on the
socket (a send, a receive, reading C{ZMQ_EVENTS}) may consume the edge.
So every pass reads until C{EVENTS} shows no C{POLLIN} (reading
C{EVENTS} re-arms the descriptor), and every send outside a pass reads
C{EVENTS} too and schedules a pass on the next reactor turn when a
message waits.  Reading is bounded per pass
(C{readBatchSize}); what is left is read on the next turn, so a flood on
one socket never starves timers or other connections.

Flow control sits on the same passes.  Messages libzmq cannot take yet
(the socket is at its high-water mark) wait in a bounded outgoing queue
that each pass flushes first; a pass that leaves it non-empty has read
C{EVENTS} last, so the FD signals when C{POLLOUT} comes back.  Reading
stops while the connection is paused as a producer or its receive
buffer is full; passes then still read C{EVENTS}, which re-arms the FD.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import zmq
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IFileDescriptor,
    ILoggingContext,
    IProducer,
    IPullProducer,
    IPushProducer,
    IReactorFDSet,
    IReadDescriptor,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txzmq._framing import (
    Frame,
    MalformedMessage,
    checkFrame,
    framesFromParts,
    toFrames,
)
from txzmq._mechanisms import Security, checkSecurity
from txzmq._options import (
    SOCKET_OPTIONS,
    SocketOption,
    Validator,
    checkSettings,
    nonNegativeInt,
    positiveInt,
    socketOptionCalls,
    validators,
)
from txzmq._queues import Outgoing, ReceiveBuffer, SendQueue
from txzmq.codec import Codec, checkCodec
from txzmq.endpoints import (
    ZmqEndpoint,
    ZmqEndpointType,
    attachEndpoint,
    checkEndpoint,
)
from txzmq.errors import (
    ZmqConnectionClosedError,
    ZmqMonitorStoppedError,
    ZmqWouldBlockError,
)
from txzmq.monitor import PeerTracker, ZmqEvent, decodeEvent

if TYPE_CHECKING:
    from txzmq.factory import ZmqFactory

__all__ = ["ZmqConnection", "ZmqEndpoint", "ZmqEndpointType"]


def _rawMethods(socket: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """
    The socket's C{send} and C{recv}: those of pyzmq's compiled backend
    when it is one (the Python layer above them costs a third of a small
    message's time and adds nothing for bytes), else its own.
    """
    backend = getattr(zmq.backend, "Socket", None)
    if backend is not None and isinstance(socket, backend):
        return backend.send.__get__(socket), backend.recv.__get__(socket)
    return socket.send, socket.recv


_T = TypeVar("_T")

# Plain ints: pyzmq's flag enums cost a Python call per operation.
_NOBLOCK = int(zmq.NOBLOCK)
_MORE = int(zmq.SNDMORE)
_NOBLOCK_MORE = _NOBLOCK | _MORE
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)


@implementer(
    IReadDescriptor, IFileDescriptor, ILoggingContext, IConsumer, IPushProducer
)
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
      - C{maxQueuedMessages}, C{maxQueuedBytes}: bounds of the outgoing
        queue of L{sendDeferred} (default 1000 messages, 64 MiB).
      - C{receiveBufferSize}: received messages kept for L{receive}
        before reading pauses (default 1000).
      - C{codec}: a L{txzmq.Codec} (such as L{txzmq.jsonCodec}) that the
        pattern methods apply to payload frames (default None: bytes).
      - C{security}: a L{txzmq.security} mechanism (C{CurveServer},
        C{CurveClient}, C{PlainServer}, C{PlainClient}); C{zapDomain}: the
        ZAP domain for the authenticator.  Both apply to later binds and
        connects.
      - C{monitorEvents}: connection events to monitor from the start
        (C{zmq.EVENT_ALL}, or a mask of C{zmq.EVENT_*}); default 0, off.
        See L{enableMonitor}.

    Flow control: L{sendDeferred} waits at the high-water mark instead of
    raising; a connection is an C{IConsumer} (L{registerProducer},
    L{write}) and an C{IPushProducer} (L{pauseProducing} stops reading).
    Callbacks that a subclass does not override keep their messages for
    L{receive} and C{async for}.

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
    maxQueuedMessages: int = 1000
    maxQueuedBytes: int = 64 * 1024 * 1024
    receiveBufferSize: int = 1000
    codec: Codec | None = None
    monitorEvents: int = 0
    security: Security | None = None
    zapDomain: bytes | None = None

    _socketOptions: ClassVar[Mapping[str, SocketOption]] = SOCKET_OPTIONS
    _extraSettings: ClassVar[Mapping[str, Validator]] = {
        "readBatchSize": positiveInt,
        "maxQueuedMessages": positiveInt,
        "maxQueuedBytes": positiveInt,
        "receiveBufferSize": positiveInt,
        "codec": checkCodec,
        "monitorEvents": nonNegativeInt,
        "security": checkSecurity,
    }
    _canReceive: ClassVar[bool] = True

    _log = Logger()

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint | str | None = None,
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
        @param endpoint: a first endpoint to bind or connect to: a
            L{ZmqEndpoint} or its string form, such as
            C{"bind:tcp://*:5555"}.
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
        self._inPass = False
        self._queue = SendQueue(
            self.maxQueuedMessages, self.maxQueuedBytes, self._queueDrained
        )
        self._buffer: ReceiveBuffer[Any] = ReceiveBuffer(self.receiveBufferSize)
        self._paused = False
        self._reading = self._canReceive
        self._producer: IProducer | None = None
        self._streaming = False
        self._producerPaused = False
        self._pullCall: IDelayedCall | None = None
        self._monitor: _MonitorReader | None = None
        self._eventObservers: list[Callable[[ZmqEvent], object]] = []
        self._peers = PeerTracker()

        self.socket: zmq.Socket[bytes] = factory.context.socket(self.socketType)
        self._send, self._recv = _rawMethods(self.socket)
        try:
            if self.lingerPeriod is None:
                self.socket.set(zmq.LINGER, factory.lingerPeriod)
            self._applySocketOptions(
                {name: getattr(self, name) for name in self._socketOptions}
            )
            if identity is not None:
                self.socket.set(zmq.IDENTITY, identity)
            if self.security is not None:
                self.security.apply(self.socket)
            self.fd: int = self.socket.get(zmq.FD)
            if self.monitorEvents:
                self.enableMonitor(self.monitorEvents)
            if endpoint is not None:
                self.addEndpoints([endpoint])
        except BaseException:
            self._stopMonitor()
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
        allowed = validators(cls._socketOptions)
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
        if values.get("security") is not None:
            cast(Security, values["security"]).apply(self.socket)
        self._queue.maxMessages = self.maxQueuedMessages
        self._queue.maxBytes = self.maxQueuedBytes
        self._buffer.bound = self.receiveBufferSize
        self._updateReading()
        if "monitorEvents" in values:
            if self.monitorEvents:
                self.enableMonitor(self.monitorEvents)
            else:
                self._stopMonitor()

    def addEndpoints(self, endpoints: Iterable[ZmqEndpoint | str]) -> None:
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
        checked = [checkEndpoint(endpoint) for endpoint in endpoints]
        for endpoint in checked:
            attachEndpoint(self.socket, endpoint.type, endpoint.address)
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
        if self._pullCall is not None:
            self._pullCall.cancel()
            self._pullCall = None
        self._reactor.removeReader(self)
        self._closed = True
        self._reading = False
        self.factory.connections.discard(self)
        self._peers.fail(
            lambda: ZmqConnectionClosedError(
                f"{type(self).__name__} was shut down while waiting for a peer"
            )
        )
        self._stopMonitor()
        self.socket.close()
        for entry in self._queue.drain():
            entry.deferred.errback(
                ZmqConnectionClosedError(
                    "the connection was shut down before the message could be sent"
                )
            )
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.stopProducing()
        self._buffer.close(
            lambda: ZmqConnectionClosedError(
                f"{type(self).__name__} has been shut down"
            )
        )

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
        Flush the outgoing queue, deliver up to C{readBatchSize} messages,
        then leave the socket in a state where the FD will signal again:
        C{EVENTS} was read last and showed nothing left to do, or another
        pass is scheduled.
        """
        if self._closed:
            return
        factory = self.factory
        factory._passDepth += 1
        self._inPass = True
        try:
            self._passBody()
        finally:
            self._inPass = False
            factory._passDepth -= 1
            if not factory._passDepth and factory._afterPasses:
                factory._endOfPasses()

    def _passBody(self) -> None:
        if self._queue:
            self._flush()
            if self._closed:
                return
        if not self._reading:
            # Processes libzmq's pending commands and re-arms the FD.
            self._readEvents()
            return
        # recv(copy=False) gives the "more" flag without a getsockopt call
        # per message: the cheapest way through pyzmq for small messages.
        recv = self._recv
        readEvents = self._readEvents
        deliver = self.messageReceived
        budget = self.readBatchSize
        first = True
        while True:
            if budget <= 0:
                self._schedulePass()
                return
            try:
                frame = recv(_NOBLOCK, False)
                message = [frame.bytes]
                while frame.more:
                    # The rest of a multipart message is already here.
                    frame = recv(0, False)
                    message.append(frame.bytes)
            except zmq.Again:
                if readEvents() & _POLLIN:
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
                deliver(message)
            except Exception:
                self._log.failure(
                    "Unhandled error delivering a message to {connection!r}",
                    connection=self,
                )
            if not self._reading:
                if not self._closed:
                    # Paused from a callback: the FD must still be re-armed.
                    self._schedulePass()
                return
            if first:
                # Most wake-ups bring one message: asking EVENTS is cheaper
                # than the zmq.Again of an empty recv.  A flood goes on
                # with plain recv calls.
                first = False
                if not readEvents() & _POLLIN:
                    return

    def _readEvents(self) -> int:
        """
        Read C{EVENTS} (which processes libzmq's commands and re-arms the
        FD); when it shows room for a queued message, a pass will send it.
        """
        events = cast(int, self.socket.get(_EVENTS))
        if self._queue and events & _POLLOUT:
            self._schedulePass()
        return events

    def _flush(self) -> None:
        """
        Hand queued messages to libzmq until it refuses one.  When it
        does, C{EVENTS} is read last: if it shows room already (the edge
        came between the refusal and the read), try once more, and past
        that let the next pass try.
        """
        queue = self._queue
        retried = False
        while queue:
            entry = queue.first()
            try:
                sent = self._sendNow(entry.frames)
            except zmq.ZMQError as e:
                queue.popFirst()
                entry.deferred.errback(e)
                continue
            if sent:
                queue.popFirst()
                entry.deferred.callback(None)
                if self._closed:
                    return
                continue
            if not cast(int, self.socket.get(_EVENTS)) & _POLLOUT:
                return
            if retried:
                self._schedulePass()
                return
            retried = True
        self._queueDrained()

    # Sending

    def _sendNow(self, frames: Sequence[Frame]) -> bool:
        """Give a whole message to libzmq; return False if it has no room."""
        send = self._send
        try:
            if len(frames) == 1:
                send(frames[0], _NOBLOCK)
                return True
            # libzmq takes a multipart message whole or not at all: only
            # the first frame can meet the high-water mark.
            send(frames[0], _NOBLOCK_MORE)
        except zmq.Again:
            return False
        last = len(frames) - 1
        for index in range(1, last):
            send(frames[index], _MORE)
        send(frames[last], 0)
        return True

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
            peer; or messages queued by L{sendDeferred} are still waiting
            (sending now would overtake them).  Nothing was sent.
        @raise ZmqConnectionClosedError: after L{shutdown}.
        """
        if type(message) is bytes and not self._queue and not self._closed:
            if not self._sendBytesNow(message):
                raise self._wouldBlock()
            return
        self._checkOpen()
        self._sendChecked(toFrames(message))

    def _sendBytesNow(self, message: bytes) -> bool:
        """
        The common case of L{send} and L{sendDeferred}, without building a
        list of frames: one frame, nothing queued, the connection open.
        Return False if libzmq has no room.
        """
        try:
            self._send(message, _NOBLOCK)
        except zmq.Again:
            return False
        if self._canReceive:
            self._afterSend()
        return True

    def _sendChecked(self, frames: list[Frame]) -> None:
        """L{send} for frames already checked."""
        if self._queue:
            raise ZmqWouldBlockError(
                f"{type(self).__name__} cannot send now: {len(self._queue)} "
                "messages queued by sendDeferred() are waiting; use "
                "sendDeferred() to send after them"
            )
        if not self._sendNow(frames):
            raise self._wouldBlock()
        self._afterSend()

    def _wouldBlock(self) -> ZmqWouldBlockError:
        return ZmqWouldBlockError(
            f"{type(self).__name__} cannot send now: the high-water mark "
            "is reached or no peer is connected; nothing was sent (use "
            "sendDeferred() to wait for room)"
        )

    def _afterSend(self) -> None:
        """
        A send may have consumed the edge that announced incoming
        messages: read C{EVENTS} (which re-arms the FD) and schedule a pass
        if there is something to read.  Within this connection's pass
        nothing is needed: the pass itself ends by reading C{EVENTS} or
        scheduling another.  Within another connection's pass (a relay, a
        device) the read waits for the end of the outermost pass, once
        however many messages were sent, still before the reactor polls.
        """
        if self._canReceive and not self._inPass:
            factory = self.factory
            if factory._passDepth:
                factory._afterPasses[self] = None
            else:
                self._checkEvents()

    def _checkEvents(self) -> None:
        """Read C{EVENTS} and schedule a pass if there is something to read."""
        if not self._closed and cast(int, self.socket.get(_EVENTS)) & _POLLIN:
            self._schedulePass()

    def sendDeferred(self, message: Any) -> Deferred[None]:
        """
        Send a message, waiting for room if the socket is at its
        high-water mark.

        Messages that cannot be sent at once wait in an outgoing queue, in
        order, and go out as soon as libzmq has room.  Cancelling the
        Deferred of a waiting message takes it out of the queue.

        @param message: as for L{send}: bytes or a list of bytes.
        @return: a Deferred that fires with None once libzmq has taken the
            whole message; it fails with L{ZmqConnectionClosedError} if
            the connection is shut down first.
        @raise ZmqQueueFullError: when the queue is at C{maxQueuedMessages}
            or C{maxQueuedBytes}; nothing was queued.
        """
        entry = self._sendOrQueueMessage(message)
        return succeed(None) if entry is None else entry.deferred

    def _sendOrQueueMessage(self, message: Any) -> Outgoing | None:
        """
        L{_sendOrQueue} for a message as L{sendDeferred} and L{write} take
        it, with send()'s fast path for one frame of bytes.
        """
        if type(message) is bytes:
            if not self._queue and not self._closed:
                if self._sendBytesNow(message):
                    return None
                return self._enqueue([message])
            frames: list[Frame] = [message]
        else:
            frames = toFrames(message)
        self._checkOpen()
        return self._sendOrQueue(frames)

    def _sendOrQueue(self, frames: list[Frame]) -> Outgoing | None:
        """
        Send checked frames now if nothing waits before them and libzmq
        has room (return None), else queue them (return the entry).
        """
        if not self._queue and self._sendNow(frames):
            self._afterSend()
            return None
        return self._enqueue(frames)

    def _enqueue(self, frames: list[Frame]) -> Outgoing:
        entry = self._queue.add(frames)
        # A pass flushes what it can and re-arms the FD for POLLOUT.
        self._schedulePass()
        self._pauseProducer()
        return entry

    def _pauseProducer(self) -> None:
        """Pause a registered streaming producer (messages are waiting)."""
        producer = self._producer
        if self._streaming and not self._producerPaused and producer is not None:
            self._producerPaused = True
            cast(IPushProducer, producer).pauseProducing()

    @property
    def queuedMessages(self) -> int:
        """Messages waiting in the outgoing queue."""
        return len(self._queue)

    @property
    def queuedBytes(self) -> int:
        """Bytes of the messages waiting in the outgoing queue."""
        return self._queue.bytes

    # Codec support for the pattern classes

    def _encodeParts(self, parts: Sequence[Any]) -> list[Frame]:
        """
        Payload frames for C{parts}: checked bytes, or values encoded with
        the codec.
        """
        if self.codec is None:
            return framesFromParts(parts)
        return [self._encodeValue(part) for part in parts]

    def _encodeValue(self, value: Any) -> Frame:
        """The frame of one value, encoded with the codec."""
        assert self.codec is not None
        return checkFrame(self.codec.encode(value), "encoded value")

    def _decodeParts(self, frames: Sequence[bytes]) -> list[Any] | None:
        """
        The values of received payload frames, or None (logged) when the
        codec cannot decode one: the caller drops the message.  Only for
        connections with a codec.
        """
        codec = self.codec
        assert codec is not None
        try:
            return [codec.decode(frame) for frame in frames]
        except Exception as e:
            self._log.warn(
                "Dropping a message on {connection!r} that {codec!r} cannot "
                "decode: {error}",
                connection=self,
                codec=codec,
                error=repr(e),
            )
            return None

    # IConsumer

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Let C{producer} write messages to this connection with L{write}.

        A streaming producer (C{IPushProducer}) is paused while messages
        wait in the outgoing queue and resumed when it is empty; a pull
        producer (C{IPullProducer}) is asked for a message, on a later
        reactor turn, whenever the queue is empty.

        @raise RuntimeError: when a producer is already registered.
        """
        self._checkOpen()
        if self._producer is not None:
            raise RuntimeError(
                f"{type(self).__name__} already has a producer "
                f"({self._producer!r}); unregister it first"
            )
        self._producer = producer
        self._streaming = bool(streaming)
        self._producerPaused = False
        if self._streaming:
            if self._queue:
                self._pauseProducer()
        else:
            self._askPullProducer()

    def unregisterProducer(self) -> None:
        """Forget the registered producer."""
        self._producer = None
        self._producerPaused = False
        if self._pullCall is not None:
            self._pullCall.cancel()
            self._pullCall = None

    def write(self, data: Any) -> None:
        """
        Send a message (bytes or a list of frames) for a registered
        producer: as L{sendDeferred}, without the Deferred.  A queued
        message that cannot be sent is logged.

        @raise ZmqQueueFullError: when the outgoing queue is at its bound
            (the producer did not pause).
        """
        entry = self._sendOrQueueMessage(data)
        if entry is not None:
            entry.deferred.addErrback(self._writeFailed)
        if not self._streaming and self._producer is not None:
            self._askPullProducer()

    def _writeFailed(self, failure: Failure) -> None:
        if not failure.check(ZmqConnectionClosedError):
            self._log.failure(
                "A message written to {connection!r} was not sent",
                failure,
                connection=self,
            )

    def _askPullProducer(self) -> None:
        if self._pullCall is None and not self._queue:
            self._pullCall = self._reactor.callLater(0, self._pullMore)

    def _pullMore(self) -> None:
        self._pullCall = None
        producer = self._producer
        if producer is not None and not self._streaming and not self._queue:
            cast(IPullProducer, producer).resumeProducing()

    def _queueDrained(self) -> None:
        """The outgoing queue became empty: let the producer go on."""
        producer = self._producer
        if producer is None:
            return
        if not self._streaming:
            self._askPullProducer()
        elif self._producerPaused:
            self._producerPaused = False
            cast(IPushProducer, producer).resumeProducing()

    # IPushProducer: reading

    def pauseProducing(self) -> None:
        """
        Stop reading from the socket.  Messages then pile up in libzmq up
        to the receive high-water mark, and past it the peers are pushed
        back (or, for PUB peers, drop messages).
        """
        self._paused = True
        self._updateReading()

    def resumeProducing(self) -> None:
        """Read again, starting with what arrived while paused."""
        self._paused = False
        self._updateReading()
        self._schedulePass()

    def stopProducing(self) -> None:
        """Shut the connection down."""
        self.shutdown()

    def _updateReading(self) -> None:
        reading = (
            self._canReceive
            and not self._closed
            and not self._paused
            and not self._buffer.full
        )
        if reading and not self._reading:
            self._schedulePass()
        self._reading = reading

    # Receiving

    def messageReceived(self, message: list[bytes]) -> None:
        """
        Called with each complete message (a list of frames).

        Pattern classes override it to decode the message and call their
        own callback (C{gotMessage}, C{onPull}...).  Not overridden, it
        keeps the message for L{receive}.
        """
        self._keep(message)

    def _keep(self, item: Any) -> None:
        """Keep a message for L{receive}; pause reading when full."""
        self._buffer.put(item)
        if self._buffer.full:
            self._updateReading()

    def receive(self) -> Deferred[Any]:
        """
        Take the next message received, pull-style.

        Messages are kept for C{receive()} when the pattern's callback
        (C{onPull}, C{gotMessage}, C{messageReceived}) is not overridden;
        the Deferred fires with what the callback would have been given:
        its one argument, or a tuple of its arguments.  Up to
        C{receiveBufferSize} messages are kept; then reading pauses until
        some are taken.  Cancelling the Deferred takes no message.

        @return: a Deferred firing with the next message; after
            L{shutdown}, with the messages still kept, then failing with
            L{ZmqConnectionClosedError}.
        @raise TypeError: for a connection that cannot receive (PUSH, PUB).
        """
        self._checkReceives()
        d = self._buffer.get()
        if not self._reading:
            self._updateReading()
        return d

    def __aiter__(self) -> ZmqConnection:
        """
        Iterate over received messages with C{async for}, in coroutines
        run by C{Deferred.fromCoroutine}; the iteration ends when the
        connection is shut down.
        """
        self._checkReceives()
        return self

    def _checkReceives(self) -> None:
        if not self._canReceive:
            raise TypeError(
                f"{type(self).__name__} only sends; it has nothing to receive"
            )

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except ZmqConnectionClosedError:
            raise StopAsyncIteration from None

    # Connection events

    def enableMonitor(self, events: int = zmq.EVENT_ALL) -> None:
        """
        Start receiving this socket's connection events (see
        L{txzmq.monitor}): each is passed to L{eventReceived} and to the
        observers added with L{addEventObserver}.

        Enable it before adding endpoints (or with the C{monitorEvents}
        setting) so that no early event is missed.  Enabling it again
        changes the events watched.

        @param events: C{zmq.EVENT_ALL} or a mask of C{zmq.EVENT_*}.
        """
        self._checkOpen()
        nonNegativeInt("events", events)
        self._stopMonitor()
        address = f"inproc://txzmq-monitor-{id(self):x}-{next(_monitorIds)}"
        self.socket.monitor(address, events)
        try:
            self._monitor = _MonitorReader(
                self.factory,
                ZmqEndpoint(ZmqEndpointType.connect, address),
                owner=self,
                highWaterMark=0,
            )
        except BaseException:
            self.socket.disable_monitor()
            raise

    def disableMonitor(self) -> None:
        """Stop receiving connection events."""
        self._checkOpen()
        self._stopMonitor()

    @property
    def monitoring(self) -> bool:
        """Whether connection events are being received."""
        return self._monitor is not None

    def _stopMonitor(self) -> None:
        """
        Stop monitoring: libzmq sends MONITOR_STOPPED, which is delivered
        (unless we are shutting down) before the monitor socket closes.
        Peer counts are forgotten and Deferreds waiting for peers fail.
        """
        reader, self._monitor = self._monitor, None
        if reader is None:
            return
        try:
            self.socket.disable_monitor()
        except zmq.ZMQError:
            pass
        if not self._closed:
            reader.drain()
        reader.shutdown()
        self._peers.reset(
            lambda: ZmqMonitorStoppedError(
                f"monitoring of {type(self).__name__} stopped before the event"
            )
        )

    def addEventObserver(self, observer: Callable[[ZmqEvent], object]) -> None:
        """Call C{observer(event)} with every connection event."""
        self._eventObservers.append(observer)

    def removeEventObserver(self, observer: Callable[[ZmqEvent], object]) -> None:
        """Stop calling an observer added with L{addEventObserver}."""
        self._eventObservers.remove(observer)

    def _eventArrived(self, frames: list[bytes]) -> None:
        event = decodeEvent(frames)
        if event.failed:
            self._log.warn("{connection!r}: {event}", connection=self, event=str(event))
        change, fire = self._peers.update(event)
        callbacks: list[Callable[[ZmqEvent], object]] = [self.eventReceived]
        callbacks.extend(self._eventObservers)
        if change == "connected":
            callbacks.append(self.peerConnected)
        elif change == "disconnected":
            callbacks.append(self.peerDisconnected)
        for deliver in callbacks:
            try:
                deliver(event)
            except Exception:
                self._log.failure(
                    "Unhandled error delivering {event} of {connection!r}",
                    event=str(event),
                    connection=self,
                )
        if fire is not None:
            fire()

    def eventReceived(self, event: ZmqEvent) -> None:
        """
        Called with each connection event while monitoring is enabled.
        Does nothing unless overridden.
        """

    def peerConnected(self, event: ZmqEvent) -> None:
        """
        Called when a peer's handshake succeeded (monitoring enabled).
        Does nothing unless overridden.
        """

    def peerDisconnected(self, event: ZmqEvent) -> None:
        """
        Called when a peer went away (monitoring enabled).  Does nothing
        unless overridden.
        """

    @property
    def connectedPeers(self) -> int:
        """Peers whose handshake succeeded and that are still connected."""
        return self._peers.connected

    def whenConnected(
        self, endpoint: str | None = None, timeout: float | None = None
    ) -> Deferred[ZmqEvent | None]:
        """
        A Deferred that fires once a peer is connected (its handshake
        completed), at C{endpoint} if given.

        Monitoring is enabled if it is not already (but an earlier
        connection then goes unseen: enable it first, or pass
        C{monitorEvents}).  inproc connections produce no events: for an
        inproc C{endpoint} the Deferred fires at once.

        @param endpoint: the address as given to bind or connect (a bound
            tcp port is reported resolved).
        @param timeout: seconds before it fails with
            C{twisted.internet.defer.TimeoutError}.
        @return: a Deferred firing with the handshake event, or None when
            a peer was already connected.
        """
        self._checkOpen()
        if endpoint is not None and endpoint.startswith("inproc://"):
            return succeed(None)
        self._ensureMonitor()
        return self._withTimeout(self._peers.whenConnected(endpoint), timeout)

    def whenDisconnected(self, timeout: float | None = None) -> Deferred[ZmqEvent]:
        """
        A Deferred that fires with the next disconnection of a peer.

        @param timeout: seconds before it fails with
            C{twisted.internet.defer.TimeoutError}.
        """
        self._checkOpen()
        self._ensureMonitor()
        return self._withTimeout(self._peers.whenDisconnected(), timeout)

    def _ensureMonitor(self) -> None:
        if self._monitor is None:
            self.enableMonitor()

    def _withTimeout(self, d: Deferred[_T], timeout: float | None) -> Deferred[_T]:
        """C{d}, failing with Twisted's C{TimeoutError} after C{timeout} s."""
        if timeout is not None and not d.called:
            d.addTimeout(timeout, self._reactor)
        return d


_monitorIds = itertools.count()


class _MonitorReader(ZmqConnection):
    """Reads a connection's monitor socket and hands events back to it."""

    socketType: ClassVar[int | None] = zmq.PAIR
    monitorEvents: int = 0
    """Never monitored itself, whatever ZmqConnection.monitorEvents says."""

    def shutdown(self) -> None:
        """
        Stop the owner's monitoring first when closed on its own (by the
        factory or the reactor): libzmq would block the owner's next
        C{disable_monitor()} on a monitor socket with no reader.
        """
        if not self.closed and self.owner._monitor is self:
            self.owner._stopMonitor()
        super().shutdown()

    def drain(self) -> None:
        """
        Deliver the events still waiting, now (MONITOR_STOPPED last, once
        monitoring was disabled), even from within an event callback.
        """
        while not self.closed:
            try:
                message = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.messageReceived(message)

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: ZmqEndpoint,
        owner: ZmqConnection,
        **settings: Any,
    ) -> None:
        self.owner = owner
        super().__init__(factory, endpoint, **settings)

    def messageReceived(self, message: list[bytes]) -> None:
        try:
            self.owner._eventArrived(message)
        except MalformedMessage as e:
            self._log.warn(
                "Dropping a monitor message of {connection!r}: {reason}",
                connection=self.owner,
                reason=str(e),
            )

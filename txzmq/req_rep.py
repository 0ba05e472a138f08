"""
Request/reply with Deferreds: REQ and REP connections.

L{ZmqREQConnection} runs on a DEALER socket and L{ZmqREPConnection} on a
ROUTER socket, so that many requests can be in flight at once.  Each
request carries a unique id: C{[requestId, b"", *parts]}.  The REP side
remembers the route of every request by id until it is answered with
L{ZmqREPConnection.reply}.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

import zmq
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from txzmq._framing import (
    Frame,
    MalformedMessage,
    buildReply,
    splitReply,
    splitRequest,
)
from txzmq._options import Validator, optionalPositiveInt, positiveInt
from txzmq._requests import RequestIds, RequestTable
from txzmq.connection import ZmqConnection, ZmqEndpoint
from txzmq.errors import (
    ZmqConnectionClosedError,
    ZmqRequestTimeoutError,
    ZmqUnknownRequestError,
)

__all__ = ["ZmqREPConnection", "ZmqREQConnection", "ZmqRequestTimeoutError"]


class _Pending:
    """A request: its Deferred, timer, and where its frames are."""

    __slots__ = ("deferred", "frames", "sent", "timer")

    def __init__(self, frames: list[Frame]) -> None:
        self.frames: list[Frame] | None = frames
        """The request's frames while it waits for a slot (maxInFlight)."""
        self.deferred: Deferred[list[Any]]
        self.timer: IDelayedCall | None = None
        self.sent: Deferred[None] | None = None
        """The send of the request while it waits in the outgoing queue."""


def _checkTimeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds, not {type(timeout).__name__}"
        )
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    return float(timeout)


class ZmqREQConnection(ZmqConnection):
    """
    Send requests; each L{sendMsg} returns a Deferred that fires with the
    reply.

    A request with a timeout (C{timeout=} or C{defaultRequestTimeout},
    seconds) that gets no reply in time fails with
    L{ZmqRequestTimeoutError}; cancelling the Deferred abandons the
    request.  Replies that arrive later are logged and dropped.  Pending
    requests fail with L{ZmqConnectionClosedError} at L{shutdown}.

    Requests never fail for lack of room: at the high-water mark they
    wait in the outgoing queue.  With C{maxInFlight} set (a setting), at
    most that many requests await a reply; later ones wait their turn, in
    order, and their timeout counts from the call.  A request that times
    out or is cancelled before it was sent is never sent.

    @cvar defaultRequestTimeout: timeout of requests sent without one
        (seconds, or None for no timeout).
    """

    socketType: ClassVar[int | None] = zmq.DEALER
    defaultRequestTimeout: float | None = None
    maxInFlight: int | None = None
    _extraSettings: ClassVar[Mapping[str, Validator]] = {
        **ZmqConnection._extraSettings,
        "maxInFlight": optionalPositiveInt,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ids = RequestIds()
        self._requests: RequestTable[_Pending] = RequestTable()
        self._waiting: deque[bytes] = deque()
        super().__init__(*args, **kwargs)

    @property
    def requestsInFlight(self) -> int:
        """Requests sent (or queued to be sent) and awaiting a reply."""
        return len(self._requests) - len(self._waiting)

    @property
    def requestsWaiting(self) -> int:
        """Requests held back by C{maxInFlight}."""
        return len(self._waiting)

    def _getNextId(self) -> bytes:
        """
        Return a new request id.  Override to supply your own ids; they
        must be unique among the requests the REP peer sees.
        """
        return self._ids.next()

    def sendMsg(
        self, *messageParts: Any, timeout: float | None = None
    ) -> Deferred[Any]:
        """
        Send a request.

        @param messageParts: the frames of the request (bytes; with a
            C{codec}, values it encodes, one frame each).
        @param timeout: seconds to wait for the reply; default
            C{defaultRequestTimeout}.
        @return: a Deferred firing with the reply, a list of frames (with
            a C{codec}: of decoded values).
        @raise ZmqQueueFullError: when the outgoing queue is full.
        """
        self._checkOpen()
        parts = self._encodeParts(messageParts)
        if timeout is None:
            timeout = self.defaultRequestTimeout
        seconds = None if timeout is None else _checkTimeout(timeout)
        requestId = self._getNextId()
        requests = self._requests
        if requestId in requests:
            raise ValueError(
                f"_getNextId() returned {requestId!r}, the id of a request still "
                "waiting for its reply; request ids must be unique"
            )
        frames: list[Frame] = [requestId, b"", *parts]
        pending = _Pending(frames)
        limit = self.maxInFlight
        if self._waiting or (limit is not None and self.requestsInFlight >= limit):
            self._waiting.append(requestId)
        else:
            self._transmit(requestId, pending, raiseErrors=True)
        pending.deferred = Deferred(lambda d: self._cancelRequest(requestId))
        if seconds is not None:
            pending.timer = self._reactor.callLater(
                seconds, self._timeoutRequest, requestId, seconds
            )
        requests[requestId] = pending  # unique: checked above
        return pending.deferred

    def _transmit(
        self, requestId: bytes, pending: _Pending, raiseErrors: bool = False
    ) -> None:
        frames, pending.frames = pending.frames, None
        assert frames is not None
        try:
            entry = self._sendOrQueue(frames)
        except Exception:
            if raiseErrors:
                raise
            self._finish(requestId).deferred.errback()
            return
        if entry is not None:
            pending.sent = entry.deferred
            entry.deferred.addErrback(self._sendFailed, requestId)

    def _sendFailed(self, failure: Failure, requestId: bytes) -> None:
        if failure.check(CancelledError, ZmqConnectionClosedError):
            return
        if requestId in self._requests:
            self._finish(requestId).deferred.errback(failure)

    def _sendWaiting(self) -> None:
        """Send requests held back by C{maxInFlight} while there is room."""
        waiting = self._waiting
        limit = self.maxInFlight
        while (
            waiting
            and not self.closed
            and (limit is None or self.requestsInFlight < limit)
        ):
            requestId = waiting.popleft()
            pending = self._requests.get(requestId)
            if pending is not None:
                self._transmit(requestId, pending)

    def _release(self, pending: _Pending) -> None:
        """Stop the timer and the queued send of a finished request."""
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        if pending.sent is not None and not pending.sent.called:
            pending.sent.cancel()

    def _finish(self, requestId: bytes) -> _Pending:
        """
        Forget a request (replied, timed out or cancelled) and let a
        waiting one go.
        """
        pending = self._requests.pop(requestId)
        if pending.frames is not None:
            self._waiting.remove(requestId)
        self._release(pending)
        if self._waiting:
            self._sendWaiting()
        return pending

    def _cancelRequest(self, requestId: bytes) -> None:
        self._finish(requestId)

    def _timeoutRequest(self, requestId: bytes, seconds: float) -> None:
        pending = self._finish(requestId)
        pending.deferred.errback(
            ZmqRequestTimeoutError(
                f"no reply to request {requestId.hex()} within {seconds:g} s"
            )
        )

    def setSocketOptions(self, **settings: Any) -> None:
        """See L{ZmqConnection.setSocketOptions}; also C{maxInFlight}."""
        super().setSocketOptions(**settings)
        self._sendWaiting()

    def messageReceived(self, message: list[bytes]) -> None:
        """Match a reply to its request and fire the request's Deferred."""
        try:
            requestId, parts = splitReply(message)
        except MalformedMessage as e:
            self._log.warn(
                "Dropping a malformed reply on {connection!r}: {reason}",
                connection=self,
                reason=str(e),
            )
            return
        pending = self._requests.get(requestId)
        if pending is None or pending.frames is not None:
            self._log.debug(
                "Dropping a reply to request {requestId} on {connection!r}: it "
                "timed out, was cancelled, or was never sent",
                requestId=requestId.hex(),
                connection=self,
            )
            return
        values = parts if self.codec is None else self._decodeParts(parts)
        self._finish(requestId)
        if values is None:
            pending.deferred.errback(
                ValueError(f"the reply to request {requestId.hex()} cannot be decoded")
            )
        else:
            pending.deferred.callback(values)

    def shutdown(self) -> None:
        """
        Shut down; requests still waiting for a reply fail with
        L{ZmqConnectionClosedError}.
        """
        if self.closed:
            return
        self._waiting.clear()
        super().shutdown()
        for pending in self._requests.drain():
            self._release(pending)
            pending.deferred.errback(
                ZmqConnectionClosedError(
                    "the connection was shut down before the reply came"
                )
            )


class ZmqREPConnection(ZmqConnection):
    """
    Answer requests: L{gotMessage} is called with each request's id and
    frames; answer with L{reply} and the same id, now or later, or return
    the reply (or a Deferred of it) from L{gotMessage}.

    The routes of unanswered requests are kept up to C{maxPendingReplies}
    (a setting, default 10000); past that the oldest is forgotten, with a
    warning, and can no longer be answered.

    Plain ZeroMQ REQ sockets can be clients too: their requests get the
    peer's identity as id.
    """

    socketType: ClassVar[int | None] = zmq.ROUTER
    maxPendingReplies: int = 10000
    _extraSettings: ClassVar[Mapping[str, Validator]] = {
        **ZmqConnection._extraSettings,
        "maxPendingReplies": positiveInt,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._routingInfo: dict[bytes, list[bytes]] = {}
        super().__init__(*args, **kwargs)

    def reply(self, messageId: bytes, *messageParts: Any) -> None:
        """
        Send the reply to the request C{messageId} now.

        @param messageParts: the frames of the reply (with a C{codec}:
            values it encodes).
        @raise ZmqUnknownRequestError: when no request with that id is
            waiting (already answered, never received, or forgotten past
            C{maxPendingReplies}).
        @raise ZmqWouldBlockError: when the reply cannot be sent now; the
            request stays waiting, so the reply can be tried again.
        """
        self._checkOpen()
        if not isinstance(messageId, bytes):
            raise TypeError(f"messageId must be bytes, not {type(messageId).__name__}")
        parts = self._encodeParts(messageParts)
        routing = self._takeRoute(messageId)
        try:
            self._sendChecked(buildReply(routing, messageId, parts))
        except BaseException:
            self._routingInfo[messageId] = routing
            raise

    def _takeRoute(self, messageId: bytes) -> list[bytes]:
        routing = self._routingInfo.pop(messageId, None)
        if routing is None:
            raise ZmqUnknownRequestError(
                f"no request {messageId!r} is waiting for a reply "
                "(already answered, never received, or dropped past "
                "maxPendingReplies)"
            )
        return routing

    def messageReceived(self, message: list[bytes]) -> None:
        """
        Take the envelope apart, call L{gotMessage}, and send what it
        returns as the reply.
        """
        try:
            routing, messageId, frames = splitRequest(message)
        except MalformedMessage as e:
            self._log.warn(
                "Dropping a malformed request on {connection!r}: {reason}",
                connection=self,
                reason=str(e),
            )
            return
        parts = frames if self.codec is None else self._decodeParts(frames)
        if parts is None:
            return
        routes = self._routingInfo
        routes.pop(messageId, None)
        if len(routes) >= self.maxPendingReplies:
            oldest = next(iter(routes))
            del routes[oldest]
            self._log.warn(
                "{connection!r} holds {count} unanswered requests "
                "(maxPendingReplies); forgetting the oldest, {requestId}",
                connection=self,
                count=len(routes) + 1,
                requestId=oldest.hex(),
            )
        routes[messageId] = routing
        try:
            result = self.gotMessage(messageId, *parts)
        except BaseException:
            routes.pop(messageId, None)
            raise
        if result is None:
            return
        if isinstance(result, Deferred):
            result.addCallback(self._replyWith, messageId)
            result.addErrback(self._replyFailed, messageId)
            return
        try:
            self._replyWith(result, messageId)
        except Exception:
            self._replyFailed(Failure(), messageId)

    def _replyWith(self, result: Any, messageId: bytes) -> None:
        """Send what C{gotMessage} returned (or its Deferred gave)."""
        if result is None or self.closed:
            return
        if isinstance(result, (list, tuple)):
            parts = self._encodeParts(result)
        else:
            parts = self._encodeParts([result])
        try:
            routing = self._takeRoute(messageId)
        except ZmqUnknownRequestError:
            self._log.debug(
                "Not replying to request {requestId} on {connection!r}: it "
                "was already answered or forgotten",
                requestId=messageId.hex(),
                connection=self,
            )
            return
        entry = self._sendOrQueue(buildReply(routing, messageId, parts))
        if entry is not None:
            entry.deferred.addErrback(self._replyFailed, messageId)

    def _replyFailed(self, failure: Failure, messageId: bytes) -> None:
        self._routingInfo.pop(messageId, None)
        if failure.check(ZmqConnectionClosedError):
            return
        self._log.failure(
            "No reply sent to request {requestId} on {connection!r}",
            failure,
            requestId=messageId.hex(),
            connection=self,
        )

    def gotMessage(self, messageId: bytes, *messageParts: Any) -> Any:
        """
        Called with each request.  Override it, and either answer with
        C{self.reply(messageId, ...)}, or return the reply: bytes (one
        frame), a list of frames, or a Deferred firing with one of those
        (with a C{codec}: a value, or a list of values).  If you don't
        override it, C{(messageId, *parts)} tuples are kept for
        C{receive()}.
        """
        self._keep((messageId, *messageParts))
        return None


class ZmqXREPConnection(ZmqREPConnection):
    """
    Deprecated alias kept from txZMQ: use L{ZmqREPConnection}.
    """

    def __init__(self, factory: Any, *endpoints: ZmqEndpoint) -> None:
        warnings.warn(
            "ZmqXREPConnection is deprecated; "
            "use ZmqREPConnection or ZmqRouterConnection",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(factory)
        self.addEndpoints(endpoints)


class ZmqXREQConnection(ZmqREQConnection):
    """
    Deprecated alias kept from txZMQ: use L{ZmqREQConnection}.
    """

    def __init__(self, factory: Any, *endpoints: ZmqEndpoint) -> None:
        warnings.warn(
            "ZmqXREQConnection is deprecated; "
            "use ZmqREQConnection or ZmqDealerConnection",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(factory)
        self.addEndpoints(endpoints)

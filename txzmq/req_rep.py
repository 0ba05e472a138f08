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
from typing import Any, ClassVar, NamedTuple

import zmq
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall

from txzmq._framing import (
    Frame,
    MalformedMessage,
    buildReply,
    framesFromParts,
    splitReply,
    splitRequest,
)
from txzmq._requests import RequestIds, RequestTable
from txzmq.connection import ZmqConnection, ZmqEndpoint
from txzmq.errors import (
    ZmqConnectionClosedError,
    ZmqRequestTimeoutError,
    ZmqUnknownRequestError,
)

__all__ = ["ZmqREPConnection", "ZmqREQConnection", "ZmqRequestTimeoutError"]


class _Pending(NamedTuple):
    deferred: Deferred[list[bytes]]
    timer: IDelayedCall | None


def _checkTimeout(timeout: object) -> float | None:
    if timeout is None:
        return None
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

    @cvar defaultRequestTimeout: timeout of requests sent without one
        (seconds, or None for no timeout).
    """

    socketType: ClassVar[int | None] = zmq.DEALER
    defaultRequestTimeout: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ids = RequestIds()
        self._requests: RequestTable[_Pending] = RequestTable()
        super().__init__(*args, **kwargs)

    def _getNextId(self) -> bytes:
        """
        Return a new request id.  Override to supply your own ids; they
        must be unique among the requests the REP peer sees.
        """
        return self._ids.next()

    def sendMsg(
        self, *messageParts: Frame, timeout: float | None = None
    ) -> Deferred[list[bytes]]:
        """
        Send a request.

        @param messageParts: the frames of the request (bytes).
        @param timeout: seconds to wait for the reply; default
            C{defaultRequestTimeout}.
        @return: a Deferred firing with the reply, a list of frames.
        @raise ZmqWouldBlockError: when the request cannot be sent now.
        """
        self._checkOpen()
        parts = framesFromParts(messageParts)
        seconds = _checkTimeout(
            self.defaultRequestTimeout if timeout is None else timeout
        )
        requestId = self._getNextId()
        if requestId in self._requests:
            raise ValueError(
                f"_getNextId() returned {requestId!r}, the id of a request still "
                "waiting for its reply; request ids must be unique"
            )
        frames: list[Frame] = [requestId, b""]
        frames.extend(parts)
        self.send(frames)
        d: Deferred[list[bytes]] = Deferred(lambda d: self._cancelRequest(requestId))
        timer = (
            None
            if seconds is None
            else self._reactor.callLater(
                seconds, self._timeoutRequest, requestId, seconds
            )
        )
        self._requests.add(requestId, _Pending(d, timer))
        return d

    def _cancelRequest(self, requestId: bytes) -> None:
        pending = self._requests.complete(requestId)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def _timeoutRequest(self, requestId: bytes, seconds: float) -> None:
        pending = self._requests.complete(requestId)
        if pending is not None:
            pending.deferred.errback(
                ZmqRequestTimeoutError(
                    f"no reply to request {requestId.hex()} within {seconds:g} s"
                )
            )

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
        pending = self._requests.complete(requestId)
        if pending is None:
            self._log.debug(
                "Dropping a reply to request {requestId} on {connection!r}: it "
                "timed out, was cancelled, or was never sent",
                requestId=requestId.hex(),
                connection=self,
            )
            return
        if pending.timer is not None:
            pending.timer.cancel()
        pending.deferred.callback(parts)

    def shutdown(self) -> None:
        """
        Shut down; requests still waiting for a reply fail with
        L{ZmqConnectionClosedError}.
        """
        if self.closed:
            return
        super().shutdown()
        for pending in self._requests.drain():
            if pending.timer is not None:
                pending.timer.cancel()
            pending.deferred.errback(
                ZmqConnectionClosedError(
                    "the connection was shut down before the reply came"
                )
            )


class ZmqREPConnection(ZmqConnection):
    """
    Answer requests: L{gotMessage} is called with each request's id and
    frames; answer it with L{reply} and the same id, now or later.

    Plain ZeroMQ REQ sockets can be clients too: their requests get the
    peer's identity as id.
    """

    socketType: ClassVar[int | None] = zmq.ROUTER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._routingInfo: dict[bytes, list[bytes]] = {}
        super().__init__(*args, **kwargs)

    def reply(self, messageId: bytes, *messageParts: Frame) -> None:
        """
        Send the reply to the request C{messageId}.

        @raise ZmqUnknownRequestError: when no request with that id is
            waiting (already answered, or never received).
        @raise ZmqWouldBlockError: when the reply cannot be sent now; the
            request stays waiting, so the reply can be tried again.
        """
        self._checkOpen()
        if not isinstance(messageId, bytes):
            raise TypeError(f"messageId must be bytes, not {type(messageId).__name__}")
        parts = framesFromParts(messageParts)
        routing = self._routingInfo.pop(messageId, None)
        if routing is None:
            raise ZmqUnknownRequestError(
                f"no request {messageId!r} is waiting for a reply "
                "(already answered, or never received)"
            )
        try:
            self.send(buildReply(routing, messageId, parts))
        except BaseException:
            self._routingInfo[messageId] = routing
            raise

    def messageReceived(self, message: list[bytes]) -> None:
        """Take the envelope apart and call L{gotMessage}."""
        try:
            routing, messageId, parts = splitRequest(message)
        except MalformedMessage as e:
            self._log.warn(
                "Dropping a malformed request on {connection!r}: {reason}",
                connection=self,
                reason=str(e),
            )
            return
        self._routingInfo[messageId] = routing
        self.gotMessage(messageId, *parts)

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        """
        Called with each request.  Override it, and answer with
        C{self.reply(messageId, ...)}.
        """
        raise NotImplementedError(f"{type(self).__name__} must override gotMessage()")


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

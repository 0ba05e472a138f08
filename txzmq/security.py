"""
Security: CURVE and PLAIN on connections, and a ZAP authenticator on the
reactor.

Give a connection a C{security} setting (L{CurveServer},
L{CurveClient}, L{PlainServer}, L{PlainClient}) before it binds or
connects.  A server then asks the factory's L{ZapAuthenticator} (one per
context) whether to let each peer in: by IP address, password, CURVE
public key, or a checker function that may return a Deferred.  Without an
authenticator, a CURVE server lets in any client that knows its public
key, and a PLAIN server lets in nobody.

Keys are Z85 text (40 characters), as pyzmq and libzmq write them;
L{generateKeypair} and L{createCertificates} make them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import zmq
from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from txzmq._mechanisms import (
    CurveClient,
    CurveServer,
    PlainClient,
    PlainServer,
    Security,
    checkCurveKey,
    createCertificates,
    generateKeypair,
    loadCertificate,
    loadPublicKeys,
)
from txzmq._zap import (
    ZAP_ENDPOINT,
    MalformedZapRequest,
    ZapPolicy,
    ZapReply,
    ZapRequest,
    allowed,
    decide,
    denied,
    encodeReply,
    parseRequest,
)
from txzmq.connection import ZmqConnection, ZmqEndpoint, ZmqEndpointType
from txzmq.errors import ZmqEndpointError
from txzmq.factory import ZmqFactory

__all__ = [
    "CurveClient",
    "CurveServer",
    "PlainClient",
    "PlainServer",
    "Security",
    "ZapAuthenticator",
    "ZapPolicy",
    "ZapRequest",
    "checkCurveKey",
    "createCertificates",
    "generateKeypair",
    "loadCertificate",
    "loadPublicKeys",
]

_log = Logger()

# The authenticator

Checker = Callable[[ZapRequest], "bool | str | Deferred[bool | str]"]
"""
A function deciding what the static rules leave open: true (or a user id)
lets the peer in.  It may return a Deferred.
"""


class _ZapHandler(ZmqConnection):
    socketType: ClassVar[int | None] = zmq.ROUTER

    def __init__(self, factory: ZmqFactory, authenticator: ZapAuthenticator) -> None:
        self.authenticator = authenticator
        super().__init__(factory, highWaterMark=0)

    def messageReceived(self, message: list[bytes]) -> None:
        try:
            delimiter = message.index(b"")
        except ValueError:
            self._log.warn("Dropping a ZAP request without an envelope")
            return
        envelope = message[: delimiter + 1]
        self.authenticator._handle(
            message[delimiter + 1 :],
            lambda reply: self.send(envelope + encodeReply(reply)),
        )

    def logPrefix(self) -> str:
        return "ZAP"


class ZapAuthenticator(Service):
    """
    The ZAP handler of a factory's context, on the reactor: it decides
    which peers CURVE and PLAIN servers (and NULL servers with a
    C{zapDomain}) let in.

    Rules are a L{ZapPolicy} (or its fields as keyword arguments: C{allow},
    C{deny}, C{allowNull}, C{passwords}, C{curveKeys}, C{allowAnyCurve},
    C{domains}); what they leave open goes to C{checker}, which may return
    a Deferred.  A checker that raises or fails denies the peer, and is
    logged.  Every denial is logged.

    It is an C{IService}: C{startService} (or L{start}) binds the ZAP
    endpoint; C{stopService} (or L{stop}) makes it refuse every peer (it
    fails closed), and the endpoint is closed when the factory shuts
    down.  Start it before the servers accept peers.
    """

    def __init__(
        self,
        factory: ZmqFactory,
        policy: ZapPolicy | None = None,
        checker: Checker | None = None,
        *,
        curveDirectory: str | os.PathLike[str] | None = None,
        **rules: Any,
    ) -> None:
        """
        @param policy: the static rules; or give them as keyword arguments.
        @param checker: decides what the rules leave open.
        @param curveDirectory: a directory of public certificates whose
            keys are allowed (added to C{curveKeys}).
        @raise TypeError: for both C{policy} and keyword rules, or bad
            values.
        """
        if policy is not None and rules:
            raise TypeError("give a ZapPolicy or keyword rules, not both")
        if curveDirectory is not None:
            if policy is not None:
                raise TypeError(
                    "give curveDirectory with keyword rules, not a ZapPolicy"
                )
            rules["curveKeys"] = set(rules.get("curveKeys") or ()) | loadPublicKeys(
                curveDirectory
            )
        if policy is None:
            policy = ZapPolicy.build(**rules)
        if checker is not None and not callable(checker):
            raise TypeError("checker must be callable")
        self.factory = factory
        self.policy = policy
        self.checker = checker
        self.handler: _ZapHandler | None = None
        self.stopped = False
        self.name = "zap-authenticator"

    def start(self) -> None:
        """
        Bind the context's ZAP endpoint (once) and decide by the rules.

        @raise ZmqEndpointError: when another handler is bound there.
        """
        self.stopped = False
        if self.handler is not None:
            return
        handler = _ZapHandler(self.factory, self)
        try:
            handler.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, ZAP_ENDPOINT)])
        except ZmqEndpointError as e:
            handler.shutdown()
            raise ZmqEndpointError(
                zmq.EADDRINUSE,
                "another ZAP handler already runs on this factory's context; "
                "use one ZapAuthenticator per factory",
            ) from e
        self.handler = handler

    def stop(self) -> None:
        """
        Let no more peers in: the endpoint stays bound (until the factory
        shuts down) and refuses every request, because with no handler at
        all libzmq would let any CURVE client that knows the server's key
        in.  L{start} decides by the rules again.
        """
        self.stopped = True

    def startService(self) -> None:
        self.start()
        super().startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.stop()
        return succeed(None)

    def _handle(self, frames: list[bytes], send: Callable[[ZapReply], None]) -> None:
        try:
            request = parseRequest(frames)
        except MalformedZapRequest as e:
            _log.warn("Malformed ZAP request: {reason}", reason=str(e))
            if e.requestId is not None:
                send(ZapReply(e.requestId, 400, f"malformed request: {e}"))
            return
        if self.stopped:
            self._reply(denied(request, "the authenticator is stopped"), request, send)
            return
        reply = decide(request, self.policy)
        if reply is None and self.checker is None:
            reply = denied(request, f"no rule for {request.mechanism}")
        if reply is not None:
            self._reply(reply, request, send)
            return
        assert self.checker is not None
        checked: Deferred[Any] = maybeDeferred(self.checker, request)
        checked.addCallback(_checkerReply, request)
        checked.addErrback(self._checkerFailed, request)
        checked.addCallback(self._reply, request, send)

    def _checkerFailed(self, failure: Failure, request: ZapRequest) -> ZapReply:
        _log.failure(
            "The ZAP checker failed on {request}; denying",
            failure,
            request=request.describe(),
        )
        return ZapReply(request.requestId, 500, "authentication error")

    def _reply(
        self, reply: ZapReply, request: ZapRequest, send: Callable[[ZapReply], None]
    ) -> None:
        if not reply.ok:
            _log.warn(
                "ZAP denied {request}: {reason}",
                request=request.describe(),
                reason=reply.statusText,
            )
        if self.handler is not None and not self.handler.closed:
            send(reply)


def _checkerReply(result: object, request: ZapRequest) -> ZapReply:
    if result is True:
        return allowed(request)
    if isinstance(result, str) and result:
        return allowed(request, result)
    return denied(request, "refused by the checker")

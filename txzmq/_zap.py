"""
The ZeroMQ Authentication Protocol (ZAP, RFC 27) as pure functions:
parsing requests, the static policy decision, and encoding replies.

libzmq asks the handler bound at C{inproc://zeromq.zap.01} whether to let
each peer in; L{txzmq.security.ZapAuthenticator} is that handler, and it
calls L{decide} with each request.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import zmq

from txzmq._mechanisms import checkCurveKey

__all__ = [
    "ZAP_ENDPOINT",
    "MalformedZapRequest",
    "ZapPolicy",
    "ZapReply",
    "ZapRequest",
    "allowed",
    "decide",
    "denied",
    "encodeReply",
    "parseRequest",
]

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
_VERSION = b"1.0"


class MalformedZapRequest(ValueError):  # noqa: N818
    """
    A ZAP request that does not follow the protocol.

    @ivar requestId: the request id, when there was one to answer to.
    """

    def __init__(self, reason: str, requestId: bytes | None) -> None:
        super().__init__(reason)
        self.requestId = requestId


class ZapRequest(NamedTuple):
    """
    A peer asking to be let in.

    @ivar address: the peer's IP address (for ipc, what libzmq reports,
        such as C{"localhost:0:0:572"}).
    @ivar mechanism: C{"NULL"}, C{"PLAIN"} or C{"CURVE"}.
    @ivar credentials: PLAIN: username and password; CURVE: the client's
        32-byte public key.
    """

    requestId: bytes
    domain: str
    address: str
    identity: bytes
    mechanism: str
    credentials: tuple[bytes, ...]

    @property
    def username(self) -> str | None:
        """The PLAIN user name."""
        if self.mechanism == "PLAIN":
            return self.credentials[0].decode("utf-8", "replace")
        return None

    @property
    def password(self) -> str | None:
        """The PLAIN password."""
        if self.mechanism == "PLAIN":
            return self.credentials[1].decode("utf-8", "replace")
        return None

    @property
    def publicKey(self) -> bytes | None:
        """The CURVE client's public key, Z85-encoded (40 bytes)."""
        if self.mechanism == "CURVE":
            return zmq.utils.z85.encode(self.credentials[0])
        return None

    def describe(self) -> str:
        """A short description for log lines."""
        who = self.username or (self.publicKey or b"").decode() or "anonymous"
        return f"{self.mechanism} {who} from {self.address or 'a local peer'}"


class ZapReply(NamedTuple):
    """The handler's answer: a status code (200 lets the peer in)."""

    requestId: bytes
    statusCode: int
    statusText: str
    userId: str = ""

    @property
    def ok(self) -> bool:
        """Whether the peer is let in."""
        return self.statusCode == 200


def allowed(request: ZapRequest, userId: str = "") -> ZapReply:
    """Let the peer in."""
    return ZapReply(request.requestId, 200, "OK", userId)


def denied(request: ZapRequest, reason: str) -> ZapReply:
    """Keep the peer out."""
    return ZapReply(request.requestId, 400, reason)


_CREDENTIALS = {"NULL": 0, "PLAIN": 2, "CURVE": 1}


def parseRequest(frames: Sequence[bytes]) -> ZapRequest:
    """
    Parse the frames of a ZAP request (after the REQ envelope).

    @raise MalformedZapRequest: for a request that breaks the protocol;
        its C{requestId} says whether it can still be answered.
    """
    requestId = frames[1] if len(frames) > 1 else None
    if len(frames) < 6:
        raise MalformedZapRequest(f"{len(frames)} frames, at least 6 needed", requestId)
    version, requestId, domain, address, identity, mechanism = frames[:6]
    if version != _VERSION:
        raise MalformedZapRequest(f"unknown ZAP version {version!r}", requestId)
    name = mechanism.decode("ascii", "replace")
    credentials = tuple(frames[6:])
    expected = _CREDENTIALS.get(name)
    if expected is None:
        raise MalformedZapRequest(f"unknown mechanism {name!r}", requestId)
    if len(credentials) != expected:
        raise MalformedZapRequest(
            f"{name} needs {expected} credential frames, got {len(credentials)}",
            requestId,
        )
    if name == "CURVE" and len(credentials[0]) != 32:
        raise MalformedZapRequest("a CURVE public key has 32 bytes", requestId)
    return ZapRequest(
        requestId,
        domain.decode("utf-8", "replace"),
        address.decode("utf-8", "replace"),
        identity,
        name,
        credentials,
    )


def encodeReply(reply: ZapReply) -> list[bytes]:
    """The frames of a ZAP reply (after the envelope)."""
    return [
        _VERSION,
        reply.requestId,
        str(reply.statusCode).encode(),
        reply.statusText.encode(),
        reply.userId.encode(),
        b"",
    ]


@dataclass(frozen=True)
class ZapPolicy:
    """
    Static rules for letting peers in.

    Addresses are checked first: with C{allow} non-empty only those IP
    addresses may connect; addresses in C{deny} may not.  Then the
    mechanism: NULL peers are let in when C{allowNull}; PLAIN peers when
    their password matches C{passwords}; CURVE peers when their public key
    is in C{curveKeys} or C{allowAnyCurve}.  A mechanism with no rule here
    (C{passwords} or C{curveKeys} left None) is undecided: the
    authenticator then asks its checker, or denies.
    """

    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    allowNull: bool = True
    passwords: Mapping[str, str] | None = None
    curveKeys: frozenset[bytes] | None = None
    allowAnyCurve: bool = False
    domains: frozenset[str] | None = field(default=None)
    """When set, only requests for these ZAP domains are considered."""

    @classmethod
    def build(
        cls,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        allowNull: bool = True,
        passwords: Mapping[str, str] | None = None,
        curveKeys: Iterable[bytes] | None = None,
        allowAnyCurve: bool = False,
        domains: Iterable[str] | None = None,
    ) -> ZapPolicy:
        """
        Check and freeze the rules.

        @raise TypeError: for values of the wrong type.
        @raise ValueError: for a CURVE key that is not 40 Z85 characters.
        """
        for name, addresses in (("allow", allow), ("deny", deny)):
            if isinstance(addresses, (str, bytes)):
                raise TypeError(f"{name} must be a list of IP addresses, not a string")
        if domains is not None:
            if isinstance(domains, (str, bytes)):
                raise TypeError("domains must be a list of ZAP domains, not a string")
            domains = list(domains)
            if not all(isinstance(domain, str) for domain in domains):
                raise TypeError("ZAP domains must be text (str)")
        if passwords is not None:
            if not isinstance(passwords, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in passwords.items()
            ):
                raise TypeError(
                    "passwords must map user names (str) to passwords (str)"
                )
        keys = None
        if curveKeys is not None:
            keys = frozenset(checkCurveKey("curve key", key) for key in curveKeys)
        return cls(
            frozenset(allow),
            frozenset(deny),
            bool(allowNull),
            dict(passwords) if passwords is not None else None,
            keys,
            bool(allowAnyCurve),
            frozenset(domains) if domains is not None else None,
        )


def decide(request: ZapRequest, policy: ZapPolicy) -> ZapReply | None:
    """
    Apply the static rules: a reply, or None when they have no rule for
    the request's mechanism.
    """
    if policy.domains is not None and request.domain not in policy.domains:
        return denied(request, f"unknown domain {request.domain!r}")
    if policy.allow and request.address not in policy.allow:
        return denied(request, "address not allowed")
    if request.address in policy.deny:
        return denied(request, "address denied")
    if request.mechanism == "NULL":
        return allowed(request) if policy.allowNull else denied(request, "NULL refused")
    if request.mechanism == "PLAIN":
        if policy.passwords is None:
            return None
        username, password = request.username or "", request.password or ""
        expected = policy.passwords.get(username)
        if expected is not None and hmac.compare_digest(
            expected.encode(), password.encode()
        ):
            return allowed(request, username)
        return denied(request, "invalid user name or password")
    publicKey = request.publicKey
    if policy.allowAnyCurve:
        return allowed(request, (publicKey or b"").decode())
    if policy.curveKeys is None:
        return None
    if publicKey in policy.curveKeys:
        return allowed(request, (publicKey or b"").decode())
    return denied(request, "unknown public key")

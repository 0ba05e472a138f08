"""
Endpoints: an address and whether to bind or connect to it, as a
L{ZmqEndpoint} or as a string such as C{"bind:tcp://*:5555"}.

The string form is C{bind:ADDRESS} or C{connect:ADDRESS}, where ADDRESS
is any ZeroMQ address (C{tcp://host:port}, C{ipc:///path},
C{inproc://name}, ...).  It is accepted wherever an endpoint is: by
connections, devices, the command line and the twistd plugin.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import zmq

from txzmq.errors import ZmqEndpointError

__all__ = [
    "ZmqEndpoint",
    "ZmqEndpointType",
    "checkEndpoint",
    "formatEndpoint",
    "parseEndpoint",
]


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
_TRANSPORTS = (
    "tcp",
    "ipc",
    "inproc",
    "pgm",
    "epgm",
    "tipc",
    "vmci",
    "udp",
    "ws",
    "wss",
)


class ZmqEndpoint(NamedTuple):
    """
    A ZeroMQ address and whether to bind or connect to it.

    @ivar type: L{ZmqEndpointType.bind} or L{ZmqEndpointType.connect}.
    @ivar address: a ZeroMQ address such as C{"tcp://127.0.0.1:5555"},
        C{"ipc:///tmp/sock"} or C{"inproc://name"}.
    """

    type: str
    address: str


def parseEndpoint(text: str) -> ZmqEndpoint:
    """
    Parse the string form of an endpoint, C{"bind:ADDRESS"} or
    C{"connect:ADDRESS"}.

    @raise TypeError: for something that is not a string.
    @raise ValueError: with what is wrong and an example of what is
        right.
    """
    if not isinstance(text, str):
        raise TypeError(f"an endpoint string must be str, not {type(text).__name__}")
    kind, colon, address = text.partition(":")
    if not colon or kind not in _ENDPOINT_TYPES:
        hint = ""
        if text.partition("://")[0] in _TRANSPORTS:
            hint = f"; did you mean 'bind:{text}' or 'connect:{text}'?"
        raise ValueError(
            f"endpoint {text!r} must start with 'bind:' or 'connect:', as in "
            f"'bind:tcp://*:5555' or 'connect:ipc:///tmp/sock'{hint}"
        )
    transport, sep, rest = address.partition("://")
    if not sep or not rest:
        raise ValueError(
            f"endpoint {text!r} has no address after {kind!r}: expected "
            f"'{kind}:TRANSPORT://WHERE', such as '{kind}:tcp://127.0.0.1:5555'"
        )
    if transport not in _TRANSPORTS:
        raise ValueError(
            f"endpoint {text!r} uses the unknown transport {transport!r}; "
            f"known transports: {', '.join(_TRANSPORTS)}"
        )
    return ZmqEndpoint(kind, address)


def formatEndpoint(endpoint: ZmqEndpoint) -> str:
    """The string form of an endpoint (the inverse of L{parseEndpoint})."""
    return f"{endpoint.type}:{endpoint.address}"


def checkEndpoint(endpoint: object) -> ZmqEndpoint:
    """
    Accept a L{ZmqEndpoint}, a C{(type, address)} tuple, or the string
    form (see L{parseEndpoint}).

    @raise TypeError: for anything else.
    @raise ValueError: for an unknown type or a malformed string.
    """
    if isinstance(endpoint, str):
        return parseEndpoint(endpoint)
    if not isinstance(endpoint, tuple) or len(endpoint) != 2:
        raise TypeError(
            "an endpoint must be a ZmqEndpoint(type, address) or a string such "
            f"as 'bind:tcp://*:5555', not {type(endpoint).__name__}"
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


def attachEndpoint(socket: Any, kind: str, address: str) -> None:
    """
    Bind or connect C{socket} (C{kind} is C{"bind"} or C{"connect"}).

    @raise ZmqEndpointError: when libzmq refuses, naming the endpoint.
    """
    try:
        if kind == "bind":
            socket.bind(address)
        else:
            socket.connect(address)
    except zmq.ZMQError as e:
        raise ZmqEndpointError(
            e.errno or zmq.EINVAL, f"cannot {kind} to {address!r}: {e}"
        ) from e

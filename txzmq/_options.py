"""
Connection settings: socket options and per-connection tunables.

Every setting has a class attribute on L{txzmq.ZmqConnection} (txZMQ 1.0's
way) and can be given per connection as a keyword argument or through
C{setSocketOptions()}.  The checks and the mapping to C{setsockopt} calls
are pure functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import zmq

Validator = Callable[[str, object], object]


def nonNegativeInt(name: str, value: object) -> int:
    """Accept an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def positiveInt(name: str, value: object) -> int:
    """Accept an int >= 1."""
    value = nonNegativeInt(name, value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def optionalPositiveInt(name: str, value: object) -> int | None:
    """Accept None or an int >= 1."""
    return None if value is None else positiveInt(name, value)


def optionalBytes(name: str, value: object) -> bytes | None:
    """Accept None, bytes, or text (encoded as UTF-8)."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"{name} must be bytes or str, not {type(value).__name__}")


def anyInt(name: str, value: object) -> int:
    """Accept any int (libzmq uses -1 for "system default")."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def boolean(name: str, value: object) -> bool:
    """Accept a bool (or 0/1, as txZMQ did)."""
    if value in (0, 1) and isinstance(value, (bool, int)):
        return bool(value)
    raise TypeError(f"{name} must be a bool, not {value!r}")


def nonEmptyBytes(name: str, value: object) -> bytes:
    """Accept non-empty bytes."""
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


class SocketOption(NamedTuple):
    """How one named setting maps onto libzmq options."""

    sockopts: tuple[int, ...]
    validate: Validator
    unset: object
    """The value that means "leave libzmq's default alone"."""
    reset: object = None
    """libzmq's default, set when a connection asks for "unset" again."""


SOCKET_OPTIONS: Mapping[str, SocketOption] = {
    "highWaterMark": SocketOption((zmq.SNDHWM, zmq.RCVHWM), nonNegativeInt, None),
    "sendHighWaterMark": SocketOption((zmq.SNDHWM,), nonNegativeInt, None),
    "receiveHighWaterMark": SocketOption((zmq.RCVHWM,), nonNegativeInt, None),
    "lingerPeriod": SocketOption((zmq.LINGER,), nonNegativeInt, None),
    "multicastRate": SocketOption((zmq.RATE,), positiveInt, None),
    # libzmq 3 and later always loop multicast back; kept for txZMQ 1.0.
    "allowLoopbackMulticast": SocketOption((), boolean, None),
    "tcpKeepalive": SocketOption((zmq.TCP_KEEPALIVE,), anyInt, 0, -1),
    "tcpKeepaliveCount": SocketOption((zmq.TCP_KEEPALIVE_CNT,), anyInt, 0, -1),
    "tcpKeepaliveIdle": SocketOption((zmq.TCP_KEEPALIVE_IDLE,), anyInt, 0, -1),
    "tcpKeepaliveInterval": SocketOption((zmq.TCP_KEEPALIVE_INTVL,), anyInt, 0, -1),
    "reconnectInterval": SocketOption((zmq.RECONNECT_IVL,), anyInt, 0, 100),
    "reconnectIntervalMax": SocketOption((zmq.RECONNECT_IVL_MAX,), anyInt, 0, 0),
    "zapDomain": SocketOption((zmq.ZAP_DOMAIN,), optionalBytes, None, b""),
}
"""The socket options a connection accepts by name."""


def validators(table: Mapping[str, SocketOption]) -> dict[str, Validator]:
    """The validator of each socket option of C{table}, by name."""
    return {name: option.validate for name, option in table.items()}


def checkSettings(
    allowed: Mapping[str, Validator], given: Mapping[str, object]
) -> dict[str, object]:
    """
    Validate keyword settings against the names a connection class allows.

    @return: the validated values.
    @raise TypeError: for an unknown name (the message lists the known
        ones) or a value of the wrong type.
    @raise ValueError: for a value out of range.
    """
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(
            f"unknown setting(s) {', '.join(unknown)}; "
            f"known settings are {', '.join(sorted(allowed))}"
        )
    return {name: allowed[name](name, value) for name, value in given.items()}


def socketOptionCalls(
    table: Mapping[str, SocketOption],
    values: Mapping[str, object],
    explicit: bool = False,
) -> list[tuple[int, object]]:
    """
    Return the C{(option, value)} pairs to pass to C{socket.set()} for the
    named settings in C{values}.

    Settings left at "unset" are skipped, unless C{explicit} (a change
    asked for after construction), where they restore libzmq's default.
    The pairs come in the order of C{table}, so that the specific
    high-water marks win over the shared one.
    """
    calls: list[tuple[int, object]] = []
    for name, option in table.items():
        if name not in values:
            continue
        value = values[name]
        if value is None or value == option.unset:
            if not explicit or option.reset is None:
                continue
            value = option.reset
        calls.extend((sockopt, value) for sockopt in option.sockopts)
    return calls

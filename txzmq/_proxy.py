"""
What a device is, free of reactors: its configuration, the rules for
which socket pairs make sense, the frame rewriting of monitored and
ROUTER-to-ROUTER devices, and the blocking loop that background threads
and processes run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import zmq

from txzmq._framing import MalformedMessage
from txzmq._options import (
    SOCKET_OPTIONS,
    checkSettings,
    socketOptionCalls,
    validators,
)
from txzmq.endpoints import attachEndpoint, checkEndpoint

__all__ = [
    "FORWARDER",
    "QUEUE",
    "STREAMER",
    "DeviceConfig",
    "DeviceKind",
    "directions",
    "monitorFrames",
    "runProxy",
    "swapRoutingFrames",
]


class DeviceKind(NamedTuple):
    """The socket types of a device's two sides."""

    name: str
    frontendType: int
    backendType: int


QUEUE = DeviceKind("queue", zmq.ROUTER, zmq.DEALER)
"""Requests from many clients (REQ/DEALER) to many workers (REP/DEALER)."""

FORWARDER = DeviceKind("forwarder", zmq.XSUB, zmq.XPUB)
"""Many publishers to many subscribers, subscriptions forwarded upstream."""

STREAMER = DeviceKind("streamer", zmq.PULL, zmq.PUSH)
"""A pipeline stage: PULL from upstream, PUSH downstream."""

_RECEIVES = frozenset(
    {zmq.ROUTER, zmq.DEALER, zmq.PULL, zmq.SUB, zmq.XSUB, zmq.XPUB, zmq.PAIR}
)
_SENDS = frozenset(
    {zmq.ROUTER, zmq.DEALER, zmq.PUSH, zmq.PUB, zmq.XSUB, zmq.XPUB, zmq.PAIR}
)


def _typeName(socketType: int) -> str:
    try:
        return zmq.SocketType(socketType).name
    except ValueError:
        return str(socketType)


def directions(frontendType: int, backendType: int) -> tuple[bool, bool]:
    """
    Which ways messages flow through a device: C{(frontend to backend,
    backend to frontend)}.

    @raise ValueError: for a socket type a device cannot use (REQ and REP
        keep a strict send/receive order a proxy cannot honour) or a pair
        where nothing can flow.
    """
    for socketType in (frontendType, backendType):
        if socketType not in _RECEIVES | _SENDS:
            raise ValueError(
                f"a device cannot use a {_typeName(socketType)} socket; use "
                "ROUTER/DEALER, XSUB/XPUB, SUB/PUB, PULL/PUSH or PAIR"
            )
    forward = frontendType in _RECEIVES and backendType in _SENDS
    backward = backendType in _RECEIVES and frontendType in _SENDS
    if not (forward or backward):
        raise ValueError(
            f"nothing can flow between a {_typeName(frontendType)} frontend and "
            f"a {_typeName(backendType)} backend"
        )
    return forward, backward


_LIBZMQ_SWAPS_PAUSE = zmq.zmq_version_info()[:3] == (4, 3, 5)
"""
libzmq 4.3.5's C{zmq_proxy_steerable} takes PAUSE for RESUME and RESUME
for PAUSE (fixed after that release, by libzmq pull request 4600).
"""


def usesLibzmqProxy(config: DeviceConfig) -> bool:
    """
    Whether L{runProxy} runs C{config} with libzmq's proxy (else with its
    own poll loop, for devices that rewrite messages).
    """
    return not config.monitor and not config.swapsRouting


def steeringCommand(config: DeviceConfig, command: bytes) -> bytes:
    """
    The word to send to the control socket of a device running C{config}
    to have it do C{command} (C{PAUSE}, C{RESUME} or C{TERMINATE}).
    """
    if _LIBZMQ_SWAPS_PAUSE and usesLibzmqProxy(config):
        return {b"PAUSE": b"RESUME", b"RESUME": b"PAUSE"}.get(command, command)
    return command


def swapRoutingFrames(frames: Sequence[bytes]) -> list[bytes]:
    """
    Rewrite a message between two ROUTER sockets: it arrives as
    C{[sender, recipient, *body]} and leaves as C{[recipient, sender,
    *body]}, so the recipient sees who sent it.

    @raise MalformedMessage: for fewer than two frames.
    """
    if len(frames) < 2:
        raise MalformedMessage(
            "a message between two ROUTER sockets needs the sender's and the "
            "recipient's identity frames"
        )
    swapped = [frames[1], frames[0]]
    swapped.extend(frames[2:])
    return swapped


def monitorFrames(prefix: bytes, frames: Sequence[bytes]) -> list[bytes]:
    """The copy of a message sent to a device's monitor socket."""
    copy = [prefix]
    copy.extend(frames)
    return copy


def _endpointList(value: Any, what: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str) or (
        isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
    ):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"{what} must be a ZmqEndpoint or a list of them, not "
            f"{type(value).__name__}"
        )
    return tuple((e.type, e.address) for e in map(checkEndpoint, value))


@dataclass(frozen=True)
class DeviceConfig:
    """
    Everything needed to build a device's sockets, in any thread or
    process.
    """

    kind: DeviceKind
    frontend: tuple[tuple[str, str], ...]
    backend: tuple[tuple[str, str], ...]
    monitor: tuple[tuple[str, str], ...] = ()
    inPrefix: bytes = b"in"
    outPrefix: bytes = b"out"
    options: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        kind: DeviceKind,
        frontend: Any,
        backend: Any,
        monitor: Any = None,
        inPrefix: bytes = b"in",
        outPrefix: bytes = b"out",
        options: Mapping[str, object] | None = None,
    ) -> DeviceConfig:
        """
        Check the arguments of a device and return its configuration.

        @raise TypeError: for arguments of the wrong type or an unknown
            socket option.
        @raise ValueError: for socket types a device cannot pair, or no
            frontend or backend endpoint.
        """
        if not isinstance(kind, DeviceKind):
            raise TypeError(
                "kind must be a DeviceKind such as QUEUE, FORWARDER or STREAMER, "
                f"not {type(kind).__name__}"
            )
        directions(kind.frontendType, kind.backendType)
        for name, prefix in (("inPrefix", inPrefix), ("outPrefix", outPrefix)):
            if not isinstance(prefix, bytes):
                raise TypeError(f"{name} must be bytes, not {type(prefix).__name__}")
        config = cls(
            kind,
            _endpointList(frontend, "frontend"),
            _endpointList(backend, "backend"),
            _endpointList(monitor, "monitor"),
            inPrefix,
            outPrefix,
            checkSettings(validators(SOCKET_OPTIONS), options or {}),
        )
        if not config.frontend or not config.backend:
            raise ValueError(
                "a device needs at least one frontend and one backend endpoint"
            )
        return config

    @property
    def swapsRouting(self) -> bool:
        """Whether messages are rewritten with L{swapRoutingFrames}."""
        return self.kind.frontendType == self.kind.backendType == zmq.ROUTER

    def toJSON(self) -> str:
        """Serialise, for a device in another process."""
        return json.dumps(
            {
                "kind": list(self.kind),
                "frontend": self.frontend,
                "backend": self.backend,
                "monitor": self.monitor,
                "inPrefix": self.inPrefix.hex(),
                "outPrefix": self.outPrefix.hex(),
                "options": {
                    name: {"hex": value.hex()} if isinstance(value, bytes) else value
                    for name, value in self.options.items()
                },
            }
        )

    @classmethod
    def fromJSON(cls, text: str) -> DeviceConfig:
        """The inverse of L{toJSON}."""
        data = json.loads(text)
        return cls.build(
            DeviceKind(*data["kind"]),
            [tuple(endpoint) for endpoint in data["frontend"]],
            [tuple(endpoint) for endpoint in data["backend"]],
            [tuple(endpoint) for endpoint in data["monitor"]] or None,
            bytes.fromhex(data["inPrefix"]),
            bytes.fromhex(data["outPrefix"]),
            {
                name: bytes.fromhex(value["hex"]) if isinstance(value, dict) else value
                for name, value in data["options"].items()
            },
        )


def _openSocket(
    context: zmq.Context[Any],
    socketType: int,
    endpoints: Iterable[tuple[str, str]],
    options: Mapping[str, object],
    opened: list[zmq.Socket[Any]],
) -> list[str]:
    """Create, configure and attach a socket; return its bound addresses."""
    socket = context.socket(socketType)
    opened.append(socket)
    socket.set(zmq.LINGER, 0)
    for option, value in socketOptionCalls(SOCKET_OPTIONS, options):
        socket.set(option, value)
    if socketType == zmq.SUB:
        socket.set(zmq.SUBSCRIBE, b"")
    addresses = []
    for kind, address in endpoints:
        attachEndpoint(socket, kind, address)
        if kind == "bind":
            addresses.append(socket.get(zmq.LAST_ENDPOINT).decode())
    return addresses


def runProxy(
    context: zmq.Context[Any],
    config: DeviceConfig,
    controlAddress: str,
    started: Callable[[dict[str, list[str]]], None],
) -> None:
    """
    Run a device in the calling thread until a C{TERMINATE} command
    arrives on the PAIR socket at C{controlAddress} (C{PAUSE} and
    C{RESUME} steer it) or the context is terminated.

    Sockets are created here, in the thread that uses them.  Once they
    are bound, C{started} is called with the bound addresses
    (C{frontend}, C{backend}, C{monitor}).  Plain devices run libzmq's
    C{zmq_proxy_steerable}; monitored and ROUTER-to-ROUTER devices, which
    rewrite messages, run a poll loop.  Every socket is closed on return.

    @raise zmq.ZMQError: when a socket cannot be bound or connected
        (before C{started} is called).
    """
    opened: list[zmq.Socket[Any]] = []
    try:
        control = context.socket(zmq.PAIR)
        opened.append(control)
        control.set(zmq.LINGER, 0)
        control.connect(controlAddress)
        kind = config.kind
        addresses = {
            "frontend": _openSocket(
                context, kind.frontendType, config.frontend, config.options, opened
            ),
            "backend": _openSocket(
                context, kind.backendType, config.backend, config.options, opened
            ),
            "monitor": [],
        }
        monitor = None
        if config.monitor:
            addresses["monitor"] = _openSocket(
                context, zmq.PUB, config.monitor, config.options, opened
            )
            monitor = opened[-1]
        frontend, backend = opened[1], opened[2]
        started(addresses)
        try:
            if usesLibzmqProxy(config):
                zmq.proxy_steerable(frontend, backend, None, control)
            else:
                _pollLoop(config, frontend, backend, monitor, control)
        except zmq.ContextTerminated:
            pass
    finally:
        for socket in opened:
            socket.close(linger=0)


def _pollLoop(
    config: DeviceConfig,
    frontend: zmq.Socket[Any],
    backend: zmq.Socket[Any],
    monitor: zmq.Socket[Any] | None,
    control: zmq.Socket[Any],
) -> None:
    """
    Pass messages with rewriting (monitor copies, ROUTER-to-ROUTER swaps),
    never blocking on a send: a message the target cannot take waits
    (one per direction) while the loop still listens to the control
    socket, so C{TERMINATE} always gets through.
    """
    forward, backward = directions(config.kind.frontendType, config.kind.backendType)
    routes: list[tuple[zmq.Socket[Any], zmq.Socket[Any], bytes]] = []
    if forward:
        routes.append((frontend, backend, config.inPrefix))
    if backward:
        routes.append((backend, frontend, config.outPrefix))
    waiting: list[list[bytes] | None] = [None] * len(routes)
    paused = False
    poller = zmq.Poller()
    while True:
        interest: dict[zmq.Socket[Any], int] = {control: zmq.POLLIN}
        for (source, target, _), message in zip(routes, waiting, strict=True):
            if message is not None:
                interest[target] = interest.get(target, 0) | zmq.POLLOUT
            elif not paused:
                interest[source] = interest.get(source, 0) | zmq.POLLIN
        for socket in (frontend, backend, control):
            poller.register(socket, interest.get(socket, 0))
        ready = dict(poller.poll())
        if ready.get(control, 0) & zmq.POLLIN:
            command = control.recv()
            if command == b"TERMINATE":
                return
            if command in (b"PAUSE", b"RESUME"):
                paused = command == b"PAUSE"
        for index, (source, target, prefix) in enumerate(routes):
            message = waiting[index]
            if message is None:
                if paused or not ready.get(source, 0) & zmq.POLLIN:
                    continue
                try:
                    message = source.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    continue
                if config.swapsRouting:
                    try:
                        message = swapRoutingFrames(message)
                    except MalformedMessage:
                        continue
            try:
                target.send_multipart(message, zmq.NOBLOCK)
            except zmq.Again:
                waiting[index] = message
                continue
            waiting[index] = None
            if monitor is not None:
                try:
                    monitor.send_multipart(monitorFrames(prefix, message), zmq.NOBLOCK)
                except zmq.Again:
                    pass

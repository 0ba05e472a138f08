"""
Devices: queue, forwarder and streamer proxies with a Twisted lifecycle.

A device joins a frontend socket and a backend socket and passes every
message from one to the other: a L{QUEUE} (ROUTER to DEALER) spreads
requests over workers, a L{FORWARDER} (XSUB to XPUB) joins many
publishers to many subscribers, a L{STREAMER} (PULL to PUSH) is a
pipeline stage; any other sensible pair of socket types works too (a
L{DeviceKind}).  With a monitor endpoint, a PUB socket there gets a copy
of every message, prefixed with C{inPrefix} (frontend to backend) or
C{outPrefix}; between two ROUTER sockets the first two frames (sender and
recipient) are swapped on the way.

Three ways to run one, all C{IService}s with the same methods
(L{ZmqDevice.start}, L{ZmqDevice.pause}, L{ZmqDevice.resume},
L{ZmqDevice.stop}, L{ZmqDevice.whenStopped}):

  - L{ReactorDevice}: txzmq connections on the reactor, with flow control
    (a backend at its high-water mark pauses reading from the frontend).
  - L{ThreadDevice}: libzmq's own proxy in a background thread, at
    libzmq's speed, on the factory's context.
  - L{ProcessDevice}: the same in a child process.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import zmq
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ProcessDone
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from txzmq._framing import MalformedMessage
from txzmq._proxy import (
    FORWARDER,
    QUEUE,
    STREAMER,
    DeviceConfig,
    DeviceKind,
    directions,
    monitorFrames,
    runProxy,
    steeringCommand,
    swapRoutingFrames,
)
from txzmq.connection import ZmqConnection, ZmqEndpoint
from txzmq.errors import ZmqConnectionClosedError
from txzmq.factory import ZmqFactory

__all__ = [
    "FORWARDER",
    "QUEUE",
    "STREAMER",
    "DeviceKind",
    "ProcessDevice",
    "ReactorDevice",
    "ThreadDevice",
    "ZmqDevice",
]

_log = Logger()
_deviceIds = itertools.count()


class _Observers:
    """Deferreds waiting for one outcome, and that outcome once known."""

    def __init__(self) -> None:
        self._waiting: list[Deferred[Any]] = []
        self._outcome: tuple[bool, Any] | None = None

    @property
    def done(self) -> bool:
        return self._outcome is not None

    def wait(self) -> Deferred[Any]:
        if self._outcome is not None:
            ok, value = self._outcome
            return succeed(value) if ok else fail(value)
        d: Deferred[Any] = Deferred()
        self._waiting.append(d)
        return d

    def fire(self, ok: bool, value: Any) -> None:
        if self._outcome is not None:
            return
        self._outcome = (ok, value)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            if ok:
                d.callback(value)
            else:
                d.errback(value)


class ZmqDevice(Service):
    """
    A device: the common lifecycle of L{ReactorDevice}, L{ThreadDevice}
    and L{ProcessDevice}.

    As an C{IService}, C{startService} starts it and C{stopService}
    returns a Deferred that fires once it has stopped and closed its
    sockets.

    @ivar config: the checked L{DeviceConfig}.
    @ivar addresses: once started, the addresses bound on each side
        (C{"frontend"}, C{"backend"}, C{"monitor"}), with random tcp ports
        resolved.
    @ivar paused: whether L{pause} was called without L{resume}.
    """

    def __init__(
        self,
        factory: ZmqFactory,
        kind: DeviceKind,
        frontend: ZmqEndpoint | str | Sequence[ZmqEndpoint | str],
        backend: ZmqEndpoint | str | Sequence[ZmqEndpoint | str],
        monitor: ZmqEndpoint | str | Sequence[ZmqEndpoint | str] | None = None,
        *,
        inPrefix: bytes = b"in",
        outPrefix: bytes = b"out",
        **options: Any,
    ) -> None:
        """
        @param factory: the factory whose context and reactor to use.
        @param kind: L{QUEUE}, L{FORWARDER}, L{STREAMER} or any
            L{DeviceKind}.
        @param frontend: endpoint(s) of the frontend socket.
        @param backend: endpoint(s) of the backend socket.
        @param monitor: endpoint(s) of a PUB socket that gets a copy of
            every message, prefixed by direction.
        @param inPrefix: the prefix frame of frontend-to-backend copies.
        @param outPrefix: the prefix frame of backend-to-frontend copies.
        @param options: socket options for every socket of the device, by
            their connection names (C{highWaterMark}, C{lingerPeriod}...).
        @raise TypeError: for arguments of the wrong type.
        @raise ValueError: for socket types a device cannot pair.
        """
        if not isinstance(factory, ZmqFactory):
            raise TypeError(
                f"factory must be a ZmqFactory, not {type(factory).__name__}"
            )
        self.factory = factory
        self.config = DeviceConfig.build(
            kind, frontend, backend, monitor, inPrefix, outPrefix, options
        )
        self.name = f"{kind.name}-device"
        self.addresses: dict[str, list[str]] = {}
        self.paused = False
        self._started = _Observers()
        self._stopped = _Observers()
        self._starting = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.kind.name}>"

    # Lifecycle

    def start(self) -> Deferred[ZmqDevice]:
        """
        Bind and connect the sockets and start passing messages.

        @return: a Deferred firing with the device once its sockets are
            bound (L{addresses} is then set), or failing when they cannot
            be (the device is then stopped).
        """
        if self._stopped.done and not self._started.done:
            return fail(
                ZmqConnectionClosedError(
                    f"{self!r} was stopped; a stopped device does not start again"
                )
            )
        if self._stopped.done:
            return fail(
                ZmqConnectionClosedError(
                    f"{self!r} has stopped; create a new device to start again"
                )
            )
        if not self._starting:
            self._starting = True
            try:
                self.factory._checkOpen()
                self._start()
            except BaseException:
                self._ended(Failure())
        return self._started.wait()

    def startService(self) -> None:
        """Start the device (errors are logged)."""
        super().startService()
        self.start().addErrback(
            lambda f: _log.failure("{device!r} failed to start", f, device=self)
        )

    def stop(self) -> Deferred[None]:
        """
        Stop passing messages and close the device's sockets.

        @return: a Deferred firing once it is down (see L{whenStopped}).
        """
        if self._starting and not self._stopped.done:
            self._stop()
        elif not self._starting:
            self._starting = True
            self._ended(Failure(ZmqConnectionClosedError(f"{self!r} was stopped")))
        return self._stopped.wait()

    def stopService(self) -> Deferred[None]:
        """Stop the device; the Deferred fires once it is down."""
        super().stopService()
        return self.stop()

    def whenStarted(self) -> Deferred[ZmqDevice]:
        """A Deferred firing with the device once its sockets are bound."""
        return self._started.wait()

    def whenStopped(self) -> Deferred[None]:
        """A Deferred firing once the device has stopped."""
        return self._stopped.wait()

    def pause(self) -> None:
        """Stop passing messages (they wait in the sockets' queues)."""
        self._checkRunning()
        if not self.paused:
            self.paused = True
            self._steer(b"PAUSE")

    def resume(self) -> None:
        """Pass messages again after L{pause}."""
        self._checkRunning()
        if self.paused:
            self.paused = False
            self._steer(b"RESUME")

    def _checkRunning(self) -> None:
        if not self._started.done or self._stopped.done:
            raise ZmqConnectionClosedError(
                f"{self!r} is not running; start it and wait for whenStarted()"
            )

    # For subclasses

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError

    def _steer(self, command: bytes) -> None:
        raise NotImplementedError

    def _bound(self, addresses: dict[str, list[str]]) -> None:
        self.addresses = addresses
        self._started.fire(True, self)

    def _ended(self, failure: Failure | None = None) -> None:
        if not self._started.done:
            self._started.fire(
                False,
                failure
                or Failure(
                    ZmqConnectionClosedError(f"{self!r} stopped before starting")
                ),
            )
        elif failure is not None:
            _log.failure("{device!r} failed", failure, device=self)
        self._stopped.fire(True, None)


# ---------------------------------------------------------------------------
# In the reactor


class _Side(ZmqConnection):
    """One socket of a L{ReactorDevice}: hands what it reads to the device."""

    _sideClasses: ClassVar[dict[int, type[_Side]]] = {}

    def __init__(
        self, factory: ZmqFactory, device: ReactorDevice, **settings: Any
    ) -> None:
        self.device = device
        self.held = False
        super().__init__(factory, **settings)

    @classmethod
    def forType(cls, socketType: int, receives: bool) -> type[_Side]:
        key = socketType if receives else -socketType - 1
        if key not in cls._sideClasses:
            cls._sideClasses[key] = type(
                f"_Side_{zmq.SocketType(socketType).name}",
                (cls,),
                {"socketType": socketType, "_canReceive": receives},
            )
        return cls._sideClasses[key]

    def messageReceived(self, message: list[bytes]) -> None:
        self.device._forward(self, message)

    def _updateReading(self) -> None:
        super()._updateReading()
        if self.held:
            self._reading = False

    def logPrefix(self) -> str:
        return "ZMQ-device"


class ReactorDevice(ZmqDevice):
    """
    A device made of txzmq connections, on the reactor.

    Flow control: each side is registered as the producer of the other,
    so a side that cannot send (its peers are at their high-water mark)
    pauses reading from the other; messages then back up in libzmq, up to
    the high-water marks, and past them the peers are pushed back (PUB
    and XPUB sockets drop instead, as ZeroMQ does).  Nothing is buffered
    without bound and nothing blocks the reactor.
    """

    frontend: _Side | None = None
    backend: _Side | None = None
    monitor: _Side | None = None

    def _start(self) -> None:
        config = self.config
        kind = config.kind
        forward, backward = directions(kind.frontendType, kind.backendType)
        options = dict(config.options)
        addresses: dict[str, list[str]] = {"frontend": [], "backend": [], "monitor": []}
        try:
            self.frontend = self._open(
                kind.frontendType,
                forward,
                config.frontend,
                options,
                addresses["frontend"],
            )
            self.backend = self._open(
                kind.backendType,
                backward,
                config.backend,
                options,
                addresses["backend"],
            )
            if config.monitor:
                self.monitor = self._open(
                    zmq.PUB, False, config.monitor, options, addresses["monitor"]
                )
        except BaseException:
            self._closeSides()
            raise
        if kind.frontendType == zmq.SUB:
            self.frontend.socket.set(zmq.SUBSCRIBE, b"")
        if forward:
            self.backend.registerProducer(self.frontend, True)
        if backward:
            self.frontend.registerProducer(self.backend, True)
        self.factory._addCloser(self._stop)
        self._bound(addresses)

    def _open(
        self,
        socketType: int,
        receives: bool,
        endpoints: tuple[tuple[str, str], ...],
        options: Mapping[str, Any],
        addresses: list[str],
    ) -> _Side:
        side = _Side.forType(socketType, receives)(self.factory, self, **options)
        try:
            for kind, address in endpoints:
                side.addEndpoints([ZmqEndpoint(kind, address)])
                if kind == "bind":
                    addresses.append(side.socket.getsockopt_string(zmq.LAST_ENDPOINT))
        except BaseException:
            side.shutdown()
            raise
        return side

    def _forward(self, source: _Side, frames: list[bytes]) -> None:
        """Pass a message read on C{source} to the other side."""
        config = self.config
        if source is self.frontend:
            target, prefix = self.backend, config.inPrefix
        else:
            target, prefix = self.frontend, config.outPrefix
        assert target is not None
        if config.swapsRouting:
            try:
                frames = swapRoutingFrames(frames)
            except MalformedMessage as e:
                _log.warn(
                    "{device!r} drops a message: {reason}", device=self, reason=str(e)
                )
                return
        target.write(frames)
        if self.monitor is not None:
            self.monitor.send(monitorFrames(prefix, frames))

    def _steer(self, command: bytes) -> None:
        for side in (self.frontend, self.backend):
            if side is not None:
                side.held = command == b"PAUSE"
                side._updateReading()

    def _closeSides(self) -> None:
        for side in (self.frontend, self.backend, self.monitor):
            if side is not None:
                side.unregisterProducer()
                side.shutdown()

    def _stop(self) -> None:
        self.factory._removeCloser(self._stop)
        self._closeSides()
        self._ended()


# ---------------------------------------------------------------------------
# In a thread


class ThreadDevice(ZmqDevice):
    """
    A device run by libzmq (C{zmq_proxy_steerable}) in a background
    thread, on the factory's context; monitored and ROUTER-to-ROUTER
    devices run a poll loop there instead, since they rewrite messages.

    The device's sockets are created in its thread.  It is steered
    through an inproc PAIR socket, so L{pause}, L{resume} and L{stop}
    never block the reactor.  Shutting the factory down stops it too.
    """

    _control: zmq.Socket[Any] | None = None

    def _start(self) -> None:
        address = f"inproc://txzmq-device-{os.getpid()}-{next(_deviceIds)}"
        control = self.factory.context.socket(zmq.PAIR)
        control.set(zmq.LINGER, 0)
        control.bind(address)
        self._control = control
        self.factory._addCloser(self._stop)
        reactor = self.factory.reactor
        thread = threading.Thread(
            target=self._run, args=(reactor, address), name=repr(self), daemon=True
        )
        thread.start()

    def _run(self, reactor: Any, address: str) -> None:
        failure = None
        try:
            runProxy(
                self.factory.context,
                self.config,
                address,
                lambda addresses: reactor.callFromThread(self._bound, addresses),
            )
        except BaseException:
            failure = Failure()
        reactor.callFromThread(self._threadEnded, failure)

    def _threadEnded(self, failure: Failure | None) -> None:
        self._closeControl()
        self._ended(failure)

    def _closeControl(self) -> None:
        self.factory._removeCloser(self._stop)
        control, self._control = self._control, None
        if control is not None:
            control.close(linger=0)

    def _steer(self, command: bytes) -> None:
        if self._control is not None:
            self._control.send(steeringCommand(self.config, command), zmq.NOBLOCK)

    def _stop(self) -> None:
        control = self._control
        if control is None:
            return
        try:
            control.send(b"TERMINATE", zmq.NOBLOCK)
        except zmq.ZMQError:
            # The thread never connected (it failed early): nothing to stop.
            pass
        if self.factory.closed:
            # The context is about to terminate: our socket must not hold
            # it up, and the thread's blocking calls will end with ETERM.
            self._closeControl()


# ---------------------------------------------------------------------------
# In a process


class _DeviceProcess(ProcessProtocol):
    def __init__(self, device: ProcessDevice) -> None:
        self.device = device
        self._out = b""
        self._err = b""

    def outReceived(self, data: bytes) -> None:
        self._out += data
        while b"\n" in self._out:
            line, self._out = self._out.split(b"\n", 1)
            self.device._report(line)

    def errReceived(self, data: bytes) -> None:
        self._err = (self._err + data)[-4096:]

    def processEnded(self, reason: Failure) -> None:
        self.device._processEnded(reason, self._err.decode(errors="replace"))


class ProcessDevice(ZmqDevice):
    """
    A device run by libzmq in a child process (C{python -m
    txzmq._deviceprocess}), steered through the child's standard input.

    The child has its own context, so the device's endpoints must be tcp
    or ipc.  If this process dies, the child sees its input close and
    stops too.

    @cvar killAfter: seconds L{stop} waits for the child before killing it.
    """

    killAfter: float = 5.0
    _process: Any = None

    def _start(self) -> None:
        for side in ("frontend", "backend", "monitor"):
            for _, address in getattr(self.config, side):
                if address.startswith("inproc://"):
                    raise ValueError(
                        f"a ProcessDevice cannot use the inproc address {address!r}; "
                        "use tcp or ipc"
                    )
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [here, *filter(None, [env.get("PYTHONPATH")])]
        )
        config = self.config.toJSON().encode() + b"\n"
        reactor = self.factory.reactor
        self._killer: Any = None
        self._process = reactor.spawnProcess(
            _DeviceProcess(self),
            sys.executable,
            [sys.executable, "-m", "txzmq._deviceprocess"],
            env=env,
        )
        self._process.write(config)
        self.factory._addCloser(self._stop)

    def _report(self, line: bytes) -> None:
        try:
            addresses = json.loads(line)
        except ValueError:
            _log.warn("{device!r} said {line!r}", device=self, line=line)
            return
        self._bound(addresses)

    def _steer(self, command: bytes) -> None:
        if self._process is not None:
            self._process.write(command + b"\n")

    def _stop(self) -> None:
        if self._process is None or self._killer is not None:
            return
        self._process.write(b"TERMINATE\n")
        self._process.closeStdin()
        self._killer = self.factory.reactor.callLater(self.killAfter, self._kill)

    def _kill(self) -> None:
        self._killer = None
        if self._process is not None:
            self._process.signalProcess("KILL")

    def _processEnded(self, reason: Failure, errors: str) -> None:
        self.factory._removeCloser(self._stop)
        self._process = None
        if self._killer is not None:
            self._killer.cancel()
            self._killer = None
        failure = None
        if not reason.check(ProcessDone):
            detail = errors.strip().splitlines()[-1:] or [str(reason.value)]
            failure = Failure(RuntimeError(f"{self!r} failed: {detail[0]}"))
        self._ended(failure)

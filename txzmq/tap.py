"""
C{twistd txzmq}: run a device as a daemon::

    twistd -n txzmq --kind queue
        --frontend bind:tcp://*:5555 --backend bind:tcp://*:5556
        [--monitor bind:tcp://*:5557] [--mode thread]

twistd brings its usual options (logging, pidfile, daemonizing); SIGTERM
stops the device, closes its sockets and terminates the context.  A
device that cannot start makes twistd exit with status 1.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

from twisted.application.service import IService
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from txzmq._proxy import FORWARDER, QUEUE, STREAMER
from txzmq.devices import ProcessDevice, ReactorDevice, ThreadDevice
from txzmq.endpoints import parseEndpoint
from txzmq.service import ZmqService

__all__ = ["Options", "makeService"]

KINDS = {"queue": QUEUE, "forwarder": FORWARDER, "streamer": STREAMER}
MODES = {"reactor": ReactorDevice, "thread": ThreadDevice, "process": ProcessDevice}

_log = Logger()


class Options(usage.Options):
    """Options of C{twistd txzmq}."""

    synopsis = (
        "[options] --frontend ENDPOINT --backend ENDPOINT\n"
        "ENDPOINT is bind:ADDRESS or connect:ADDRESS, e.g. bind:tcp://*:5555"
    )
    optParameters = [
        ["kind", "k", "queue", "Device kind: " + ", ".join(KINDS)],
        ["mode", None, "reactor", "Run it: " + ", ".join(MODES)],
        ["in-prefix", None, "in", "Prefix of frontend-to-backend monitor copies"],
        ["out-prefix", None, "out", "Prefix of backend-to-frontend monitor copies"],
        ["hwm", None, None, "High-water mark of every socket", int],
    ]

    def __init__(self) -> None:
        super().__init__()
        for side in ("frontend", "backend", "monitor"):
            self[side] = []

    def _endpoint(self, side: str, text: str) -> None:
        try:
            self[side].append(parseEndpoint(text))
        except ValueError as e:
            raise usage.UsageError(f"--{side}: {e}") from None

    def opt_frontend(self, text: str) -> None:
        """Frontend endpoint (repeatable)."""
        self._endpoint("frontend", text)

    def opt_backend(self, text: str) -> None:
        """Backend endpoint (repeatable)."""
        self._endpoint("backend", text)

    def opt_monitor(self, text: str) -> None:
        """Endpoint of a PUB socket copying every message (repeatable)."""
        self._endpoint("monitor", text)

    opt_f = opt_frontend
    opt_b = opt_backend
    opt_m = opt_monitor

    def postOptions(self) -> None:
        if self["kind"] not in KINDS:
            raise usage.UsageError(
                f"--kind must be one of {', '.join(KINDS)}, not {self['kind']!r}"
            )
        if self["mode"] not in MODES:
            raise usage.UsageError(
                f"--mode must be one of {', '.join(MODES)}, not {self['mode']!r}"
            )
        if not self["frontend"] or not self["backend"]:
            raise usage.UsageError("give at least one --frontend and one --backend")
        if self["hwm"] is not None and self["hwm"] < 0:
            raise usage.UsageError("--hwm must be >= 0")


def _exitWithStatus(status: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class _DeviceService(ZmqService):
    """
    The service twistd runs: a L{ZmqService} holding the device, that
    makes a device which cannot start fail twistd, with exit status 1.

    A reactor device that cannot bind fails at once: then C{startService}
    raises, and twistd removes its pidfile and exits with status 1 (a
    daemonizing twistd's parent too).  Thread and process devices bind
    off the reactor and fail later: then the reactor is stopped, and once
    twistd has shut down (pidfile removed, log written) the process exits
    with status 1, since twistd itself only passes on signals.
    """

    _starting = False
    _failure: Failure | None = None

    def startService(self) -> None:
        self._starting = True
        try:
            super().startService()
        finally:
            self._starting = False
        if self._failure is not None:
            self._failure.raiseException()

    def deviceFailed(self, failure: Failure) -> None:
        """The device did not start (L{ZmqDevice.startService} logged why)."""
        if self._starting:
            self._failure = failure
            return
        if not self.running:
            return  # stopped before the device started: not a failure
        atexit.register(_exitWithStatus, 1)
        reactor = self.factory.reactor
        reactor.callWhenRunning(reactor.stop)


def makeService(options: Any) -> IService:
    """The device under a L{ZmqService}, ready for twistd."""
    from twisted.internet import reactor

    service = _DeviceService(reactor=reactor)
    settings = {} if options["hwm"] is None else {"highWaterMark": options["hwm"]}
    device = MODES[options["mode"]](
        service.factory,
        KINDS[options["kind"]],
        options["frontend"],
        options["backend"],
        options["monitor"] or None,
        inPrefix=options["in-prefix"].encode(),
        outPrefix=options["out-prefix"].encode(),
        **settings,
    )
    device.setServiceParent(service)

    def started(device: Any) -> None:
        _log.info(
            "txzmq {kind} device ({mode}) running: {addresses}",
            kind=options["kind"],
            mode=options["mode"],
            addresses=device.addresses,
        )

    device.whenStarted().addCallbacks(started, service.deviceFailed)
    return service

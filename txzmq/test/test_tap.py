"""
The twistd plugin, C{twistd -n txzmq ...}: its options in this process,
then real daemons in child processes, with messages passed through them
by this process's txzmq connections, and a SIGTERM to stop them.

The daemon logs to a file (as it would in production); the test watches
that file for the line that gives the bound addresses, checking it
often, with a bounded timeout, and goes on as soon as the line is there.
"""

from __future__ import annotations

import ast
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

import zmq
from twisted.application.service import IServiceMaker
from twisted.internet import defer
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import LoopingCall
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial import unittest

import txzmq
from txzmq import (
    ZmqEndpoint,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    tap,
)
from txzmq.devices import ReactorDevice, ThreadDevice
from txzmq.service import ZmqService
from txzmq.test.test_cli import Child, childEnvironment

ROOT = Path(txzmq.__file__).resolve().parent.parent
TIMEOUT = 15.0
"""Seconds to wait for the daemon's log line or exit."""

RUNNING = re.compile(r"txzmq (\w+) device \((\w+)\) running: (\{.*\})")
RUN_TWISTD = "import sys; from twisted.scripts.twistd import run; run()"


def parse(*args: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(args))
    return options


class OptionsTests(unittest.SynchronousTestCase):
    """C{twistd txzmq} options, parsed in this process."""

    def test_defaults(self) -> None:
        options = parse(
            "--frontend", "bind:tcp://*:5555", "--backend", "bind:tcp://*:5556"
        )
        self.assertEqual(options["kind"], "queue")
        self.assertEqual(options["mode"], "reactor")
        self.assertEqual(options["frontend"], [ZmqEndpoint("bind", "tcp://*:5555")])
        self.assertEqual(options["backend"], [ZmqEndpoint("bind", "tcp://*:5556")])
        self.assertEqual(options["monitor"], [])
        self.assertIsNone(options["hwm"])

    def test_everything(self) -> None:
        """Short options, repeated endpoints, a monitor, modes and hwm."""
        options = parse(
            "-k", "forwarder", "--mode", "thread",
            "-f", "bind:tcp://*:5555", "-f", "connect:ipc:///tmp/a",
            "-b", "bind:tcp://*:5556", "-m", "bind:tcp://*:5557",
            "--hwm", "10", "--in-prefix", "I", "--out-prefix", "O",
        )  # fmt: skip
        self.assertEqual(options["kind"], "forwarder")
        self.assertEqual(options["mode"], "thread")
        self.assertEqual(
            options["frontend"],
            [
                ZmqEndpoint("bind", "tcp://*:5555"),
                ZmqEndpoint("connect", "ipc:///tmp/a"),
            ],
        )
        self.assertEqual(options["monitor"], [ZmqEndpoint("bind", "tcp://*:5557")])
        self.assertEqual(options["hwm"], 10)
        self.assertEqual((options["in-prefix"], options["out-prefix"]), ("I", "O"))

    def test_usageErrors(self) -> None:
        """Each mistake is a UsageError that says what is wrong."""
        both = ["--frontend", "bind:tcp://*:1", "--backend", "bind:tcp://*:2"]
        cases = [
            ([], "give at least one --frontend and one --backend"),
            (["--frontend", "bind:tcp://*:1"], "one --backend"),
            (
                ["--kind", "router", *both],
                "--kind must be one of queue, forwarder, streamer",
            ),
            (
                ["--mode", "fork", *both],
                "--mode must be one of reactor, thread, process",
            ),
            (
                ["--frontend", "tcp://*:1"],
                "--frontend: endpoint 'tcp://*:1' must start with",
            ),
            (
                ["--backend", "bind:nowhere"],
                "--backend: endpoint 'bind:nowhere' has no address",
            ),
            (["--hwm", "-1", *both], "--hwm must be >= 0"),
            (["--hwm", "many", *both], "Parameter type enforcement failed"),
            (["--no-such-option"], "no-such-option"),
        ]
        for args, message in cases:
            error = self.assertRaises(usage.UsageError, parse, *args)
            self.assertIn(message, str(error), args)

    def test_plugin(self) -> None:
        """twistd finds the plugin by its name, txzmq, with these options."""
        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
        self.assertIn("txzmq", makers)
        self.assertIs(makers["txzmq"].options, tap.Options)

    def test_makeService(self) -> None:
        """makeService puts the device of the chosen mode under a ZmqService."""
        for mode, deviceClass in [("reactor", ReactorDevice), ("thread", ThreadDevice)]:
            options = parse(
                "--kind", "streamer", "--mode", mode, "--hwm", "5",
                "--frontend", "bind:tcp://127.0.0.1:*",
                "--backend", "bind:tcp://127.0.0.1:*",
            )  # fmt: skip
            service = cast(ZmqService, tap.makeService(options))
            self.addCleanup(service.factory.shutdown)
            self.assertIsInstance(service, ZmqService)
            (device,) = list(service)
            self.assertIsInstance(device, deviceClass)
            self.assertEqual(device.config.kind.name, "streamer")
            self.assertFalse(device.running)

    def test_stoppedBeforeStartingIsNoFailure(self) -> None:
        """
        A device whose start fails because twistd is stopping (the service
        no longer runs) does not make the exit status 1.
        """
        options = parse(
            "--kind", "streamer", "--mode", "thread",
            "--frontend", "bind:tcp://127.0.0.1:*",
            "--backend", "bind:tcp://127.0.0.1:*",
        )  # fmt: skip
        service = cast(tap._DeviceService, tap.makeService(options))
        self.addCleanup(service.factory.shutdown)
        registered: list[object] = []
        self.patch(tap.atexit, "register", lambda *args: registered.append(args))
        (device,) = list(service)
        device.stop()
        self.assertEqual(registered, [])


class Daemon:
    """A C{twistd -n txzmq ...} child with its pidfile and logfile."""

    def __init__(self, case: TwistdTests, *deviceArgs: str) -> None:
        self.case = case
        directory = Path(tempfile.mkdtemp(prefix="txzmq-twistd-"))
        case.addCleanup(shutil.rmtree, directory, True)
        self.pidfile = directory / "twistd.pid"
        self.logfile = directory / "twistd.log"
        args = [
            "-n",
            f"--pidfile={self.pidfile}",
            f"--logfile={self.logfile}",
            "txzmq",
            *deviceArgs,
        ]
        self.child = Child(case.reactor, ["(twistd)", *args])
        case.reactor.spawnProcess(
            self.child,
            sys.executable,
            [sys.executable, "-c", RUN_TWISTD, *args],
            env=childEnvironment(),
            path=str(directory),
        )
        case.daemons.append(self)

    def log(self) -> str:
        try:
            return self.logfile.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def report(self) -> str:
        return f"{self.child.report()}\n--- {self.logfile}:\n{self.log()}"

    def waitForLog(self, pattern: re.Pattern[str]) -> Deferred[re.Match[str]]:
        """
        Fire with the first match of C{pattern} in the log, checking the
        file every 20 ms; fail when the daemon exits first or after
        L{TIMEOUT} seconds.
        """
        d: Deferred[re.Match[str]] = Deferred()
        deadline = self.case.reactor.seconds() + TIMEOUT

        def check() -> None:
            match = pattern.search(self.log())
            if match is not None:
                loop.stop()
                d.callback(match)
            elif self.child.done or self.case.reactor.seconds() > deadline:
                loop.stop()
                what = "exited" if self.child.done else f"did not log it in {TIMEOUT} s"
                d.errback(
                    AssertionError(
                        f"twistd {what}, waiting for {pattern.pattern!r}\n{self.report()}"
                    )
                )

        loop = LoopingCall(check)
        loop.clock = self.case.reactor
        loop.start(0.02)
        return d

    async def addresses(self) -> dict[str, list[str]]:
        match = await self.waitForLog(RUNNING)
        parsed = ast.literal_eval(match.group(3))
        assert isinstance(parsed, dict)
        return parsed

    async def stop(self) -> None:
        """
        SIGTERM: the daemon shuts down cleanly, removes its pidfile and
        logs its shutdown.

        twistd then ends the way it was asked to: after its clean shutdown,
        it kills itself with the signal it received (C{_exitWithSignal},
        so that a supervisor sees the process stopped by its SIGTERM);
        older twistd exited with status 0.  Both are accepted; anything
        else (a status of 1, a crash, a SIGKILL) is not.
        """
        self.case.assertTrue(self.pidfile.exists(), self.report())
        self.case.assertEqual(
            int(self.pidfile.read_text().strip()), self.child.process.pid
        )
        self.child.kill("TERM")
        await self.child.exit()
        ending = (self.child.status, self.child.signal)
        self.case.assertIn(ending, [(0, None), (None, signal.SIGTERM)], self.report())
        self.case.assertFalse(self.pidfile.exists(), self.report())
        log = self.log()
        self.case.assertIn("Main loop terminated.", log)
        self.case.assertIn("Server Shut Down.", log)
        for trouble in ("Traceback", "Unhandled", "#critical]", "#error]"):
            self.case.assertNotIn(trouble, log, self.report())


class TwistdTests(unittest.TestCase):
    """Real daemons, in child processes."""

    timeout = 60

    def setUp(self) -> None:
        from twisted.internet import reactor

        self.reactor = reactor
        self.daemons: list[Daemon] = []
        self.factory = ZmqFactory(reactor)
        self.addCleanup(self._stopDaemons)

    def _stopDaemons(self) -> Deferred[Any]:
        self.factory.shutdown()
        waiting = []
        for daemon in self.daemons:
            if not daemon.child.done:
                daemon.child.kill("KILL")
                waiting.append(daemon.child.ended)
        return gatherResults(waiting)

    async def _receive(self, pull: ZmqPullConnection, count: int) -> list[bytes]:
        received = []
        for _ in range(count):
            (frame,) = await pull.receive().addTimeout(TIMEOUT, self.reactor)
            received.append(frame)
        return received

    async def _streamer(self, mode: str) -> None:
        daemon = Daemon(
            self, "--kind", "streamer", "--mode", mode,
            "--frontend", "bind:tcp://127.0.0.1:*",
            "--backend", "bind:tcp://127.0.0.1:*",
        )  # fmt: skip
        addresses = await daemon.addresses()
        self.assertIn(f"txzmq streamer device ({mode}) running", daemon.log())
        (frontend,) = addresses["frontend"]
        (backend,) = addresses["backend"]
        push = ZmqPushConnection(self.factory, ZmqEndpoint("connect", frontend))
        pull = ZmqPullConnection(self.factory, ZmqEndpoint("connect", backend))
        messages = [b"message %d" % n for n in range(300)]
        receiving = defer.ensureDeferred(self._receive(pull, len(messages)))
        for message in messages:
            await push.pushDeferred(message)
        self.assertEqual(await receiving, messages)
        await daemon.stop()

    def test_streamer(self) -> Deferred[None]:
        """
        A streamer daemon passes every message from the frontend to the
        backend, in order, and stops cleanly on SIGTERM.
        """
        return defer.ensureDeferred(self._streamer("reactor"))

    def test_streamerThread(self) -> Deferred[None]:
        """The same, with the device in a thread."""
        return defer.ensureDeferred(self._streamer("thread"))

    async def test_queue(self) -> None:
        """A queue daemon carries requests to a REP worker and its replies back."""
        daemon = Daemon(
            self, "--kind", "queue",
            "--frontend", "bind:tcp://127.0.0.1:*",
            "--backend", "bind:tcp://127.0.0.1:*",
        )  # fmt: skip
        addresses = await daemon.addresses()

        class Worker(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
                return [b"echo", *parts]

        Worker(self.factory, ZmqEndpoint("connect", addresses["backend"][0]))
        client = ZmqREQConnection(
            self.factory, ZmqEndpoint("connect", addresses["frontend"][0])
        )
        replies = await gatherResults(
            [client.sendMsg(b"request %d" % n, timeout=TIMEOUT) for n in range(5)]
        )
        self.assertEqual(replies, [[b"echo", b"request %d" % n] for n in range(5)])
        await daemon.stop()

    async def _failingDaemon(self, mode: str) -> str:
        """
        Run a device of C{mode} whose frontend address is taken; check
        that twistd logged why, removed its pidfile and exited with
        status 1; return its log.
        """
        taken = ZmqPullConnection(
            self.factory, ZmqEndpoint("bind", "tcp://127.0.0.1:*")
        )
        address = taken.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        daemon = Daemon(
            self, "--kind", "streamer", "--mode", mode,
            "--frontend", f"bind:{address}",
            "--backend", "bind:tcp://127.0.0.1:*",
        )  # fmt: skip
        await daemon.child.exit()
        log = daemon.log()
        self.assertEqual((daemon.child.status, daemon.child.signal), (1, None), log)
        self.assertIn("failed to start", log, daemon.report())
        self.assertIn("Address already in use", log)
        self.assertFalse(daemon.pidfile.exists())
        return log

    async def test_startFails(self) -> None:
        """
        A reactor device that cannot bind fails twistd's start: the
        failure is logged, the pidfile removed, and twistd exits with
        status 1 (it does not linger without a device).
        """
        await self._failingDaemon("reactor")

    async def test_startFailsThread(self) -> None:
        """
        A thread device binds off the reactor and fails later: twistd
        shuts down as usual (C{Server Shut Down.}) and exits with status 1.
        """
        log = await self._failingDaemon("thread")
        self.assertIn("Server Shut Down.", log)

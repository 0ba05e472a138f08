"""
The C{txzmq} command, end to end: every test runs C{python -m txzmq ...}
in child processes, started with C{spawnProcess} so that trial's reactor
keeps running (and can host the test's own txzmq or pyzmq sockets).

Nothing waits for a fixed time: a test reads the children's output line
by line and goes on when the line it needs arrives (a binding command
prints C{bound tcp://127.0.0.1:PORT} for a random port), with a bounded
timeout that fails the test and shows what the child printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial import unittest

import txzmq
from txzmq.cli import CommandError, _security, formatMessage, parseArguments
from txzmq.security import loadCertificate

ROOT = Path(txzmq.__file__).resolve().parent.parent
LINE_TIMEOUT = 15.0
"""Seconds a test waits for a line or an exit before it fails."""

BOUND = re.compile(r"^bound (tcp://\S+)$")


class Child(ProcessProtocol):
    """
    A running C{python -m txzmq ...}: its output as lines, Deferreds for
    the line a test waits for, and for its exit status.
    """

    def __init__(self, reactor: Any, args: list[str]) -> None:
        self.reactor = reactor
        self.args = args
        self.lines: dict[int, list[bytes]] = {1: [], 2: []}
        self._partial = {1: b"", 2: b""}
        self._waiters: list[tuple[int, re.Pattern[bytes], Deferred[Any]]] = []
        self.status: int | None = None
        self.signal: int | None = None
        self.ended: Deferred[int | None] = Deferred()
        self.done = False

    # ProcessProtocol

    def childDataReceived(self, fd: int, data: bytes) -> None:
        buffered = self._partial[fd] + data
        *complete, self._partial[fd] = buffered.split(b"\n")
        for line in complete:
            self.lines[fd].append(line)
            self._check(fd, line)

    def processEnded(self, reason: Failure) -> None:
        for fd in (1, 2):
            if self._partial[fd]:
                self.lines[fd].append(self._partial[fd])
                self._partial[fd] = b""
        if reason.check(ProcessDone, ProcessTerminated):
            self.status = getattr(reason.value, "exitCode", None)
            self.signal = getattr(reason.value, "signal", None)
        self.done = True
        waiters, self._waiters = self._waiters, []
        for _fd, pattern, d in waiters:
            d.errback(
                AssertionError(
                    f"{self} ended (status {self.status}) before printing a line "
                    f"matching {pattern.pattern!r}\n{self.report()}"
                )
            )
        self.ended.callback(self.status)

    # For tests

    def __str__(self) -> str:
        return "txzmq " + " ".join(self.args)

    @property
    def out(self) -> list[bytes]:
        return self.lines[1]

    @property
    def err(self) -> list[bytes]:
        return self.lines[2]

    def report(self) -> str:
        def show(lines: list[bytes]) -> str:
            return "\n".join(line.decode("utf-8", "replace") for line in lines)

        return f"--- stdout of {self}:\n{show(self.out)}\n--- stderr:\n{show(self.err)}"

    def _check(self, fd: int, line: bytes) -> None:
        for waiter in list(self._waiters):
            wantedFd, pattern, d = waiter
            match = pattern.search(line) if wantedFd == fd else None
            if match is not None:
                self._waiters.remove(waiter)
                d.callback(match)

    def waitFor(self, pattern: str | bytes, fd: int = 1) -> Deferred[re.Match[bytes]]:
        """
        Fire with the match of the first line (seen or to come) on C{fd}
        that matches C{pattern}.
        """
        raw = pattern.encode() if isinstance(pattern, str) else pattern
        compiled = re.compile(raw)
        for line in self.lines[fd]:
            match = compiled.search(line)
            if match is not None:
                return defer.succeed(match)
        d: Deferred[re.Match[bytes]] = Deferred()
        if self.done:
            d.errback(AssertionError(f"{self} ended without {raw!r}\n{self.report()}"))
            return d
        self._waiters.append((fd, compiled, d))
        return d.addTimeout(LINE_TIMEOUT, self.reactor).addErrback(self._timedOut, raw)

    def _timedOut(self, failure: Failure, pattern: bytes) -> Failure:
        if failure.check(defer.TimeoutError):
            raise AssertionError(
                f"{self} printed no line matching {pattern!r} within "
                f"{LINE_TIMEOUT} s\n{self.report()}"
            )
        return failure

    async def bound(self) -> str:
        """The address a binding command reports on standard error."""
        match = await self.waitFor(BOUND.pattern, fd=2)
        return match.group(1).decode()

    async def exit(self) -> int | None:
        """Wait for the exit status (the child is killed after a timeout)."""
        if not self.done:
            try:
                await self.ended.addTimeout(LINE_TIMEOUT, self.reactor)
            except defer.TimeoutError:
                raise AssertionError(
                    f"{self} did not exit within {LINE_TIMEOUT} s\n{self.report()}"
                ) from None
        return self.status

    @property
    def process(self) -> IProcessTransport:
        assert self.transport is not None
        return self.transport

    def write(self, data: bytes) -> None:
        self.process.write(data)

    def closeStdin(self) -> None:
        self.process.closeStdin()

    def kill(self, name: str) -> None:
        if not self.done:
            self.process.signalProcess(name)


def childEnvironment() -> dict[str, str]:
    """
    The environment of a child: this checkout first on C{PYTHONPATH}
    (twistd finds the plugin there too) and, when this process runs under
    coverage, coverage in the child as well (see L{_childCoverage}).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.pop("COVERAGE_PROCESS_START", None)
    config = _childCoverage()
    if config is not None:
        env["COVERAGE_PROCESS_START"] = config
    return env


_coverageConfig: list[str] = []


def _childCoverage() -> str | None:
    """
    When this process is measured by coverage (C{run.py test}), a
    configuration for children: they measure txzmq in parallel mode, next
    to this process's data file, so that C{coverage combine} adds what the
    command-line tool did in its own processes.  None otherwise.
    """
    try:
        import coverage
    except ImportError:
        return None
    current = coverage.Coverage.current()
    if current is None:
        return None
    if not _coverageConfig:
        dataFile = os.path.abspath(current.config.data_file)
        directory = tempfile.mkdtemp(prefix="txzmq-cli-coverage-")
        path = os.path.join(directory, "coveragerc")
        with open(path, "w") as f:
            f.write(
                "[run]\n"
                "parallel = True\n"
                f"source = {Path(txzmq.__file__).resolve().parent}\n"
                f"data_file = {dataFile}\n"
            )
        _coverageConfig.append(path)
    return _coverageConfig[0]


class CLITestCase(unittest.TestCase):
    timeout = 60

    def setUp(self) -> None:
        from twisted.internet import reactor

        self.reactor = reactor
        self.children: list[Child] = []
        self.addCleanup(self._stopChildren)

    def _stopChildren(self) -> Deferred[Any]:
        waiting = []
        for child in self.children:
            if not child.done:
                child.kill("KILL")
                waiting.append(child.ended)
        return gatherResults(waiting)

    def start(self, *args: str | bytes, stdin: bytes | None = None) -> Child:
        """Start C{python -m txzmq ARGS}; C{stdin} is written and closed."""
        shown = [
            a if isinstance(a, str) else a.decode("utf-8", "replace") for a in args
        ]
        child = Child(self.reactor, shown)
        argv: list[str | bytes] = [sys.executable, "-m", "txzmq", *args]
        self.reactor.spawnProcess(
            child, sys.executable, argv, env=childEnvironment(), path=str(ROOT)
        )
        self.children.append(child)
        if stdin is not None:
            child.write(stdin)
            child.closeStdin()
        return child

    async def runToEnd(self, *args: str | bytes, stdin: bytes | None = b"") -> Child:
        """Run C{python -m txzmq ARGS} to its end."""
        child = self.start(*args, stdin=stdin)
        await child.exit()
        return child

    def assertExit(self, child: Child, status: int) -> None:
        self.assertEqual(
            child.status,
            status,
            f"{child}: exit status {child.status}\n{child.report()}",
        )

    def assertClean(self, child: Child) -> None:
        """No traceback and no unhandled error on standard error."""
        err = b"\n".join(child.err)
        for trouble in (b"Traceback", b"Unhandled", b"CRITICAL", b"critical"):
            self.assertNotIn(trouble, err, child.report())

    def tempDirectory(self) -> Path:
        path = Path(tempfile.mkdtemp(prefix="txzmq-cli-"))
        self.addCleanup(shutil.rmtree, path, True)
        return path


def zmqSocket(case: unittest.TestCase, kind: int) -> zmq.Socket[Any]:
    """A plain pyzmq socket, closed (and its context ended) at cleanup."""
    context = zmq.Context()
    socket = context.socket(kind)
    socket.linger = 0

    def close() -> None:
        socket.close(linger=0)
        context.term()

    case.addCleanup(close)
    return socket


class UsageTests(CLITestCase):
    """Usage errors exit with status 2 and say what is wrong."""

    async def test_usageErrors(self) -> None:
        cases = {
            (): "the following arguments are required: COMMAND",
            ("nosuchcommand",): "invalid choice",
            ("sub",): "the following arguments are required: ENDPOINT",
            ("sub", "tcp://127.0.0.1:5555"): "did you mean 'bind:tcp://127.0.0.1:5555'",
            (
                "sub",
                "connect:inproc://x",
            ): "inproc addresses only work inside one process",
            ("pull", "bind:tcp://127.0.0.1:1", "--count", "0"): "must be at least 1",
            ("pull", "bind:tcp://127.0.0.1:1", "--format", "xml"): "invalid choice",
            (
                "rep",
                "bind:tcp://127.0.0.1:1",
            ): "one of the arguments --echo --reply is required",
            (
                "rep",
                "bind:tcp://127.0.0.1:1",
                "--echo",
                "--reply",
                "x",
            ): "not allowed with",
            (
                "proxy",
                "--kind",
                "streamer",
                "--frontend",
                "bind:tcp://127.0.0.1:1",
            ): "--backend",
            (
                "proxy",
                "--kind",
                "nope",
                "--frontend",
                "a",
                "--backend",
                "b",
            ): "invalid choice",
            (
                "pub",
                "bind:tcp://127.0.0.1:1",
                "--wait-timeout",
                "-1",
            ): "must be 0 or more seconds",
            ("keygen", "--name", "server"): "--name needs --dir",
            ("monitor", "bind:tcp://127.0.0.1:1", "--type", "stream"): "invalid choice",
            ("demo", "--count", "0"): "--count must be at least 1",
        }
        children = {args: self.start(*args, stdin=b"") for args in cases}
        await gatherResults([child.ended for child in children.values()])
        for args, expected in cases.items():
            child = children[args]
            self.assertExit(child, 2)
            err = b"\n".join(child.err).decode()
            self.assertIn("usage:", err, child.report())
            self.assertIn(expected, err, child.report())
            self.assertClean(child)

    async def test_help(self) -> None:
        """--help lists every command; each command has its own help."""
        top, sub, bench = await gatherResults(
            [
                ensureDeferred(self.runToEnd("--help")),
                ensureDeferred(self.runToEnd("sub", "--help")),
                ensureDeferred(self.runToEnd("bench", "--help")),
            ]
        )
        self.assertExit(top, 0)
        text = b"\n".join(top.out).decode()
        for command in (
            "sub",
            "pub",
            "push",
            "pull",
            "req",
            "rep",
            "proxy",
            "monitor",
            "keygen",
            "bench",
            "demo",
        ):
            self.assertIn(f"    {command} ", text)
        self.assertExit(sub, 0)
        self.assertIn(b"--format", b"\n".join(sub.out))
        if not (ROOT / "benchmarks" / "__main__.py").exists():
            self.assertExit(bench, 1)
            self.assertIn(b"no benchmarks here", b"\n".join(bench.err))
        else:
            self.assertExit(bench, 0)
            self.assertIn(b"--quick", b"\n".join(bench.out), bench.report())

    def test_mixedArguments(self) -> None:
        """Options may come between and after the messages."""
        options = parseArguments(
            ["pub", "bind:tcp://*:5555", "one", "--topic", "news", "two"]
        )
        self.assertEqual(options.messages, ["one", "two"])
        self.assertEqual(options.topic, b"news")
        self.assertEqual(options.endpoint, ("bind", "tcp://*:5555"))


class SecurityOptionTests(unittest.SynchronousTestCase):
    """The CURVE options, turned into a mechanism without a reactor."""

    def setUp(self) -> None:
        if not zmq.has("curve"):
            raise unittest.SkipTest("this libzmq has no CURVE support")

    def security(self, *args: str) -> Any:
        return _security(parseArguments(["sub", "connect:tcp://127.0.0.1:1", *args]))

    def test_serverKeyText(self) -> None:
        """A server key given as 40 Z85 characters is used as it is."""
        public, _ = zmq.curve_keypair()
        mechanism = self.security("--curve-client", public.decode("ascii"))
        self.assertEqual(mechanism.serverKey, public)

    def test_serverKeyNotAscii(self) -> None:
        """
        A 40-character key with non-ASCII characters is refused with the
        reason, not turned into another key.
        """
        public, _ = zmq.curve_keypair()
        text = "\u00e9" + public.decode("ascii")[1:]
        e = self.assertRaises(CommandError, self.security, "--curve-client", text)
        self.assertIn("non-ASCII", str(e))


class FormatTests(unittest.SynchronousTestCase):
    """How messages are printed (the same code runs in the children)."""

    def test_formats(self) -> None:
        frames = [b"caf\xc3\xa9", b"\xffz\n"]
        self.assertEqual(formatMessage(frames, "raw"), b"caf\xc3\xa9\n\xffz\n")
        self.assertEqual(formatMessage(frames, "text"), "café \\xffz\\n".encode())
        self.assertEqual(formatMessage(frames, "hex"), b"636166c3a9 ff7a0a")
        self.assertEqual(
            json.loads(formatMessage(frames, "json")),
            {"frames": ["café", {"hex": "ff7a0a"}]},
        )
        self.assertEqual(formatMessage([b"x"], "text", b"news"), b"news: x")
        self.assertEqual(formatMessage([b"x"], "text", b""), b"x")
        self.assertEqual(
            json.loads(formatMessage([b"x"], "json", b"")),
            {"topic": "", "message": "x"},
        )


class PubSubTests(CLITestCase):
    MESSAGES = [b"hello", b"caf\xc3\xa9", b"\xffz"]
    EXPECTED = {
        "text": [b"news: hello", "news: café".encode(), b"news: \\xffz"],
        "raw": [b"hello", b"caf\xc3\xa9", b"\xffz"],
        "hex": [b"6e657773: 68656c6c6f", b"6e657773: 636166c3a9", b"6e657773: ff7a"],
        "json": [
            {"topic": "news", "message": "hello"},
            {"topic": "news", "message": "café"},
            {"topic": "news", "message": {"hex": "ff7a"}},
        ],
    }

    async def _pubsub(self, fmt: str, fromStdin: bool, *extra: str) -> None:
        sub = self.start(
            "sub", "bind:tcp://127.0.0.1:*", "--topic", "news", "--count", "3",
            "--format", fmt, *extra,
        )  # fmt: skip
        address = await sub.bound()
        if fromStdin:
            pub = self.start(
                "pub", f"connect:{address}", "--topic", "news", *extra,
                stdin=b"\n".join(self.MESSAGES) + b"\n",
            )  # fmt: skip
        else:
            pub = self.start(
                "pub", f"connect:{address}", "--topic", "news", *self.MESSAGES, *extra
            )
        await gatherResults([pub.ended, sub.ended])
        self.assertExit(pub, 0)
        self.assertExit(sub, 0)
        self.assertClean(pub)
        self.assertClean(sub)
        if fmt == "json":
            self.assertEqual([json.loads(line) for line in sub.out], self.EXPECTED[fmt])
        else:
            self.assertEqual(sub.out, self.EXPECTED[fmt], sub.report())

    async def test_formats(self) -> None:
        """
        sub prints what pub published on its topic, in each output format;
        pub waits for the subscriber, so the first messages are not lost.
        Messages come from arguments, or from standard input.
        """
        await gatherResults(
            [
                ensureDeferred(self._pubsub("text", False)),
                ensureDeferred(self._pubsub("raw", True)),
                ensureDeferred(self._pubsub("hex", False)),
                ensureDeferred(self._pubsub("json", True)),
            ]
        )

    def test_asyncioReactor(self) -> Deferred[None]:
        """Both ends run on the asyncio reactor too."""
        return ensureDeferred(self._pubsub("text", True, "--reactor", "asyncio"))

    async def test_noSubscriber(self) -> None:
        """Without a subscriber, pub gives up after --wait-timeout: status 1."""
        pub = await self.runToEnd(
            "pub", "bind:tcp://127.0.0.1:*", "--topic", "news", "--wait-timeout",
            "0.2", "hello",
        )  # fmt: skip
        self.assertExit(pub, 1)
        self.assertIn(
            b"txzmq pub: error: no subscriber to the topic 'news' within 0.2 s",
            pub.err[-1],
        )
        self.assertClean(pub)

    async def test_interrupt(self) -> None:
        """
        Ctrl-C stops a running sub: status 130, no traceback, and its
        socket is closed (the port can be bound again).
        """
        sub = self.start("sub", "bind:tcp://127.0.0.1:*")
        address = await sub.bound()
        sub.kill("INT")
        self.assertEqual(await sub.exit(), 130, sub.report())
        self.assertClean(sub)
        socket = zmqSocket(self, zmq.PULL)
        socket.bind(address)

    async def test_terminate(self) -> None:
        """SIGTERM stops a running command cleanly, with status 0."""
        pull = self.start("pull", "bind:tcp://127.0.0.1:*", "--verbose")
        await pull.bound()
        pull.kill("TERM")
        self.assertEqual(await pull.exit(), 0, pull.report())
        self.assertClean(pull)


class PushPullTests(CLITestCase):
    async def test_pushPull(self) -> None:
        """
        push sends each line of standard input, pull prints them in order
        and exits after --count; --progress reports the total.
        """
        lines = [f"line {n}".encode() for n in range(500)]
        pull = self.start(
            "pull", "bind:tcp://127.0.0.1:*", "--count", "500", "--verbose",
            "--progress",
        )  # fmt: skip
        address = await pull.bound()
        push = self.start(
            "push", f"connect:{address}", "--progress", stdin=b"\n".join(lines)
        )
        await gatherResults([push.ended, pull.ended])
        self.assertExit(push, 0)
        self.assertExit(pull, 0)
        self.assertEqual(pull.out, lines)
        self.assertTrue(
            any(re.match(rb"received 500 messages in ", line) for line in pull.err),
            pull.report(),
        )
        self.assertTrue(
            any(re.match(rb"sent 500 messages in ", line) for line in push.err),
            push.report(),
        )
        self.assertClean(push)
        self.assertClean(pull)

    async def test_bindFails(self) -> None:
        """
        An address in use: status 1 and a one-line message, no traceback.
        """
        socket = zmqSocket(self, zmq.PULL)
        socket.bind("tcp://127.0.0.1:*")
        address = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        pull = await self.runToEnd("pull", f"bind:{address}")
        self.assertExit(pull, 1)
        self.assertEqual(len(pull.err), 1, pull.report())
        self.assertRegex(
            pull.err[0].decode(),
            rf"^txzmq pull: error: cannot bind to '{re.escape(address)}': "
            "Address already in use",
        )

    async def test_pullTimeout(self) -> None:
        """pull --timeout fails when nothing comes."""
        pull = await self.runToEnd("pull", "bind:tcp://127.0.0.1:*", "--timeout", "0.2")
        self.assertExit(pull, 1)
        self.assertIn(b"no message for 0.2 s (0 received)", pull.err[-1])

    async def test_noPeer(self) -> None:
        """push waits for a peer, up to --wait-timeout."""
        push = await self.runToEnd(
            "push", "bind:tcp://127.0.0.1:*", "--wait-timeout", "0.2", "x"
        )
        self.assertExit(push, 1)
        self.assertIn(b"no peer connected within 0.2 s", push.err[-1])


class ReqRepTests(CLITestCase):
    async def test_echo(self) -> None:
        """req prints the replies of rep --echo, which prints the requests."""
        rep = self.start("rep", "bind:tcp://127.0.0.1:*", "--echo", "--count", "3")
        address = await rep.bound()
        req = self.start("req", f"connect:{address}", stdin=b"one\ntwo\nthree\n")
        await gatherResults([req.ended, rep.ended])
        self.assertExit(req, 0)
        self.assertExit(rep, 0)
        self.assertEqual(req.out, [b"one", b"two", b"three"])
        self.assertEqual(rep.out, [b"one", b"two", b"three"])
        self.assertClean(req)
        self.assertClean(rep)

    async def test_reply(self) -> None:
        """rep --reply answers every request with the same text; JSON output."""
        rep = self.start(
            "rep", "bind:tcp://127.0.0.1:*", "--reply", "pong", "--count", "2"
        )
        address = await rep.bound()
        req = await self.runToEnd(
            "req", f"connect:{address}", "ping", "ping?", "-f", "json"
        )
        await rep.exit()
        self.assertExit(req, 0)
        self.assertExit(rep, 0)
        self.assertEqual(
            [json.loads(line) for line in req.out], [{"frames": ["pong"]}] * 2
        )
        self.assertEqual(rep.out, [b"ping", b"ping?"])

    async def test_noReply(self) -> None:
        """A request that gets no reply within --timeout: status 1."""
        router = zmqSocket(self, zmq.ROUTER)
        router.bind("tcp://127.0.0.1:*")
        address = router.getsockopt_string(zmq.LAST_ENDPOINT)
        req = await self.runToEnd("req", f"connect:{address}", "--timeout", "0.3", "hi")
        self.assertExit(req, 1)
        self.assertEqual(req.err, [b"txzmq req: error: no reply within 0.3 s"])


class ProxyTests(CLITestCase):
    async def _streamer(self, mode: str) -> None:
        proxy = self.start(
            "proxy", "--kind", "streamer", "--mode", mode,
            "--frontend", "bind:tcp://127.0.0.1:*",
            "--backend", "bind:tcp://127.0.0.1:*",
        )  # fmt: skip
        frontend = (await proxy.waitFor(rb"^frontend bound (\S+)$")).group(1).decode()
        backend = (await proxy.waitFor(rb"^backend bound (\S+)$")).group(1).decode()
        pull = self.start("pull", f"connect:{backend}", "--count", "3")
        push = self.start("push", f"connect:{frontend}", "a", "b", "c")
        await gatherResults([push.ended, pull.ended])
        self.assertExit(push, 0)
        self.assertExit(pull, 0)
        self.assertEqual(pull.out, [b"a", b"b", b"c"])
        proxy.kill("INT")
        self.assertEqual(await proxy.exit(), 130, proxy.report())
        self.assertClean(proxy)

    def test_streamer(self) -> Deferred[None]:
        """A streamer proxy passes what push sends on to pull, in order."""
        return ensureDeferred(self._streamer("reactor"))

    def test_streamerThread(self) -> Deferred[None]:
        """The same, in a thread."""
        return ensureDeferred(self._streamer("thread"))

    async def test_bindFails(self) -> None:
        """A proxy that cannot bind fails with status 1 and one line."""
        socket = zmqSocket(self, zmq.PULL)
        socket.bind("tcp://127.0.0.1:*")
        address = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        proxy = await self.runToEnd(
            "proxy", "--kind", "queue", "--frontend", f"bind:{address}",
            "--backend", "bind:tcp://127.0.0.1:*",
        )  # fmt: skip
        self.assertExit(proxy, 1)
        self.assertEqual(len(proxy.err), 1, proxy.report())
        self.assertIn(b"Address already in use", proxy.err[0])


class MonitorTests(CLITestCase):
    async def test_events(self) -> None:
        """
        monitor prints the events of its socket: listening, then a peer's
        accept, handshake and disconnection.
        """
        monitor = self.start("monitor", "bind:tcp://127.0.0.1:*", "--type", "pull")
        match = await monitor.waitFor(rb"^listening (tcp://\S+)$")
        address = match.group(1).decode()
        push = zmqSocket(self, zmq.PUSH)
        push.connect(address)
        await monitor.waitFor(rb"^accepted tcp://")
        await monitor.waitFor(rb"^handshake_succeeded tcp://")
        push.close(linger=0)
        await monitor.waitFor(rb"^disconnected tcp://")
        monitor.kill("INT")
        self.assertEqual(await monitor.exit(), 130, monitor.report())
        self.assertClean(monitor)

    async def test_jsonCount(self) -> None:
        """--format json prints one object per event; --count stops it."""
        monitor = self.start(
            "monitor", "bind:tcp://127.0.0.1:*", "--type", "rep", "-f", "json",
            "--count", "3",
        )  # fmt: skip
        address = await monitor.bound()
        dealer = zmqSocket(self, zmq.DEALER)
        dealer.connect(address)
        self.assertEqual(await monitor.exit(), 0, monitor.report())
        events = [json.loads(line) for line in monitor.out]
        self.assertEqual(
            [e["event"] for e in events],
            ["listening", "accepted", "handshake_succeeded"],
        )
        self.assertEqual({e["endpoint"] for e in events}, {address})


class KeygenTests(CLITestCase):
    async def test_print(self) -> None:
        """keygen alone prints a new keypair, in Z85."""
        text, js = await gatherResults(
            [
                ensureDeferred(self.runToEnd("keygen")),
                ensureDeferred(self.runToEnd("keygen", "--format", "json")),
            ]
        )
        self.assertExit(text, 0)
        self.assertEqual(len(text.out), 2)
        self.assertRegex(text.out[0].decode(), r"^public: \S{40}$")
        self.assertRegex(text.out[1].decode(), r"^secret: \S{40}$")
        keys = json.loads(js.out[0])
        self.assertEqual(
            zmq.curve_public(keys["secret"].encode()), keys["public"].encode()
        )

    async def test_files(self) -> None:
        """
        keygen --dir --name writes certificate files that
        txzmq.security.loadCertificate reads, the secret one private; it
        does not overwrite them without --force.
        """
        directory = self.tempDirectory() / "certs"
        child = await self.runToEnd(
            "keygen", "--dir", str(directory), "--name", "server"
        )
        self.assertExit(child, 0)
        public, secret = directory / "server.key", directory / "server.key_secret"
        self.assertEqual(
            child.out, [f"public: {public}".encode(), f"secret: {secret}".encode()]
        )
        publicKey, none = loadCertificate(public)
        self.assertIsNone(none)
        publicAgain, secretKey = loadCertificate(secret)
        self.assertEqual(publicAgain, publicKey)
        assert secretKey is not None
        self.assertEqual(zmq.curve_public(secretKey), publicKey)
        self.assertEqual(stat.S_IMODE(secret.stat().st_mode), 0o600)

        again = await self.runToEnd(
            "keygen", "--dir", str(directory), "--name", "server"
        )
        self.assertExit(again, 1)
        self.assertIn(b"already exist", again.err[-1])
        self.assertEqual(loadCertificate(secret), (publicKey, secretKey))
        forced = await self.runToEnd(
            "keygen", "--dir", str(directory), "--name", "server", "--force"
        )
        self.assertExit(forced, 0)
        self.assertNotEqual(loadCertificate(public)[0], publicKey)

    async def test_curve(self) -> None:
        """
        The certificate files secure a push and a pull with CURVE; a client
        without the server's key gets no connection.
        """
        if not zmq.has("curve"):
            raise unittest.SkipTest("libzmq without CURVE")
        directory = self.tempDirectory()
        await self.runToEnd("keygen", "--dir", str(directory), "--name", "server")
        pull = self.start(
            "pull", "bind:tcp://127.0.0.1:*", "--count", "1",
            "--curve-server", str(directory / "server.key_secret"),
        )  # fmt: skip
        address = await pull.bound()
        plain = await self.runToEnd(
            "push", f"connect:{address}", "plain", "--wait-timeout", "0.5"
        )
        self.assertExit(plain, 1)
        self.assertIn(b"no peer connected within 0.5 s", plain.err[-1])
        push = await self.runToEnd(
            "push", f"connect:{address}", "secret",
            "--curve-client", str(directory / "server.key"),
        )  # fmt: skip
        self.assertExit(push, 0)
        self.assertEqual(await pull.exit(), 0, pull.report())
        self.assertEqual(pull.out, [b"secret"])
        self.assertClean(pull)

    async def test_missingCertificate(self) -> None:
        """A certificate that cannot be read: status 1, one line."""
        missing = self.tempDirectory() / "nope.key_secret"
        child = await self.runToEnd(
            "pull", "bind:tcp://127.0.0.1:*", "--curve-server", str(missing)
        )
        self.assertExit(child, 1)
        self.assertEqual(len(child.err), 1, child.report())
        self.assertIn(b"cannot read the certificate", child.err[0])


class DemoTests(CLITestCase):
    async def test_demo(self) -> None:
        """txzmq demo runs the README's tour and exits with status 0."""
        demo = await self.runToEnd("demo", "--count", "2")
        self.assertExit(demo, 0)
        self.assertTrue(demo.out[-1].startswith(b"OK: all "), demo.report())
        self.assertClean(demo)

"""
The example programs and the demo, run the way a user runs them.

Each program in C{examples/} and C{python -m txzmq.demo} is started in a
child process (the reactor keeps running meanwhile: C{spawnProcess}, not a
blocking C{subprocess.run}) and must exit with status 0 and print its
summary.  The demo also runs once in this process, on trial's reactor, so
coverage sees C{txzmq/demo.py}.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial import unittest

from txzmq import demo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

PROCESS_TIMEOUT = 60.0
"""Seconds a program may run before it is killed and the test fails."""

EXPECTED = {
    "pubsub_many_subscribers.py": "OK: one light switch woke 2 appliances",
    "pubsub_many_publishers.py": "OK: one subscriber received every update from 2 publishers",
    "topic_routing.py": "OK: 6 messages routed by longest prefix, 1 filtered out",
    "json_pubsub.py": "OK: every valid reading decoded, every bad payload rejected",
    "pushpull_pipeline.py": "OK: 12 tasks went through 3 workers to the sink",
    "reqrep_timeout.py": "OK: 2 requests answered, 1 timed out, its late reply was dropped",
    "router_dealer.py": "OK: the router answered 4 dealers, each by its identity",
    "flow_control.py": "OK: 2 x 300 messages arrived complete and in order, the send queue stayed within its bound",
    "zmq_tcp_bridge.py": "OK: 400 messages crossed the ZeroMQ-to-TCP bridge in order, with bounded data in flight",
    "async_receive.py": "OK: 5 JSON readings taken with async for, 1 broken frame dropped, 3 JSON requests answered",
    "devices_forwarder.py": "OK: 3 stations reached 3 displays through one forwarder, every reading exactly once",
    "devices_queue.py": "OK: 40 requests from 4 clients spread over 3 workers through the queue, twice; the monitor saw 40 in and 40 out",
    "devices_streamer.py": "OK: 60 tasks went through the streamer to 3 workers and on to the sink, each exactly once",
    "connection_events.py": "OK: 3 readers came and went, each got the first message published for it; the desk saw 3 connect and 3 leave",
    "secure_pubsub.py": "OK: alice received 3 encrypted readings; mallory's unknown key was refused and she received nothing",
}
"""The line each example prints last when everything went as it should."""


class _Output(ProcessProtocol):
    """Collects a child's output; C{ended} fires with its exit status."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: Deferred[tuple[int | None, str, str]] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        status = None
        if reason.check(ProcessDone, ProcessTerminated):
            status = getattr(reason.value, "exitCode", None)  # None: killed
        text = self.out.decode("utf-8", "replace"), self.err.decode("utf-8", "replace")
        self.ended.callback((status, *text))


def runPython(reactor: object, *args: str) -> Deferred[tuple[int | None, str, str]]:
    """
    Run C{python args...} from the repository root, with the root first on
    C{PYTHONPATH}; fire with C{(exit status, stdout, stderr)}.  After
    L{PROCESS_TIMEOUT} seconds the child is killed (status None).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["PYTHONUNBUFFERED"] = "1"
    protocol = _Output()
    transport = reactor.spawnProcess(  # type: ignore[attr-defined]
        protocol, sys.executable, [sys.executable, *args], env=env, path=str(ROOT)
    )
    killer = reactor.callLater(  # type: ignore[attr-defined]
        PROCESS_TIMEOUT, transport.signalProcess, "KILL"
    )

    def stopKiller(result: tuple[int | None, str, str]) -> tuple[int | None, str, str]:
        if killer.active():
            killer.cancel()
        return result

    return protocol.ended.addCallback(stopKiller)


class ProgramTests(unittest.TestCase):
    """
    Every example and the demo run to completion in a child process.
    """

    timeout = PROCESS_TIMEOUT + 30

    def setUp(self) -> None:
        if not EXAMPLES.is_dir():
            raise unittest.SkipTest(f"no examples directory at {EXAMPLES}")
        from twisted.internet import reactor

        self.reactor = reactor

    async def _check(self, args: list[str], expected: str) -> str:
        status, out, err = await runPython(self.reactor, *args)
        command = " ".join(["python", *args])
        report = f"\n--- stdout of {command}:\n{out}\n--- stderr:\n{err}"
        self.assertIsNotNone(
            status, f"{command} did not end within {PROCESS_TIMEOUT} s" + report
        )
        self.assertEqual(status, 0, f"{command} exited with status {status}" + report)
        self.assertIn(expected, out, report)
        for trouble in ("Traceback", "Unhandled error", "Unhandled Error"):
            self.assertNotIn(trouble, err, report)
        return out

    def runExample(self, name: str) -> Deferred[str]:
        return ensureDeferred(self._check([str(EXAMPLES / name)], EXPECTED[name]))

    def test_everyExampleIsTested(self) -> None:
        """
        Each program in examples/ has an expected summary line here (so a new
        example cannot go untested).
        """
        self.assertEqual(
            sorted(p.name for p in EXAMPLES.glob("*.py")), sorted(EXPECTED)
        )

    def test_pubsubManySubscribers(self) -> Deferred[str]:
        return self.runExample("pubsub_many_subscribers.py")

    def test_pubsubManyPublishers(self) -> Deferred[str]:
        return self.runExample("pubsub_many_publishers.py")

    def test_topicRouting(self) -> Deferred[str]:
        return self.runExample("topic_routing.py")

    def test_jsonPubsub(self) -> Deferred[str]:
        return self.runExample("json_pubsub.py")

    def test_pushpullPipeline(self) -> Deferred[str]:
        return self.runExample("pushpull_pipeline.py")

    def test_reqrepTimeout(self) -> Deferred[str]:
        return self.runExample("reqrep_timeout.py")

    def test_routerDealer(self) -> Deferred[str]:
        return self.runExample("router_dealer.py")

    def test_flowControl(self) -> Deferred[None]:
        """
        flow_control.py: both phases (pushDeferred, streaming producer)
        arrive complete and in order, and the summary reports the largest
        send queue, within its bound.
        """

        async def check() -> None:
            out = await self._check(
                [str(EXAMPLES / "flow_control.py")], EXPECTED["flow_control.py"]
            )
            for phase in ("pushDeferred", "producer"):
                self.assertRegex(
                    out,
                    rf"{phase}\s+received 300/300, in order, "
                    r"largest send queue \d+ \(bound 50\)",
                )

        return ensureDeferred(check())

    def test_zmqTcpBridge(self) -> Deferred[None]:
        """
        zmq_tcp_bridge.py: every message reaches the slow TCP client in
        order, and the TCP transport paused the ZeroMQ connection.
        """

        async def check() -> None:
            out = await self._check(
                [str(EXAMPLES / "zmq_tcp_bridge.py")], EXPECTED["zmq_tcp_bridge.py"]
            )
            self.assertIn("client received 400/400 messages (in order)", out)
            self.assertRegex(out, r"paused the bridge's PULL connection [1-9]\d* times")

        return ensureDeferred(check())

    def test_connectionEvents(self) -> Deferred[None]:
        """
        connection_events.py: the events of the desk and its readers are
        printed, carol retries before the desk listens on ipc, and every
        reader reads its first message.
        """

        async def check() -> None:
            out = await self._check(
                [str(EXAMPLES / "connection_events.py")],
                EXPECTED["connection_events.py"],
            )
            for line in (
                r"desk  \| listening tcp://127\.0\.0\.1:\d+",
                r"desk  \| handshake_succeeded ipc://",
                r"carol \| connect_retried ipc://",
                r"carol \| connected after \d+ retr",
                r"desk  \| disconnected tcp://",
                r"first messages delivered  3/3 \(alice, bob, carol\)",
            ):
                self.assertRegex(out, line)

        return ensureDeferred(check())

    def test_asyncReceive(self) -> Deferred[None]:
        """
        async_receive.py: the async for loop ends at shutdown, the broken
        JSON frame is logged, and the slow request is answered last.
        """

        async def check() -> None:
            out = await self._check(
                [str(EXAMPLES / "async_receive.py")], EXPECTED["async_receive.py"]
            )
            self.assertIn("the async for loop ended (connection shut down)", out)
            self.assertIn("pub/sub: 5/5 readings, 1 dropped with a warning", out)
            self.assertIn("answered in the order ['add', 'divide', 'slowProduct']", out)

        return ensureDeferred(check())

    def test_devicesForwarder(self) -> Deferred[None]:
        """
        devices_forwarder.py, with the forwarder on the reactor, then in a
        thread: every display got exactly what it subscribed to.
        """

        async def check() -> None:
            path = str(EXAMPLES / "devices_forwarder.py")
            for mode, device in [([], "ReactorDevice"), (["thread"], "ThreadDevice")]:
                out = await self._check([path, *mode], EXPECTED["devices_forwarder.py"])
                self.assertIn(f"forwarder ({device})", out)
                for display, count in [
                    ("dashboard", 300),
                    ("north panel", 100),
                    ("coast panel", 200),
                ]:
                    self.assertRegex(
                        out,
                        rf"{display}\s+{count}/{count} readings .*0 missing, "
                        r"0 duplicates, 0 unwanted",
                    )

        return ensureDeferred(check())

    def test_devicesQueue(self) -> Deferred[None]:
        """
        devices_queue.py: both rounds answer every request, every worker
        takes a share, and the monitor counts each request and reply.
        """

        async def check() -> None:
            out = await self._check(
                [str(EXAMPLES / "devices_queue.py")], EXPECTED["devices_queue.py"]
            )
            self.assertEqual(out.count("40/40 requests answered correctly"), 2)
            self.assertIn("ReactorDevice queue", out)
            self.assertIn("ThreadDevice queue", out)
            self.assertEqual(
                len(re.findall(r"worker-\d answered [1-9]\d* requests", out)), 6
            )
            self.assertIn("the monitor saw 40 in (requests) and 40 out (replies)", out)

        return ensureDeferred(check())

    def test_devicesStreamer(self) -> Deferred[None]:
        """
        devices_streamer.py, with the streamer in a thread, then on the
        reactor: every task done once, shared by the three workers.
        """

        async def check() -> None:
            path = str(EXAMPLES / "devices_streamer.py")
            for mode, device in [([], "ThreadDevice"), (["reactor"], "ReactorDevice")]:
                out = await self._check([path, *mode], EXPECTED["devices_streamer.py"])
                self.assertIn(f"streamer ({device})", out)
                self.assertIn("sink got 60/60 results, 0 repeated, 0 wrong", out)
                self.assertEqual(
                    len(re.findall(r"worker-\d did [1-9]\d* tasks", out)), 3
                )

        return ensureDeferred(check())

    def test_devicesBadMode(self) -> Deferred[None]:
        """An unknown mode makes a device example exit with status 2."""

        async def check() -> None:
            for name in ("devices_forwarder.py", "devices_streamer.py"):
                status, out, err = await runPython(
                    self.reactor, str(EXAMPLES / name), "x"
                )
                self.assertEqual(status, 2, err)
                self.assertIn("usage:", err)

        return ensureDeferred(check())

    def test_securePubsub(self) -> Deferred[None]:
        """
        secure_pubsub.py (the example of docs/security.md): the allowed
        subscriber gets the readings, the unknown key is refused, as the
        monitor event and the authenticator's log line show.
        """

        async def check() -> None:
            out = await self._check(
                [str(EXAMPLES / "secure_pubsub.py")], EXPECTED["secure_pubsub.py"]
            )
            self.assertIn("station: a subscriber completed the CURVE handshake", out)
            self.assertIn(
                "station: refused a peer: authentication refused (ZAP status 400)", out
            )
            self.assertRegex(
                out, r"log: ZAP denied CURVE \S+ from 127\.0\.0\.1: unknown public key"
            )
            self.assertIn("mallory (unknown key):  0 readings, refused", out)

        return ensureDeferred(check())

    def test_demo(self) -> Deferred[None]:
        """
        C{python -m txzmq.demo} prints a summary table with one row per
        scenario and transport (the thread queue once), and says everything
        arrived: the devices spread and forward, flow control loses
        nothing, the monitor counts the handshakes, the intruder is refused.
        """

        async def check() -> None:
            out = await self._check(["-m", "txzmq.demo"], "OK: all 25 runs complete")
            table = out[out.index("summary:") :]
            for scenario in demo.PATTERNS:
                for transport in ("tcp",) if scenario.once else ("tcp", "ipc"):
                    self.assertRegex(
                        table,
                        rf"{re.escape(scenario.name)}\s+{transport}\s+\d+\s+\d+"
                        r"\s+\d+.*ok",
                    )
            self.assertNotIn("skipped", out)
            for transport in ("tcp", "ipc"):
                for row in (
                    r"forwarder\s+{}\s+10\s+20\s+20 .* ok$",
                    r"queue\s+{}\s+20\s+20\s+20 .* ok \(spread 5/5\)$",
                    r"flow control\s+{}\s+10000\s+10000\s+10000 .* ok \(max queue 100\)$",
                    r"events\s+{}\s+15\s+15\s+15 .* ok \(3 handshakes, 3 gone\)$",
                    r"curve\+zap\s+{}\s+10\s+5\s+5 .* ok \(intruder refused\)$",
                    r"json req/rep\s+{}\s+10\s+10\s+10 .* ok$",
                ):
                    self.assertRegex(table, re.compile(row.format(transport), re.M))
            self.assertRegex(
                table, re.compile(r"queue/thread\s+tcp\s+20\s+20\s+20 .* ok", re.M)
            )
            for line in (
                r"forwarder\s+tcp\s+ReactorDevice: 2 publishers x 2 subscribers, "
                r"A got 5\+5, B got 5\+5 \(north\+south\), in order \[ok\]",
                r"queue/thread\s+tcp\s+ThreadDevice: 10 requests, worker 1 answered 5, "
                r"worker 2 answered 5; 10 replies matched \[ok\]",
                r"flow control\s+ipc\s+10000 pushed with pushDeferred .* 10000 "
                r"arrived, in order \[ok\]",
                r"events\s+tcp\s+monitored PULL saw 1 listening, 3 accepted, "
                r"3 handshakes, 3 disconnected",
                r"curve\+zap\s+ipc\s+client \(allowed key\) delivered 5/5; intruder "
                r"\(unknown key\) delivered 0/5; server monitor: authentication "
                r"refused \(ZAP status 400\) \[ok\]",
            ):
                self.assertRegex(out, line)

        return ensureDeferred(check())

    def test_demoBadArgument(self) -> Deferred[None]:
        """A bad command-line argument makes the demo exit with status 2."""

        async def check() -> None:
            status, out, err = await runPython(
                self.reactor, "-m", "txzmq.demo", "--transports", "x"
            )
            self.assertEqual(status, 2)
            self.assertIn("unknown transport", err)

        return ensureDeferred(check())


class DemoInProcessTests(unittest.TestCase):
    """
    L{demo.main} on trial's own reactor: every pattern over every transport.
    """

    def setUp(self) -> None:
        from twisted.internet import reactor

        self.reactor = reactor

    def test_allTransports(self) -> Deferred[None]:
        """
        main() fires with None when every message arrived, after printing a
        line per run and the summary table; events and security are skipped
        over inproc, the thread queue runs once.
        """
        out = io.StringIO()
        d = demo.main(
            self.reactor, "--count", "3", "--transports", "tcp,ipc,inproc", out=out
        )

        def check(result: None) -> None:
            text = out.getvalue()
            self.assertIn("OK: all 35 runs complete (2 skipped)", text)
            self.assertEqual(text.count("[ok]"), 35)
            self.assertNotIn("FAILED", text)
            for name in ("events", "curve+zap"):
                self.assertRegex(
                    text, rf"{re.escape(name)}\s+inproc\s+-\s+-\s+-\s+-\s+skipped: "
                )
            self.assertEqual(text.count("queue/thread"), 2)  # its line and row
            self.assertRegex(
                text, r"queue\s+inproc\s+12\s+12\s+12 .* ok \(spread 3/3\)"
            )
            self.assertRegex(text, r"flow control\s+inproc\s+10000\s+10000\s+10000")

        return d.addCallback(check)

    def test_networkOnly(self) -> Deferred[None]:
        """
        Over tcp alone, with another count, the feature runs still pass:
        the intruder's messages count as sent but not expected.
        """
        out = io.StringIO()
        d = demo.main(self.reactor, "--count", "4", "--transports", "tcp", out=out)

        def check(result: None) -> None:
            text = out.getvalue()
            self.assertIn("OK: all 13 runs complete, ", text)
            self.assertRegex(
                text, r"curve\+zap\s+tcp\s+8\s+4\s+4 .* ok \(intruder refused\)"
            )
            self.assertRegex(
                text, r"events\s+tcp\s+12\s+12\s+12 .* ok \(3 handshakes, 3 gone\)"
            )
            self.assertRegex(
                text, r"queue/thread\s+tcp\s+16\s+16\s+16 .* ok \(spread 4/4\)"
            )

        return d.addCallback(check)

    def test_lostMessagesFail(self) -> None:
        """
        When a run loses messages, main() fails with SystemExit(1) and the
        table says which run failed.
        """
        out = io.StringIO()

        async def broken(run: demo._Run) -> str:
            run.sent(2)
            run.result.expected = 2
            run.received(1)
            return "one message lost on purpose"

        self.patch(demo, "PATTERNS", [demo.Scenario("broken", broken)])
        failure = self.failureResultOf(
            demo.main(self.reactor, "--transports", "inproc", out=out), SystemExit
        )
        self.assertEqual(failure.value.args, (1,))
        text = out.getvalue()
        self.assertIn("FAILED: 1 of 1 runs failed", text)
        self.assertRegex(text, r"broken\s+inproc\s+2\s+2\s+1 .*FAILED: messages lost")

    def test_scenarioErrorIsReported(self) -> None:
        """An exception in a scenario is a failed run, not a crash."""
        out = io.StringIO()

        async def crashing(run: demo._Run) -> str:
            raise RuntimeError("boom")

        self.patch(demo, "PATTERNS", [demo.Scenario("crashing", crashing)])
        d = demo.main(self.reactor, "--transports", "inproc", out=out)
        self.failureResultOf(d, SystemExit)
        self.assertIn("FAILED: RuntimeError: boom", out.getvalue())

    def test_arguments(self) -> None:
        """The command line is checked; bad values exit with status 2."""
        options = demo.parseArguments(["--count", "2", "--transports", "ipc,inproc"])
        self.assertEqual(options.count, 2)
        self.assertEqual(options.transports, ["ipc", "inproc"])
        self.assertIsNone(options.reactor)
        self.patch(sys, "stderr", io.StringIO())  # argparse's usage message
        for bad in (
            ["--count", "0"],
            ["--transports", ","],
            ["--transports", "tcp,udp"],
        ):
            e = self.assertRaises(SystemExit, demo.parseArguments, bad)
            self.assertEqual(e.code, 2)
        demo._installReactor([])  # without --reactor, nothing is installed

    def test_formatTable(self) -> None:
        """The table has a header, a rule and one line per result."""
        results = [
            demo.Result("pair", "tcp", sent=4, expected=4, received=4, seconds=0.0123),
            demo.Result(
                "pair", "ipc", sent=4, expected=4, received=3, problems=["late"]
            ),
        ]
        results += [
            demo.Result("queue", "tcp", 8, 8, 8, note="spread 2/2"),
            demo.Result("events", "inproc", skipped="no events"),
        ]
        lines = demo.formatTable(results)
        self.assertEqual(len(lines), 6)
        self.assertTrue(lines[0].startswith("pattern"))
        self.assertEqual(set(lines[1]), {"-"})
        self.assertRegex(lines[2], r"^pair\s+tcp\s+4\s+4\s+4\s+12\.3ms\s+ok$")
        self.assertTrue(lines[3].endswith("FAILED: late"))
        self.assertTrue(lines[4].endswith("ms  ok (spread 2/2)"))
        self.assertRegex(
            lines[5], r"^events\s+inproc\s+-\s+-\s+-\s+-\s+skipped: no events$"
        )

    def test_plan(self) -> None:
        """
        A scenario runs over the transports it can use and is skipped over
        the others, with why; a run-once scenario takes the first usable
        transport, or is skipped once.
        """

        async def nothing(run: demo._Run) -> str:
            return ""

        network = demo.Scenario("net", nothing, demo.NETWORK, "no network")
        self.assertEqual(
            demo._plan(network, ["inproc", "tcp"]),
            [("inproc", "no network"), ("tcp", "")],
        )
        once = demo.Scenario("once", nothing, demo.NETWORK, "no network", once=True)
        self.assertEqual(demo._plan(once, ["inproc", "ipc", "tcp"]), [("ipc", "")])
        self.assertEqual(demo._plan(once, ["inproc"]), [("inproc", "no network")])
        everywhere = demo.Scenario("all", nothing)
        self.assertEqual(demo._plan(everywhere, ["ipc"]), [("ipc", "")])

    def test_failedWaitIsReported(self) -> None:
        """
        A Deferred waited for with _Run.wait that fails or times out is a
        problem of the run, saying what it waited for.
        """
        from twisted.internet.defer import fail, gatherResults
        from twisted.internet.task import Clock

        clock = Clock()
        result = demo.Result("x", "inproc")
        run = demo._Run(clock, "inproc", "", 1, result)
        self.addCleanup(run.factory.shutdown)
        never: Deferred[None] = Deferred()
        waiting = ensureDeferred(
            run.wait(gatherResults([never], consumeErrors=True), "a")
        )
        clock.advance(demo.WAIT_SECONDS)
        self.assertIs(self.successResultOf(waiting), False)
        broken = ensureDeferred(run.wait(fail(ValueError("nope")), "b"))
        self.assertIs(self.successResultOf(broken), False)
        self.assertEqual(
            result.problems, ["timed out waiting for a", "failed (nope) waiting for b"]
        )

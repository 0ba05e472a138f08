"""
Unit tests of L{txzmq._proxy}: which socket pairs a device accepts, the
frame rewriting of ROUTER-to-ROUTER and monitored devices, the checked
configuration and its JSON form, and the blocking loop of background
devices, run here on plain pyzmq sockets in a private context.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import zmq
from twisted.trial.unittest import SynchronousTestCase

from txzmq import ZmqEndpoint, ZmqEndpointType
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
    swapRoutingFrames,
)

WAIT_MS = 5000
"""Milliseconds a blocking test waits for a message before it fails."""

_names = iter(range(1_000_000))


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


def typeName(socketType: int) -> str:
    return zmq.SocketType(socketType).name


class DirectionsTests(SynchronousTestCase):
    """
    L{directions} says which ways messages flow between a frontend and a
    backend socket type, and refuses pairs a device cannot use.
    """

    def test_seedKinds(self) -> None:
        """
        A queue and a forwarder pass messages both ways (replies,
        subscriptions); a streamer from frontend to backend only.
        """
        self.assertEqual(
            directions(QUEUE.frontendType, QUEUE.backendType), (True, True)
        )
        self.assertEqual(
            directions(FORWARDER.frontendType, FORWARDER.backendType), (True, True)
        )
        self.assertEqual(
            directions(STREAMER.frontendType, STREAMER.backendType), (True, False)
        )

    def test_seedKindTypes(self) -> None:
        """The three kinds have the socket types ZeroMQ's devices use."""
        self.assertEqual(QUEUE, DeviceKind("queue", zmq.ROUTER, zmq.DEALER))
        self.assertEqual(FORWARDER, DeviceKind("forwarder", zmq.XSUB, zmq.XPUB))
        self.assertEqual(STREAMER, DeviceKind("streamer", zmq.PULL, zmq.PUSH))

    def test_otherSensiblePairs(self) -> None:
        """
        Any pair where something can flow is accepted, in the direction(s)
        it can flow: reversed kinds, SUB to PUB, ROUTER to ROUTER, PAIR...
        """
        cases = {
            (zmq.SUB, zmq.PUB): (True, False),
            (zmq.PUB, zmq.SUB): (False, True),
            (zmq.PUSH, zmq.PULL): (False, True),
            (zmq.XPUB, zmq.XSUB): (True, True),
            (zmq.DEALER, zmq.ROUTER): (True, True),
            (zmq.ROUTER, zmq.ROUTER): (True, True),
            (zmq.DEALER, zmq.DEALER): (True, True),
            (zmq.PAIR, zmq.PAIR): (True, True),
            (zmq.ROUTER, zmq.PUSH): (True, False),
            (zmq.PULL, zmq.DEALER): (True, False),
            (zmq.SUB, zmq.XPUB): (True, False),
        }
        for (front, back), expected in cases.items():
            self.assertEqual(
                directions(front, back),
                expected,
                f"{typeName(front)} -> {typeName(back)}",
            )

    def test_reqAndRepRefused(self) -> None:
        """
        REQ and REP keep a strict send/receive order a proxy cannot
        honour: refused on either side, with the socket named and the
        usable types listed.
        """
        for front, back in [
            (zmq.REQ, zmq.DEALER),
            (zmq.ROUTER, zmq.REP),
            (zmq.REQ, zmq.REP),
        ]:
            e = self.assertRaises(ValueError, directions, front, back)
            bad = typeName(front if front in (zmq.REQ, zmq.REP) else back)
            self.assertIn(f"cannot use a {bad} socket", str(e))
            self.assertIn("ROUTER/DEALER", str(e))

    def test_unknownTypeRefused(self) -> None:
        """A number that is no socket type is refused and shown as is."""
        e = self.assertRaises(ValueError, directions, 999, zmq.PUSH)
        self.assertIn("cannot use a 999 socket", str(e))

    def test_nothingCanFlow(self) -> None:
        """
        Pairs where neither side can pass a message to the other are
        refused, naming both types.
        """
        for front, back in [
            (zmq.PUSH, zmq.PUB),
            (zmq.PULL, zmq.PULL),
            (zmq.PULL, zmq.SUB),
            (zmq.PUB, zmq.PUB),
            (zmq.SUB, zmq.SUB),
        ]:
            e = self.assertRaises(ValueError, directions, front, back)
            self.assertEqual(
                str(e),
                f"nothing can flow between a {typeName(front)} frontend and a "
                f"{typeName(back)} backend",
            )


class FrameTests(SynchronousTestCase):
    """L{swapRoutingFrames} and L{monitorFrames}."""

    def test_swapTwoFrames(self) -> None:
        """[sender, recipient] becomes [recipient, sender]."""
        self.assertEqual(swapRoutingFrames([b"alice", b"bob"]), [b"bob", b"alice"])

    def test_swapKeepsBody(self) -> None:
        """The body frames, empty ones too, follow unchanged and in order."""
        frames = (b"alice", b"bob", b"", b"one", b"two")
        self.assertEqual(
            swapRoutingFrames(frames), [b"bob", b"alice", b"", b"one", b"two"]
        )

    def test_swapTwiceIsIdentity(self) -> None:
        """A reply swapped on its way back restores the original order."""
        frames = [b"a", b"b", b"body"]
        self.assertEqual(swapRoutingFrames(swapRoutingFrames(frames)), frames)

    def test_swapLeavesInputAlone(self) -> None:
        """The message given is not modified; a new list is returned."""
        frames = [b"a", b"b", b"c"]
        swapped = swapRoutingFrames(frames)
        self.assertEqual(frames, [b"a", b"b", b"c"])
        self.assertIsNot(swapped, frames)

    def test_swapTooShort(self) -> None:
        """
        Fewer than two frames cannot name a sender and a recipient:
        MalformedMessage (a ValueError), which devices log and drop.
        """
        for frames in ([], [b"alone"]):
            e = self.assertRaises(MalformedMessage, swapRoutingFrames, frames)
            self.assertIn("identity frames", str(e))
        self.assertTrue(issubclass(MalformedMessage, ValueError))

    def test_monitorPrefix(self) -> None:
        """A monitor copy is the prefix frame followed by every frame."""
        self.assertEqual(
            monitorFrames(b"in", [b"id", b"", b"body"]), [b"in", b"id", b"", b"body"]
        )
        self.assertEqual(monitorFrames(b"out", (b"x",)), [b"out", b"x"])

    def test_monitorLeavesInputAlone(self) -> None:
        """The forwarded message is not modified by taking a copy."""
        frames = [b"a", b"b"]
        copy = monitorFrames(b"in", frames)
        self.assertEqual(frames, [b"a", b"b"])
        copy.append(b"more")
        self.assertEqual(frames, [b"a", b"b"])

    def test_monitorEmptyPrefix(self) -> None:
        """An empty prefix is still a frame of its own."""
        self.assertEqual(monitorFrames(b"", [b"a"]), [b"", b"a"])


class DeviceConfigTests(SynchronousTestCase):
    """L{DeviceConfig.build} checks its arguments; JSON round trips."""

    front = bind("tcp://127.0.0.1:*")
    back = bind("tcp://127.0.0.1:*")

    def test_defaults(self) -> None:
        """
        One endpoint per side is wrapped in a tuple; no monitor, prefixes
        b"in"/b"out", no options.
        """
        config = DeviceConfig.build(QUEUE, self.front, connect("ipc:///tmp/x"))
        self.assertEqual(config.kind, QUEUE)
        self.assertEqual(config.frontend, (("bind", "tcp://127.0.0.1:*"),))
        self.assertEqual(config.backend, (("connect", "ipc:///tmp/x"),))
        self.assertEqual(config.monitor, ())
        self.assertEqual((config.inPrefix, config.outPrefix), (b"in", b"out"))
        self.assertEqual(dict(config.options), {})

    def test_endpointLists(self) -> None:
        """Each side may have several endpoints, binds and connects mixed."""
        config = DeviceConfig.build(
            FORWARDER,
            [self.front, connect("tcp://127.0.0.1:5000")],
            [bind("inproc://a"), bind("inproc://b")],
            [bind("inproc://monitor")],
        )
        self.assertEqual(
            config.frontend,
            (("bind", "tcp://127.0.0.1:*"), ("connect", "tcp://127.0.0.1:5000")),
        )
        self.assertEqual(
            config.backend, (("bind", "inproc://a"), ("bind", "inproc://b"))
        )
        self.assertEqual(config.monitor, (("bind", "inproc://monitor"),))

    def test_plainTuplesAccepted(self) -> None:
        """An endpoint may be a plain (type, address) tuple."""
        config = DeviceConfig.build(
            STREAMER, ("bind", "inproc://a"), [("connect", "inproc://b")]
        )
        self.assertEqual(config.frontend, (("bind", "inproc://a"),))
        self.assertEqual(config.backend, (("connect", "inproc://b"),))

    def test_prefixesAndOptions(self) -> None:
        """Prefixes and socket options (by connection name) are kept."""
        config = DeviceConfig.build(
            QUEUE,
            self.front,
            self.back,
            bind("inproc://m"),
            inPrefix=b"request",
            outPrefix=b"reply",
            options={"highWaterMark": 10, "lingerPeriod": 0},
        )
        self.assertEqual((config.inPrefix, config.outPrefix), (b"request", b"reply"))
        self.assertEqual(dict(config.options), {"highWaterMark": 10, "lingerPeriod": 0})

    def test_kindMustBeDeviceKind(self) -> None:
        """A name or a plain tuple is not a kind: TypeError naming QUEUE..."""
        for kind in ("queue", ("queue", zmq.ROUTER, zmq.DEALER), None):
            e = self.assertRaises(
                TypeError, DeviceConfig.build, kind, self.front, self.back
            )
            self.assertIn("DeviceKind such as QUEUE, FORWARDER or STREAMER", str(e))

    def test_kindChecked(self) -> None:
        """A kind whose socket types cannot be paired: ValueError."""
        for kind in (
            DeviceKind("bad", zmq.REQ, zmq.REP),
            DeviceKind("mute", zmq.PUSH, zmq.PUB),
        ):
            self.assertRaises(
                ValueError, DeviceConfig.build, kind, self.front, self.back
            )

    def test_bothSidesNeeded(self) -> None:
        """No endpoint on a side (None or an empty list): ValueError."""
        for front, back in [
            (None, self.back),
            (self.front, None),
            ([], self.back),
            (self.front, []),
        ]:
            e = self.assertRaises(ValueError, DeviceConfig.build, STREAMER, front, back)
            self.assertIn("at least one frontend and one backend endpoint", str(e))

    def test_endpointStrings(self) -> None:
        """
        Endpoints may be written as strings, C{"bind:ADDRESS"} or
        C{"connect:ADDRESS"}, alone or in a list.
        """
        config = DeviceConfig.build(
            STREAMER,
            "bind:tcp://127.0.0.1:*",
            ["connect:ipc:///tmp/a.sock", bind("inproc://b")],
            "bind:inproc://monitor",
        )
        self.assertEqual(config.frontend, (("bind", "tcp://127.0.0.1:*"),))
        self.assertEqual(
            config.backend, (("connect", "ipc:///tmp/a.sock"), ("bind", "inproc://b"))
        )
        self.assertEqual(config.monitor, (("bind", "inproc://monitor"),))

    def test_badEndpoints(self) -> None:
        """
        An address without bind/connect, an unknown endpoint type, an
        address that is not text, or something that is no endpoint at all
        are refused before anything is built.
        """
        e = self.assertRaises(
            ValueError, DeviceConfig.build, STREAMER, "tcp://127.0.0.1:1", self.back
        )
        self.assertIn("did you mean 'bind:tcp://127.0.0.1:1'", str(e))
        e = self.assertRaises(
            TypeError, DeviceConfig.build, STREAMER, self.front, self.back, 5
        )
        self.assertIn("monitor must be a ZmqEndpoint", str(e))
        e = self.assertRaises(
            TypeError, DeviceConfig.build, STREAMER, {"bind": "inproc://a"}, self.back
        )
        self.assertIn("frontend must be a ZmqEndpoint", str(e))
        self.assertRaises(
            ValueError,
            DeviceConfig.build,
            STREAMER,
            ("listen", "tcp://127.0.0.1:1"),
            self.back,
        )
        self.assertRaises(
            TypeError, DeviceConfig.build, STREAMER, self.front, ("bind", b"inproc://x")
        )
        self.assertRaises(TypeError, DeviceConfig.build, STREAMER, self.front, [5])

    def test_prefixesMustBeBytes(self) -> None:
        """Text prefixes are refused, naming the argument."""
        e = self.assertRaises(
            TypeError, DeviceConfig.build, QUEUE, self.front, self.back, inPrefix="in"
        )
        self.assertEqual(str(e), "inPrefix must be bytes, not str")
        e = self.assertRaises(
            TypeError, DeviceConfig.build, QUEUE, self.front, self.back, outPrefix=None
        )
        self.assertEqual(str(e), "outPrefix must be bytes, not NoneType")

    def test_optionsChecked(self) -> None:
        """
        Unknown options and connection-only settings are a TypeError that
        lists the known ones; values out of range a ValueError.
        """
        e = self.assertRaises(
            TypeError,
            DeviceConfig.build,
            QUEUE,
            self.front,
            self.back,
            options={"highWaterMarks": 1},
        )
        self.assertIn("highWaterMarks", str(e))
        self.assertIn("highWaterMark,", str(e))
        self.assertRaises(
            TypeError,
            DeviceConfig.build,
            QUEUE,
            self.front,
            self.back,
            options={"readBatchSize": 10},
        )
        self.assertRaises(
            ValueError,
            DeviceConfig.build,
            QUEUE,
            self.front,
            self.back,
            options={"highWaterMark": -1},
        )
        self.assertRaises(
            TypeError,
            DeviceConfig.build,
            QUEUE,
            self.front,
            self.back,
            options={"lingerPeriod": "0"},
        )

    def test_swapsRouting(self) -> None:
        """Only ROUTER-to-ROUTER devices rewrite the routing frames."""
        routers = DeviceKind("router-router", zmq.ROUTER, zmq.ROUTER)
        self.assertTrue(DeviceConfig.build(routers, self.front, self.back).swapsRouting)
        for kind in (
            QUEUE,
            FORWARDER,
            STREAMER,
            DeviceKind("d", zmq.DEALER, zmq.ROUTER),
        ):
            self.assertFalse(
                DeviceConfig.build(kind, self.front, self.back).swapsRouting
            )

    def test_frozen(self) -> None:
        """A configuration cannot be changed once checked."""
        config = DeviceConfig.build(QUEUE, self.front, self.back)
        self.assertRaises(AttributeError, setattr, config, "inPrefix", b"x")

    def roundTrip(self, config: DeviceConfig) -> DeviceConfig:
        text = config.toJSON()
        self.assertIsInstance(text, str)
        self.assertNotIn("\n", text)  # one line on the child's standard input
        return DeviceConfig.fromJSON(text)

    def test_jsonRoundTrip(self) -> None:
        """Every field survives toJSON/fromJSON, binary prefixes included."""
        config = DeviceConfig.build(
            DeviceKind("router-router", zmq.ROUTER, zmq.ROUTER),
            [self.front, connect("ipc:///tmp/front.sock")],
            self.back,
            [bind("tcp://127.0.0.1:*")],
            inPrefix=b"\x00\xffin\n",
            outPrefix=b"",
            options={"highWaterMark": 5, "tcpKeepalive": 1, "reconnectInterval": 50},
        )
        again = self.roundTrip(config)
        self.assertEqual(again, config)
        self.assertIsInstance(again.kind, DeviceKind)
        self.assertTrue(again.swapsRouting)

    def test_jsonRoundTripNoMonitor(self) -> None:
        """A device without monitor comes back without one."""
        for kind in (QUEUE, FORWARDER, STREAMER):
            config = DeviceConfig.build(kind, self.front, self.back)
            self.assertEqual(self.roundTrip(config), config)

    def test_jsonRoundTripBytesOption(self) -> None:
        """An option whose value is bytes (zapDomain) survives JSON too."""
        config = DeviceConfig.build(
            STREAMER, self.front, self.back, options={"zapDomain": b"global"}
        )
        self.assertEqual(self.roundTrip(config), config)

    def test_fromJSONChecks(self) -> None:
        """What comes back from JSON is checked again like build()'s input."""
        config = DeviceConfig.build(QUEUE, self.front, self.back)
        text = config.toJSON().replace('"bind"', '"listen"', 1)
        self.assertRaises(ValueError, DeviceConfig.fromJSON, text)
        text = config.toJSON().replace(f"{zmq.ROUTER}", f"{zmq.REQ}", 1)
        self.assertRaises(ValueError, DeviceConfig.fromJSON, text)


class RunProxyTests(SynchronousTestCase):
    """
    L{runProxy} on plain pyzmq sockets in a private context, run in a
    thread as L{txzmq.ThreadDevice} runs it.  Every wait is bounded.
    """

    def setUp(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.sockets: list[zmq.Socket[Any]] = []
        self.addCleanup(self.terminate)

    def terminate(self) -> None:
        for socket in self.sockets:
            socket.close(linger=0)
        # Terminating blocks until every socket of the context is closed:
        # do it in a thread, so a socket left open fails the test instead
        # of hanging it.
        done = threading.Thread(target=self.context.term, daemon=True)
        done.start()
        done.join(5)
        self.assertFalse(done.is_alive(), "a socket of the device was left open")

    def socket(self, socketType: int) -> zmq.Socket[Any]:
        socket = self.context.socket(socketType)
        socket.set(zmq.LINGER, 0)
        socket.set(zmq.RCVTIMEO, WAIT_MS)
        socket.set(zmq.SNDTIMEO, WAIT_MS)
        self.sockets.append(socket)
        return socket

    def address(self) -> str:
        return f"inproc://txzmq-test-proxy-{next(_names)}"

    def runInThread(
        self, config: DeviceConfig
    ) -> tuple[zmq.Socket[Any], dict[str, list[str]], threading.Thread, list[Any]]:
        """
        Start runProxy in a thread; return the control socket, the bound
        addresses, the thread and a list that gets the exception it raised.
        """
        control = self.socket(zmq.PAIR)
        controlAddress = self.address()
        control.bind(controlAddress)
        bound = threading.Event()
        addresses: dict[str, list[str]] = {}
        errors: list[Any] = []

        def started(value: dict[str, list[str]]) -> None:
            addresses.update(value)
            bound.set()

        def run() -> None:
            try:
                runProxy(self.context, config, controlAddress, started)
            except BaseException as e:
                errors.append(e)
                bound.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.assertTrue(bound.wait(WAIT_MS / 1000), "runProxy did not start")
        self.assertEqual(errors, [])

        def stop() -> None:
            if thread.is_alive():
                control.send(b"TERMINATE")
                thread.join(WAIT_MS / 1000)

        self.addCleanup(stop)
        return control, addresses, thread, errors

    def assertEnds(self, control: zmq.Socket[Any], thread: threading.Thread) -> None:
        control.send(b"TERMINATE")
        thread.join(WAIT_MS / 1000)
        self.assertFalse(thread.is_alive(), "TERMINATE did not stop the device")

    def pipeline(
        self, monitor: bool
    ) -> tuple[
        zmq.Socket[Any],
        zmq.Socket[Any],
        zmq.Socket[Any] | None,
        zmq.Socket[Any],
        Callable[[], None],
    ]:
        """
        A streamer in a thread, with a PUSH peer, a PULL peer and, when
        C{monitor}, a SUB socket on its monitor; return them, the control
        socket, and a function that stops the device.
        """
        config = DeviceConfig.build(
            STREAMER,
            bind(self.address()),
            bind(self.address()),
            bind(self.address()) if monitor else None,
        )
        control, addresses, thread, _ = self.runInThread(config)
        push = self.socket(zmq.PUSH)
        push.connect(addresses["frontend"][0])
        pull = self.socket(zmq.PULL)
        pull.connect(addresses["backend"][0])
        sub = None
        if monitor:
            sub = self.socket(zmq.SUB)
            sub.set(zmq.SUBSCRIBE, b"")
            sub.connect(addresses["monitor"][0])
        return push, pull, sub, control, lambda: self.assertEnds(control, thread)

    def test_startedGetsAddresses(self) -> None:
        """
        C{started} is called with the addresses bound on each side, tcp
        ports resolved, and nothing for connect endpoints.
        """
        config = DeviceConfig.build(
            QUEUE,
            [bind("tcp://127.0.0.1:*"), connect("tcp://127.0.0.1:9")],
            bind(self.address()),
            bind("tcp://127.0.0.1:*"),
        )
        control, addresses, thread, _ = self.runInThread(config)
        self.assertEqual(sorted(addresses), ["backend", "frontend", "monitor"])
        [front] = addresses["frontend"]
        self.assertRegex(front, r"^tcp://127\.0\.0\.1:\d+$")
        self.assertNotEqual(front, "tcp://127.0.0.1:*")
        self.assertEqual(addresses["backend"], [config.backend[0][1]])
        self.assertEqual(len(addresses["monitor"]), 1)
        self.assertEnds(control, thread)

    def test_plainProxy(self) -> None:
        """A plain streamer passes messages in order, multipart whole."""
        push, pull, _, _, end = self.pipeline(monitor=False)
        messages = [[b"%d" % i, b"", b"part"] for i in range(200)]
        for message in messages:
            push.send_multipart(message)
        self.assertEqual([pull.recv_multipart() for _ in messages], messages)
        end()

    def test_monitoredLoop(self) -> None:
        """
        A monitored streamer passes every message and publishes a copy of
        each, prefixed with b"in".
        """
        push, pull, sub, _, end = self.pipeline(monitor=True)
        assert sub is not None
        # The monitor's subscriber joins asynchronously: probe until it sees one.
        for _attempt in range(500):
            push.send(b"probe")
            self.assertEqual(pull.recv_multipart(), [b"probe"])
            if sub.poll(10):
                break
        else:
            self.fail("the monitor subscriber never saw a message")
        while sub.poll(50):
            self.assertEqual(sub.recv_multipart(), [b"in", b"probe"])
        messages = [[b"%d" % i, b"x"] for i in range(200)]
        for message in messages:
            push.send_multipart(message)
        self.assertEqual([pull.recv_multipart() for _ in messages], messages)
        self.assertEqual(
            [sub.recv_multipart() for _ in messages], [[b"in", *m] for m in messages]
        )
        end()

    def test_monitoredLoopPauses(self) -> None:
        """
        The poll loop of a monitored device stops reading on PAUSE and
        goes on after RESUME; TERMINATE works while paused.
        """
        push, pull, _, control, end = self.pipeline(monitor=True)
        push.send(b"before")
        self.assertEqual(pull.recv(), b"before")
        control.send(b"PAUSE")
        push.send(b"during")
        self.assertEqual(pull.poll(200), 0, "a paused device passed a message")
        control.send(b"RESUME")
        self.assertEqual(pull.recv(), b"during")
        control.send(b"PAUSE")
        end()

    def test_routerToRouter(self) -> None:
        """
        Between two ROUTER sockets the poll loop swaps sender and
        recipient, both ways.
        """
        config = DeviceConfig.build(
            DeviceKind("router-router", zmq.ROUTER, zmq.ROUTER),
            bind(self.address()),
            bind(self.address()),
        )
        control, addresses, thread, _ = self.runInThread(config)
        client = self.socket(zmq.DEALER)
        client.set(zmq.IDENTITY, b"client")
        client.connect(addresses["frontend"][0])
        worker = self.socket(zmq.DEALER)
        worker.set(zmq.IDENTITY, b"worker")
        worker.connect(addresses["backend"][0])
        # The backend ROUTER drops messages to a peer it does not know yet.
        for _attempt in range(500):
            client.send_multipart([b"worker", b"probe"])
            if worker.poll(10):
                break
        else:
            self.fail("the worker never got a message")
        while worker.poll(50):
            self.assertEqual(worker.recv_multipart(), [b"client", b"probe"])
        client.send_multipart([b"worker", b"hello", b""])
        self.assertEqual(worker.recv_multipart(), [b"client", b"hello", b""])
        worker.send_multipart([b"client", b"hi"])
        self.assertEqual(client.recv_multipart(), [b"worker", b"hi"])
        self.assertEnds(control, thread)

    def test_bindFailure(self) -> None:
        """
        When an address is in use, runProxy raises ZMQError before calling
        C{started} and closes the sockets it had opened (the context can
        terminate).
        """
        taken = self.socket(zmq.PULL)
        taken.bind("tcp://127.0.0.1:*")
        address = taken.getsockopt_string(zmq.LAST_ENDPOINT)
        config = DeviceConfig.build(
            STREAMER, bind("tcp://127.0.0.1:*"), bind(address), bind(self.address())
        )
        control = self.socket(zmq.PAIR)
        controlAddress = self.address()
        control.bind(controlAddress)
        started: list[Any] = []
        e = self.assertRaises(
            zmq.ZMQError, runProxy, self.context, config, controlAddress, started.append
        )
        self.assertEqual(e.errno, zmq.EADDRINUSE)
        self.assertEqual(started, [])

    def test_contextTerminated(self) -> None:
        """
        Terminating the context ends runProxy quietly (no exception), with
        its sockets closed: how a factory's shutdown stops a ThreadDevice.
        """
        for monitor in (False, True):
            config = DeviceConfig.build(
                STREAMER,
                bind(self.address()),
                bind(self.address()),
                bind(self.address()) if monitor else None,
            )
            context: zmq.Context[Any] = zmq.Context()
            control = context.socket(zmq.PAIR)
            control.bind("inproc://control")
            bound = threading.Event()
            errors: list[BaseException] = []

            def run(
                context: zmq.Context[Any] = context,
                config: DeviceConfig = config,
                bound: threading.Event = bound,
                errors: list[BaseException] = errors,
            ) -> None:
                try:
                    runProxy(context, config, "inproc://control", lambda a: bound.set())
                except BaseException as e:
                    errors.append(e)

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            self.assertTrue(bound.wait(WAIT_MS / 1000))
            control.close(linger=0)
            terminating = threading.Thread(target=context.term, daemon=True)
            terminating.start()
            terminating.join(WAIT_MS / 1000)
            thread.join(WAIT_MS / 1000)
            self.assertFalse(terminating.is_alive(), "the context did not terminate")
            self.assertFalse(thread.is_alive())
            self.assertEqual(errors, [])

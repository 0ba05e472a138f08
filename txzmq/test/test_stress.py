"""
Stress tests of the edge-triggered C{ZMQ_FD} handling: many sends and
receives interleaved on one reactor, from inside the callbacks.

A lost wake-up (an edge consumed by a send while a message waited) shows
up as a stall, so every test waits with a timeout and fails on it.  The
fairness test checks that a flood on one socket is read in bounded
batches, leaving room for timers and other connections.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.trial import unittest

from txzmq import (
    ZmqDealerConnection,
    ZmqPairConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqWouldBlockError,
)
from txzmq.test._helpers import FactoryMixin, bind, boundAddress, connect, inprocAddress

STALL = 15.0
"""Seconds after which a test counts as stalled (a lost wake-up)."""


class _StressCase(FactoryMixin, unittest.TestCase):
    timeout = 30

    def setUp(self) -> None:
        super().setUp()
        self.done: Deferred[None] = Deferred()

    def finish(self) -> Deferred[None]:
        """The Deferred a test fires when it is complete, with a timeout."""
        return self.done.addTimeout(STALL, self.reactor)

    def fail_(self, reason: str) -> None:
        if not self.done.called:
            self.done.errback(AssertionError(reason))

    def tcpPair(
        self, listener: type, connector: type, **kwargs: Any
    ) -> tuple[Any, Any]:
        first = listener(self.factory, bind("tcp://127.0.0.1:*"), **kwargs)
        second = connector(self.factory, connect(boundAddress(first)), **kwargs)
        return first, second

    def inprocPair(
        self, listener: type, connector: type, **kwargs: Any
    ) -> tuple[Any, Any]:
        address = inprocAddress()
        first = listener(self.factory, bind(address), **kwargs)
        second = connector(self.factory, connect(address), **kwargs)
        return first, second


class PingPongTests(_StressCase):
    """
    Two DEALERs play ping-pong with multipart messages, each sending from
    inside its gotMessage.
    """

    ROUNDS = 2000

    async def _pingPong(self, window: int, pair: Any) -> None:
        test = self
        rounds = self.ROUNDS
        payload = b"p" * 64
        state = {"sent": 0, "received": 0}

        class Server(ZmqDealerConnection):
            def gotMessage(self, *frames: bytes) -> None:
                kind, n, body = frames
                if kind != b"ping" or body != payload:
                    test.fail_(f"server got {frames!r}")
                    return
                self.sendMultipart([b"pong", n, body])

        class Client(ZmqDealerConnection):
            def ping(self) -> None:
                self.sendMultipart([b"ping", b"%d" % state["sent"], payload])
                state["sent"] += 1

            def gotMessage(self, *frames: bytes) -> None:
                kind, n, body = frames
                if (kind, int(n), body) != (b"pong", state["received"], payload):
                    test.fail_(
                        f"client expected pong {state['received']}, got {frames!r}"
                    )
                    return
                state["received"] += 1
                if state["received"] == rounds:
                    test.done.callback(None)
                elif state["sent"] < rounds:
                    self.ping()

        server, client = pair(Server, Client)
        for _ in range(window):
            client.ping()
        await self.finish()

    async def test_oneInFlightTcp(self) -> None:
        await self._pingPong(1, self.tcpPair)

    async def test_oneInFlightInproc(self) -> None:
        await self._pingPong(1, self.inprocPair)

    async def test_windowTcp(self) -> None:
        await self._pingPong(16, self.tcpPair)

    async def test_windowInproc(self) -> None:
        await self._pingPong(16, self.inprocPair)


class RouterEchoTests(_StressCase):
    MESSAGES = 5000
    WINDOW = 400
    CHUNK = 50

    async def test_echoWhileSending(self) -> None:
        """
        A ROUTER echoes from gotMessage while the DEALER client keeps
        sending from a timer: every echo comes back, in order.
        """
        test = self
        total = self.MESSAGES
        state = {"sent": 0, "received": 0}

        class Echo(ZmqRouterConnection):
            def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
                self.sendMultipart(senderId, [b"echo", *frames])

        class Client(ZmqDealerConnection):
            def gotMessage(self, *frames: bytes) -> None:
                expected = [b"echo", b"%d" % state["received"], b"x"]
                if list(frames) != expected:
                    test.fail_(f"expected {expected!r}, got {frames!r}")
                    return
                state["received"] += 1
                if state["received"] == total:
                    test.done.callback(None)

        server, client = self.tcpPair(Echo, Client)

        def keepSending() -> None:
            if test.done.called:
                return
            for _ in range(self.CHUNK):
                if (
                    state["sent"] == total
                    or state["sent"] - state["received"] >= self.WINDOW
                ):
                    break
                try:
                    client.sendMultipart([b"%d" % state["sent"], b"x"])
                except ZmqWouldBlockError:
                    break
                state["sent"] += 1
            if state["sent"] < total:
                self.reactor.callLater(0, keepSending)

        keepSending()
        await self.finish()


class RelayTests(_StressCase):
    MESSAGES = 20000
    ACK_EVERY = 1000

    async def test_pullRelaysFromCallback(self) -> None:
        """
        20000 messages flood a PULL which forwards each, from onPull, on a
        PAIR socket; that PAIR also receives acknowledgements meanwhile.
        Everything arrives, in order, and every acknowledgement too.
        """
        test = self
        total = self.MESSAGES
        ackEvery = self.ACK_EVERY
        state = {"relayed": 0, "sunk": 0, "acks": 0}

        class RelayOut(ZmqPairConnection):
            def gotMessage(self, *frames: bytes) -> None:
                if frames != (b"ack", b"%d" % ((state["acks"] + 1) * ackEvery)):
                    test.fail_(f"unexpected ack {frames!r}")
                    return
                state["acks"] += 1
                check()

        class Sink(ZmqPairConnection):
            def gotMessage(self, *frames: bytes) -> None:
                if frames != (b"%d" % state["sunk"],):
                    test.fail_(f"sink expected {state['sunk']}, got {frames!r}")
                    return
                state["sunk"] += 1
                if state["sunk"] % ackEvery == 0:
                    self.sendMultipart([b"ack", b"%d" % state["sunk"]])
                check()

        address = inprocAddress()
        Sink(self.factory, bind(address), highWaterMark=0)
        relayOut = RelayOut(self.factory, connect(address), highWaterMark=0)

        class Relay(ZmqPullConnection):
            def onPull(self, message: list[bytes]) -> None:
                relayOut.send(message)
                state["relayed"] += 1

        def check() -> None:
            if state["sunk"] == total and state["acks"] == total // ackEvery:
                if not test.done.called:
                    test.done.callback(None)

        relay, source = self.tcpPair(Relay, ZmqPushConnection)
        pending = iter(range(total))
        current: list[int] = []

        def flood() -> None:
            while True:
                if not current:
                    n = next(pending, None)
                    if n is None:
                        return
                    current.append(n)
                try:
                    source.push(b"%d" % current[0])
                except ZmqWouldBlockError:
                    self.reactor.callLater(0, flood)
                    return
                current.clear()

        flood()
        await self.finish()
        self.assertEqual(state["relayed"], total)


class SequentialRequestTests(_StressCase):
    REQUESTS = 2000

    async def test_requestFromReplyCallback(self) -> None:
        """
        2000 requests, each sent from the callback of the previous reply,
        all get their own reply.
        """
        total = self.REQUESTS

        class Rep(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
                self.reply(messageId, b"re", *messageParts)

        rep, req = self.tcpPair(Rep, ZmqREQConnection)
        assert isinstance(req, ZmqREQConnection)

        def gotReply(reply: list[bytes], n: int) -> None:
            if reply != [b"re", b"%d" % n]:
                raise AssertionError(f"request {n} got {reply!r}")
            if n + 1 == total:
                self.done.callback(None)
            else:
                request(n + 1)

        def request(n: int) -> None:
            req.sendMsg(b"%d" % n).addCallback(gotReply, n).addErrback(
                lambda f: None if self.done.called else self.done.errback(f)
            )

        request(0)
        await self.finish()


class FairnessTests(_StressCase):
    FLOOD = 50000
    OTHER = 1000
    BATCH = 100

    async def test_floodYields(self) -> None:
        """
        A PULL with 50000 messages waiting, read with readBatchSize=100,
        lets a 1 ms LoopingCall run many times during the flood, and a
        second connection is served alongside, not after it.
        """
        test = self
        flood, other = self.FLOOD, self.OTHER
        state: dict[str, Any] = {"ticks": 0, "flood": 0, "other": []}

        def tick() -> None:
            state["ticks"] += 1

        class FloodPull(ZmqPullConnection):
            def onPull(self, message: list[bytes]) -> None:
                state["flood"] += 1
                if state["flood"] == 1:
                    state["ticksAtFirst"] = state["ticks"]
                elif state["flood"] == flood:
                    state["ticksAtLast"] = state["ticks"]
                    test.done.callback(None)

        class OtherPull(ZmqPullConnection):
            def onPull(self, message: list[bytes]) -> None:
                state["other"].append(state["flood"])

        settings = {"highWaterMark": 0}
        floodPull, floodPush = self.inprocPair(FloodPull, ZmqPushConnection, **settings)
        otherPull, otherPush = self.inprocPair(OtherPull, ZmqPushConnection, **settings)
        floodPull.setSocketOptions(readBatchSize=self.BATCH)
        otherPull.setSocketOptions(readBatchSize=self.BATCH)
        # Queue everything before the reactor reads anything.
        for n in range(flood):
            floodPush.push(b"%d" % n)
        for n in range(other):
            otherPush.push(b"%d" % n)

        looping = LoopingCall(tick)
        looping.clock = self.reactor
        looping.start(0.001, now=False)

        def stopLooping() -> None:
            if looping.running:
                looping.stop()

        self.addCleanup(stopLooping)

        await self.finish()
        during = state["ticksAtLast"] - state["ticksAtFirst"]
        self.assertGreaterEqual(
            during, 10, f"the timer ran only {during} times during the flood"
        )
        self.assertEqual(len(state["other"]), other)
        self.assertLess(
            state["other"][0],
            flood // 10,
            "the second connection waited for most of the flood",
        )
        self.assertLess(
            state["other"][-1],
            flood // 2,
            "the second connection was served after the flood",
        )

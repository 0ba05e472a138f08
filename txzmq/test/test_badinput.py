"""
Bad input, on real sockets: wrong arguments at call sites, malformed
frames from raw peers, exceptions in callbacks, bad addresses, use after
shutdown, full queues.  Each is refused or logged clearly, and the
connection keeps working afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import zmq
from twisted.logger import LogEvent
from twisted.trial import unittest

from txzmq import (
    ZmqConnectionClosedError,
    ZmqDealerConnection,
    ZmqEndpointError,
    ZmqFactory,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqUnknownRequestError,
    ZmqWouldBlockError,
    ZmqXPubConnection,
)
from txzmq.test._helpers import (
    Collector,
    FactoryMixin,
    bind,
    boundAddress,
    connect,
    inprocAddress,
    ipcAddress,
    untilTrue,
)
from txzmq.test.test_patterns import FrameRecorder as Pair
from txzmq.test.test_patterns import HoldingREP as RecordingREP
from txzmq.test.test_patterns import Puller


class Subscriber(ZmqSubConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.received((tag, message))


class BoomError(Exception):
    """Raised by callbacks on purpose."""


def shutdownTime(factory: ZmqFactory, limit: float) -> float:
    """
    Shut C{factory} down in a helper thread and return how long it took;
    give up (returning infinity) after C{limit} seconds rather than hang
    the test run if libzmq never lets go.
    """
    thread = threading.Thread(target=factory.shutdown, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(limit)
    return float("inf") if thread.is_alive() else time.monotonic() - start


class _Case(FactoryMixin, unittest.TestCase):
    timeout = 30

    def pushPull(self) -> tuple[ZmqPushConnection, Puller]:
        address = inprocAddress()
        pull = Puller(self.factory, bind(address))
        return ZmqPushConnection(self.factory, connect(address)), pull

    def ipcAddress(self) -> str:
        """A fresh ipc address whose directory is removed after the test."""
        return ipcAddress(self)


def _warnings(events: list[LogEvent], text: str) -> list[LogEvent]:
    return [
        e
        for e in events
        if text in e.get("log_format", "") and e["log_level"].name in ("warn", "error")
    ]


class BadMessageTests(_Case):
    BAD: list[tuple[object, type[Exception], str]] = [
        (None, TypeError, "NoneType"),
        (42, TypeError, "int"),
        ({b"a": b"b"}, TypeError, "dict"),
        ("text", TypeError, "encode"),
        ([b"a", "b"], TypeError, "frame 1"),
        ([b"a", [b"b"]], TypeError, "frame 1"),
        ([b"a", None], TypeError, "frame 1"),
        ((b"a", 3), TypeError, "frame 1"),
        ([], ValueError, "empty"),
    ]

    async def test_sendRefusesBadMessages(self) -> None:
        """
        send() refuses what is not bytes or a non-empty list of bytes, with
        a message naming the problem; nothing of it reaches the peer, which
        then receives the next good message intact.
        """
        push, pull = self.pushPull()
        for bad, error, hint in self.BAD:
            e = self.assertRaises(error, push.send, bad)
            self.assertIn(hint, str(e), f"for {bad!r}")
            self.assertIn("bytes" if error is TypeError else "frame", str(e))
        push.send([b"good", b"message"])
        self.assertEqual(
            await self.wait(pull.received.waitFor(1)), [[b"good", b"message"]]
        )

    async def test_pairAndDealerMethods(self) -> None:
        """
        sendMsg/sendMultipart of PAIR, DEALER and ROUTER connections refuse
        text and bad frames; a good message then arrives alone.
        """
        address = inprocAddress()
        a = Pair(self.factory, bind(address))
        b = Pair(self.factory, connect(address))
        self.assertRaises(TypeError, b.sendMsg, "text")
        self.assertRaises(TypeError, b.sendMultipart, [b"a", "b"])
        self.assertRaises(ValueError, b.sendMultipart, [])
        b.sendMultipart([b"ok", b"2"])
        self.assertEqual(await self.wait(a.received.waitFor(1)), [[b"ok", b"2"]])

        class Router(ZmqRouterConnection):
            def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
                got((senderId, list(frames)))

        got = Collector(self.reactor)
        address = inprocAddress()
        router = Router(self.factory, bind(address))
        dealer = ZmqDealerConnection(self.factory, connect(address), identity=b"d")
        self.assertRaises(TypeError, dealer.sendMsg, "text")
        self.assertRaises(TypeError, dealer.sendMsg, None)
        dealer.sendMsg(b"hello")
        self.assertEqual(await self.wait(got.waitFor(1)), [(b"d", [b"hello"])])
        self.assertRaises(TypeError, router.sendMsg, "d", b"x")
        self.assertRaises(TypeError, router.sendMsg, b"d", "x")
        self.assertRaises(TypeError, router.sendMultipart, b"d", b"not a list")
        self.assertRaises(TypeError, router.sendMultipart, b"d", [b"x", 1])

    async def test_publishEncodesText(self) -> None:
        """
        publish() encodes text message and tag as UTF-8 (as txZMQ 1.0
        accepted them); other types are refused.
        """
        address = inprocAddress()
        pub = ZmqPubConnection(self.factory, bind(address))
        sub = Subscriber(self.factory, connect(address))
        sub.subscribe(b"")
        self.assertRaises(TypeError, pub.publish, None)
        self.assertRaises(TypeError, pub.publish, b"x", 3)
        self.assertRaises(TypeError, pub.publish, [b"x"])

        def probed() -> bool:
            if sub.received.items:
                return True
            pub.publish("héllo", "tåg")
            return False

        await untilTrue(self.reactor, probed)
        self.assertEqual(sub.received.items[0], ("tåg".encode(), "héllo".encode()))

    def test_subscribeRefusesText(self) -> None:
        """subscribe() and unsubscribe() want bytes; text is a TypeError."""
        sub = Subscriber(self.factory, connect(inprocAddress()))
        e = self.assertRaises(TypeError, sub.subscribe, "text")
        self.assertIn("encode", str(e))
        self.assertRaises(TypeError, sub.unsubscribe, "text")
        self.assertRaises(TypeError, sub.subscribe, None)

    async def test_sendMsgRefusesText(self) -> None:
        """
        A REQ request with a text part is refused before anything is sent
        or recorded: no request stays pending, and the REP sees only the
        next good request.
        """
        address = inprocAddress()
        rep = RecordingREP(self.factory, bind(address))
        req = ZmqREQConnection(self.factory, connect(address))
        e = self.assertRaises(TypeError, req.sendMsg, b"a", "b")
        self.assertIn("part 1", str(e))
        self.assertRaises(TypeError, req.sendMsg, b"a", timeout="soon")
        self.assertRaises(ValueError, req.sendMsg, b"a", timeout=-1)
        self.assertEqual(len(req._requests), 0)
        d = req.sendMsg(b"good")
        [(messageId, parts)] = await self.wait(rep.requests.waitFor(1))
        self.assertEqual(parts, [b"good"])
        rep.reply(messageId, b"answer")
        self.assertEqual(await self.wait(d), [b"answer"])

    async def test_replyUnknownId(self) -> None:
        """
        reply() with an id that is not waiting raises ZmqUnknownRequestError
        (a KeyError); answering twice is refused the same way.
        """
        address = inprocAddress()
        rep = RecordingREP(self.factory, bind(address))
        req = ZmqREQConnection(self.factory, connect(address))
        e = self.assertRaises(ZmqUnknownRequestError, rep.reply, b"nope", b"x")
        self.assertIsInstance(e, KeyError)
        self.assertIn("nope", str(e))
        self.assertRaises(TypeError, rep.reply, "text-id", b"x")
        d = req.sendMsg(b"q")
        [(messageId, _)] = await self.wait(rep.requests.waitFor(1))
        self.assertRaises(TypeError, rep.reply, messageId, "text")
        rep.reply(messageId, b"a")
        self.assertRaises(KeyError, rep.reply, messageId, b"again")
        self.assertEqual(await self.wait(d), [b"a"])


class ClosedTests(_Case):
    def test_useAfterShutdown(self) -> None:
        """
        Every operation on a connection that was shut down raises
        ZmqConnectionClosedError; shutting down again does nothing.
        """
        address = inprocAddress()
        push = ZmqPushConnection(self.factory, bind(address))
        pub = ZmqPubConnection(self.factory, bind(inprocAddress()))
        sub = Subscriber(self.factory, connect(address))
        req = ZmqREQConnection(self.factory, connect(inprocAddress()))
        rep = RecordingREP(self.factory, bind(inprocAddress()))
        dealer = ZmqDealerConnection(self.factory, connect(inprocAddress()))
        connections = [push, pub, sub, req, rep, dealer]
        for connection in connections:
            connection.shutdown()
            connection.shutdown()
        calls: list[Callable[[], object]] = [
            lambda: push.push(b"x"),
            lambda: push.send([b"x", b"y"]),
            lambda: pub.publish(b"x", b"t"),
            lambda: sub.subscribe(b"t"),
            lambda: sub.unsubscribe(b"t"),
            lambda: req.sendMsg(b"x"),
            lambda: rep.reply(b"id", b"x"),
            lambda: dealer.sendMsg(b"x"),
            lambda: dealer.addEndpoints([connect(inprocAddress())]),
            lambda: dealer.setSocketOptions(highWaterMark=5),
        ]
        for call in calls:
            self.assertRaises(ZmqConnectionClosedError, call)
        self.assertEqual(self.factory.connections, set())
        self.assertTrue(all(c.closed for c in connections))

    def test_useAfterFactoryShutdown(self) -> None:
        """
        After factory.shutdown() its connections are closed and no new one
        can be made.
        """
        push = ZmqPushConnection(self.factory, connect(inprocAddress()))
        self.factory.shutdown()
        self.assertRaises(ZmqConnectionClosedError, push.push, b"x")
        self.assertRaises(
            ZmqConnectionClosedError,
            ZmqPushConnection,
            self.factory,
            bind(inprocAddress()),
        )
        self.factory.shutdown()

    async def test_pendingRequestsFailOnShutdown(self) -> None:
        """
        Requests waiting for a reply errback with ZmqConnectionClosedError
        when the factory shuts down; their timeout timers are cancelled.
        """
        address = inprocAddress()
        rep = RecordingREP(self.factory, bind(address))
        req = ZmqREQConnection(self.factory, connect(address))
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2", timeout=60)
        await self.wait(rep.requests.waitFor(2))
        self.factory.shutdown()
        await self.assertFailure(d1, ZmqConnectionClosedError)
        await self.assertFailure(d2, ZmqConnectionClosedError)
        self.assertEqual(
            [
                c
                for c in self.reactor.getDelayedCalls()
                if c.func == req._timeoutRequest
            ],
            [],
        )


class WouldBlockTests(_Case):
    def test_pushWithoutPeer(self) -> None:
        """
        A bound PUSH with no peer refuses to send: ZmqWouldBlockError, a
        zmq.Again, saying nothing was sent.
        """
        push = ZmqPushConnection(self.factory, bind(inprocAddress()))
        e = self.assertRaises(ZmqWouldBlockError, push.push, b"x")
        self.assertIsInstance(e, zmq.Again)
        self.assertIn("nothing was sent", str(e))
        self.assertEqual(e.errno, zmq.EAGAIN)
        try:
            push.push([b"x", b"y"])
        except zmq.Again:
            pass
        else:
            self.fail("zmq.Again not raised")

    async def test_dealerAtHighWaterMark(self) -> None:
        """
        A DEALER with sendHighWaterMark 1 and a peer that never reads soon
        raises ZmqWouldBlockError; once the peer reads, the messages sent
        before arrive whole and sending works again.
        """
        address = inprocAddress()
        raw = self.rawSocket(zmq.ROUTER)
        raw.setsockopt(zmq.RCVHWM, 1)
        raw.bind(address)
        dealer = ZmqDealerConnection(
            self.factory, connect(address), identity=b"d", highWaterMark=1
        )
        sent = 0
        with self.assertRaises(ZmqWouldBlockError):
            for sent in range(100):
                dealer.sendMultipart([b"%d" % sent, b"second frame"])
        self.assertLess(sent, 100)
        received: list[list[bytes]] = []

        def drain() -> bool:
            while True:
                try:
                    received.append(raw.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
            return len(received) >= sent

        await untilTrue(self.reactor, drain)
        self.assertEqual(
            received, [[b"d", b"%d" % i, b"second frame"] for i in range(sent)]
        )

        # libzmq reopens the pipe once the DEALER has processed the
        # reader's progress: retry until it takes the message.
        def resend() -> bool:
            try:
                dealer.sendMsg(b"after")
            except ZmqWouldBlockError:
                return False
            return True

        await untilTrue(self.reactor, resend)

        def gotAfter() -> bool:
            drain()
            return received[-1] == [b"d", b"after"]

        await untilTrue(self.reactor, gotAfter)
        self.assertEqual(len(received), sent + 1)


class MalformedInputTests(_Case):
    async def test_requestWithoutDelimiter(self) -> None:
        """
        A raw DEALER sending a request without the empty delimiter to a REP
        connection gets it logged and dropped; its next, valid request is
        answered.
        """
        events = self.captureLogs()
        address = inprocAddress()

        class Echo(RecordingREP):
            def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
                super().gotMessage(messageId, *messageParts)
                self.reply(messageId, b"re", *messageParts)

        rep = Echo(self.factory, bind(address))
        raw = self.rawSocket(zmq.DEALER)
        raw.connect(address)
        raw.send_multipart([b"no-delimiter"])
        raw.send_multipart([b"still", b"none"])
        raw.send_multipart([b"", b"valid"])
        [(_, parts)] = await self.wait(rep.requests.waitFor(1))
        self.assertEqual(parts, [b"valid"])
        self.assertEqual(len(_warnings(events, "malformed request")), 2)
        replies: list[list[bytes]] = []

        def gotReply() -> bool:
            try:
                replies.append(raw.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return False
            return True

        await untilTrue(self.reactor, gotReply)
        self.assertEqual(replies, [[b"", b"re", b"valid"]])
        self.assertEqual(len(rep.requests.items), 1)

    async def test_malformedReply(self) -> None:
        """
        A REQ connection logs and drops replies without the delimiter and
        still matches the next, valid reply to its request.
        """
        events = self.captureLogs()
        got = Collector(self.reactor)

        class Router(ZmqRouterConnection):
            def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
                got((senderId, list(frames)))

        address = inprocAddress()
        router = Router(self.factory, bind(address))
        req = ZmqREQConnection(self.factory, connect(address), identity=b"req")
        d = req.sendMsg(b"question")
        [(sender, [requestId, delimiter, question])] = await self.wait(got.waitFor(1))
        self.assertEqual((sender, delimiter, question), (b"req", b"", b"question"))
        router.sendMultipart(b"req", [b"garbage"])
        router.sendMultipart(b"req", [requestId, b"not empty", b"x"])
        router.sendMultipart(b"req", [requestId, b"", b"answer"])
        self.assertEqual(await self.wait(d), [b"answer"])
        self.assertEqual(len(_warnings(events, "malformed reply")), 2)

    async def test_malformedPublication(self) -> None:
        """
        A SUB connection logs and drops published messages it cannot split
        (no separator, three frames) and keeps receiving.
        """
        events = self.captureLogs()
        address = inprocAddress()
        raw = self.rawSocket(zmq.PUB)
        raw.bind(address)
        sub = Subscriber(self.factory, connect(address))
        sub.subscribe(b"")

        def probed() -> bool:
            if sub.received.items:
                return True
            raw.send(b"probe\0", zmq.NOBLOCK)
            return False

        await untilTrue(self.reactor, probed)
        raw.send(b"no separator", zmq.NOBLOCK)
        raw.send_multipart([b"a", b"b", b"c"], zmq.NOBLOCK)
        raw.send(b"tag\0good", zmq.NOBLOCK)
        await untilTrue(self.reactor, lambda: (b"tag", b"good") in sub.received.items)
        self.assertEqual(set(sub.received.items), {(b"probe", b""), (b"tag", b"good")})
        self.assertEqual(len(_warnings(events, "malformed published message")), 2)

    async def test_malformedSubscription(self) -> None:
        """
        An XPUB connection logs and drops upstream messages that are not
        subscriptions, and still sees the next subscription.
        """
        events = self.captureLogs()
        got = Collector(self.reactor)

        class XPub(ZmqXPubConnection):
            def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
                got((tag, subscribed))

        address = inprocAddress()
        XPub(self.factory, bind(address))
        raw = self.rawSocket(zmq.XSUB)
        raw.connect(address)
        raw.send(b"\x05not a subscription")
        raw.send(b"\x01topic")
        self.assertEqual(await self.wait(got.waitFor(1)), [(b"topic", True)])
        self.assertEqual(len(_warnings(events, "malformed subscription")), 1)


class CallbackErrorTests(_Case):
    async def test_onPullRaises(self) -> None:
        """
        An exception raised by onPull is logged, and the connection goes on
        delivering the following messages.
        """

        class Fragile(Puller):
            def onPull(self, message: list[bytes]) -> None:
                if message == [b"boom"]:
                    raise BoomError("on purpose")
                super().onPull(message)

        address = inprocAddress()
        pull = Fragile(self.factory, bind(address))
        push = ZmqPushConnection(self.factory, connect(address))
        push.push(b"one")
        push.push(b"boom")
        push.push(b"two")
        self.assertEqual(
            await self.wait(pull.received.waitFor(2)), [[b"one"], [b"two"]]
        )
        self.assertEqual(len(self.flushLoggedErrors(BoomError)), 1)
        push.push(b"three")
        self.assertEqual(
            await self.wait(pull.received.waitFor(3)), [[b"one"], [b"two"], [b"three"]]
        )

    async def test_gotMessageRaises(self) -> None:
        """
        The same for a REP connection's gotMessage: the request that raised
        is logged, the next one is answered.
        """

        class Fragile(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
                if messageParts == (b"boom",):
                    raise BoomError("on purpose")
                self.reply(messageId, b"ok", *messageParts)

        address = inprocAddress()
        Fragile(self.factory, bind(address))
        req = ZmqREQConnection(self.factory, connect(address))
        lost = req.sendMsg(b"boom")
        self.assertEqual(await self.wait(req.sendMsg(b"fine")), [b"ok", b"fine"])
        self.assertEqual(len(self.flushLoggedErrors(BoomError)), 1)
        self.assertFalse(lost.called)
        lost.cancel()
        await self.assertFailure(lost, Exception)


class EndpointTests(_Case):
    BAD_ADDRESSES = [
        "bogus://nowhere",
        "tcp://",
        "tcp://127.0.0.1:notaport",
        "nonsense",
        "inproc://",
    ]

    def test_invalidAddress(self) -> None:
        """
        Binding or connecting to an invalid address raises ZmqEndpointError
        (a ValueError and a zmq.ZMQError) naming it; the connection is not
        kept, and the factory still shuts down promptly (no socket left
        open).
        """
        factory = ZmqFactory(self.reactor)
        self.addCleanup(factory.shutdown)
        good = ZmqPushConnection(factory, bind(inprocAddress()))
        for address in self.BAD_ADDRESSES:
            for endpoint in (bind(address), connect(address)):
                if address == "inproc://" and endpoint.type == "connect":
                    continue  # libzmq accepts connecting to an empty name
                e = self.assertRaises(
                    ZmqEndpointError, ZmqPullConnection, factory, endpoint
                )
                self.assertIsInstance(e, ValueError)
                self.assertIsInstance(e, zmq.ZMQError)
                self.assertIn(address, str(e))
        self.assertEqual(factory.connections, {good})
        self.assertLess(shutdownTime(factory, 10.0), 5.0)

    def test_addressInUse(self) -> None:
        """
        Binding an address already bound raises ZmqEndpointError; via
        addEndpoints, the endpoints attached before stay attached.
        """
        factory = ZmqFactory(self.reactor)
        self.addCleanup(factory.shutdown)
        first = ZmqPullConnection(factory, bind("tcp://127.0.0.1:*"))
        taken = boundAddress(first)
        before = set(factory.connections)
        self.assertRaises(ZmqEndpointError, ZmqPullConnection, factory, bind(taken))
        self.assertEqual(factory.connections, before)
        second = ZmqPullConnection(factory)
        fresh = inprocAddress()
        self.assertRaises(
            ZmqEndpointError, second.addEndpoints, [bind(fresh), bind(taken)]
        )
        self.assertEqual(second.endpoints, [bind(fresh)])
        self.assertLess(shutdownTime(factory, 10.0), 5.0)

    def test_badEndpointType(self) -> None:
        """
        An unknown endpoint type (or an address without "bind:" or
        "connect:") is a ValueError, a non-endpoint a TypeError; neither
        leaves a connection (or a socket) behind.
        """
        factory = ZmqFactory(self.reactor)
        self.addCleanup(factory.shutdown)
        self.assertRaises(
            ValueError, ZmqPullConnection, factory, ("listen", inprocAddress())
        )
        self.assertRaises(ValueError, ZmqPullConnection, factory, inprocAddress())
        self.assertRaises(TypeError, ZmqPullConnection, factory, 42)
        self.assertEqual(factory.connections, set())
        self.assertLess(shutdownTime(factory, 10.0), 5.0)


class LingerTests(_Case):
    def test_shutdownWithUnsentMessage(self) -> None:
        """
        factory.shutdown() with a message nobody will take returns after
        about the linger period: not at once (libzmq tried to deliver it),
        and not never.
        """
        factory = ZmqFactory(self.reactor, lingerPeriod=300)
        self.addCleanup(factory.shutdown)
        push = ZmqPushConnection(factory, connect(self.ipcAddress()))
        push.push(b"nobody will take this")
        elapsed = shutdownTime(factory, 10.0)
        self.assertGreaterEqual(elapsed, 0.2)
        self.assertLess(elapsed, 3.0)

    def test_connectionLinger(self) -> None:
        """A connection's own lingerPeriod of 0 drops its queue at once."""
        factory = ZmqFactory(self.reactor, lingerPeriod=5000)
        self.addCleanup(factory.shutdown)
        push = ZmqPushConnection(factory, connect(self.ipcAddress()), lingerPeriod=0)
        push.push(b"dropped")
        self.assertLess(shutdownTime(factory, 10.0), 2.0)

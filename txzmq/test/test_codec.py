"""
Codecs: L{txzmq.jsonCodec} itself, the C{codec} setting, and every
pattern sending and receiving values over inproc, ipc and tcp.  Frames
that do not decode are logged and their message dropped; the next
message still arrives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import zmq
from twisted.internet.defer import gatherResults
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

import txzmq
from txzmq import (
    Codec,
    JsonCodec,
    ZmqConnection,
    ZmqDealerConnection,
    ZmqPairConnection,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqUnknownRequestError,
    ZmqXPubConnection,
    ZmqXSubConnection,
    jsonCodec,
)
from txzmq.test._helpers import (
    addTransportCases,
    bind,
    connect,
    inprocAddress,
    untilTrue,
)
from txzmq.test.test_connection import _Base as _FakeReactorCase
from txzmq.test.test_connection import eventsFrom
from txzmq.test.test_flow import _FlowMixin
from txzmq.test.test_patterns import (
    Dealer,
    FrameRecorder,
    HoldingREP,
    Puller,
    Router,
    Subscriber,
)

VALUES: list[Any] = [
    {"a": [1, 2], "b": {"c": None}},
    "text with ünïcödé",
    None,
    3.5,
    -7,
    [True, False, []],
    "",
]
"""Values that survive a JSON round trip unchanged."""


class UpperCodec:
    """A codec that is not JSON: text, upper-cased on the wire."""

    def encode(self, value: Any) -> bytes:
        return str(value).upper().encode()

    def decode(self, data: bytes) -> Any:
        return data.decode().lower()


class NoDecode:
    def encode(self, value: Any) -> bytes:
        return b""


class NotCallable:
    encode = b"x"
    decode = b"y"


class JsonCodecTests(SynchronousTestCase):
    def test_roundTrip(self) -> None:
        for value in VALUES:
            frame = jsonCodec.encode(value)
            self.assertIsInstance(frame, bytes)
            self.assertEqual(jsonCodec.decode(frame), value)

    def test_compactUtf8(self) -> None:
        """JSON without spaces, UTF-8 without escapes."""
        self.assertEqual(jsonCodec.encode({"a": [1, 2]}), b'{"a":[1,2]}')
        self.assertEqual(jsonCodec.encode("é"), '"é"'.encode())

    def test_encodeRejects(self) -> None:
        self.assertRaises(TypeError, jsonCodec.encode, object())
        self.assertRaises(TypeError, jsonCodec.encode, b"bytes")

    def test_decodeRejects(self) -> None:
        self.assertRaises(ValueError, jsonCodec.decode, b"{")
        self.assertRaises(ValueError, jsonCodec.decode, b"\xff\xfe")
        self.assertRaises(ValueError, jsonCodec.decode, b"")

    def test_protocol(self) -> None:
        self.assertIsInstance(jsonCodec, Codec)
        self.assertIsInstance(jsonCodec, JsonCodec)
        self.assertIsInstance(UpperCodec(), Codec)
        self.assertEqual(repr(jsonCodec), "jsonCodec")
        self.assertIs(txzmq.jsonCodec, jsonCodec)


ALL_CLASSES: list[type[ZmqConnection]] = [
    ZmqPushConnection,
    ZmqPullConnection,
    ZmqPubConnection,
    ZmqSubConnection,
    ZmqXPubConnection,
    ZmqXSubConnection,
    ZmqREQConnection,
    ZmqREPConnection,
    ZmqRouterConnection,
    ZmqDealerConnection,
    ZmqPairConnection,
]


class CodecSettingTests(_FakeReactorCase):
    def test_defaultNone(self) -> None:
        self.assertIsNone(ZmqConnection.codec)
        self.assertIsNone(ZmqPullConnection(self.factory).codec)

    def test_badCodecRejected(self) -> None:
        """
        Anything without callable C{encode} and C{decode} is refused with
        L{TypeError} at construction, before any socket is made.
        """
        made = self.recordSockets()
        for bad in [object(), "json", b"json", 1, json, NoDecode(), NotCallable()]:
            for cls in ALL_CLASSES:
                e = self.assertRaises(TypeError, cls, self.factory, codec=bad)
                self.assertIn("codec", str(e))
        self.assertEqual(made, [])
        self.assertEqual(self.factory.connections, set())

    def test_anyCodecObject(self) -> None:
        """Any object with C{encode} and C{decode} is a codec."""
        codec = UpperCodec()
        for cls in ALL_CLASSES:
            self.assertIs(cls(self.factory, codec=codec).codec, codec)
            self.assertIsNone(cls(self.factory, codec=None).codec)

    def test_setSocketOptions(self) -> None:
        conn = ZmqPullConnection(self.factory)
        self.assertRaises(TypeError, conn.setSocketOptions, codec=object())
        self.assertIsNone(conn.codec)
        conn.setSocketOptions(codec=jsonCodec)
        self.assertIs(conn.codec, jsonCodec)
        self.assertRaises(TypeError, conn.setSocketOptions, codec="json")
        self.assertIs(conn.codec, jsonCodec)
        conn.setSocketOptions(codec=None)
        self.assertIsNone(conn.codec)

    def test_encodeErrorAtCall(self) -> None:
        """
        A value the codec cannot encode raises at the call; nothing is
        sent.
        """
        address = inprocAddress()
        pull = self.raw(zmq.PULL, bindTo=address)
        push = ZmqPushConnection(self.factory, connect(address), codec=jsonCodec)
        self.assertRaises(TypeError, push.push, object())
        self.assertRaises(TypeError, push.pushDeferred, {1, 2})
        push.push("next")
        self.assertEqual(pull.recv_multipart(), [b'"next"'])

    def test_customCodec(self) -> None:
        """A non-JSON codec is used as given, both ways."""
        out = inprocAddress()
        sink = self.raw(zmq.PULL, bindTo=out)
        push = ZmqPushConnection(self.factory, connect(out), codec=UpperCodec())
        push.push("hello")
        self.assertEqual(sink.recv_multipart(), [b"HELLO"])

        into = inprocAddress()
        pull = ZmqPullConnection(self.factory, bind(into), codec=UpperCodec())
        source = self.raw(zmq.PUSH, connectTo=into)
        source.send_multipart([b"WORLD", b"AGAIN"])
        pull.doRead()
        self.assertEqual(self.successResultOf(pull.receive()), ["world", "again"])


# ---------------------------------------------------------------------------
# Real sockets


def _jsonPublisher(pub: ZmqPubConnection) -> Any:
    """Control messages for L{settle}, with a body the codec can encode."""
    return lambda tag: pub.publish(None, tag)


class JsonREP(ZmqREPConnection):
    """Answers C{["echo", *values]}, returned from gotMessage."""

    def gotMessage(self, messageId: bytes, *values: Any) -> Any:
        if not isinstance(messageId, bytes):
            raise AssertionError(f"messageId {messageId!r} is not bytes")
        if values and values[0] == "by hand":
            self.reply(messageId, {"manual": True}, values[1:])
            return None
        return ["echo", *values]


class RoundTripTests(_FlowMixin):
    codec = jsonCodec

    async def test_pubSub(self) -> None:
        """
        C{publish(value, tag)} arrives as C{gotMessage(value, tag)}; the
        tag stays bytes.
        """
        pub, address = self.listen(ZmqPubConnection, codec=jsonCodec)
        sub = Subscriber(self.factory, connect(address), codec=jsonCodec)
        sub.subscribe(b"")
        await self.settle([_jsonPublisher(pub)], [sub])
        for i, value in enumerate(VALUES):
            pub.publish(value, b"t%d" % i)
        self.assertIsNone(
            self.successResultOf(pub.publishDeferred({"d": 1}, b"deferred"))
        )
        await self.settle([_jsonPublisher(pub)], [sub])
        self.assertEqual(
            sub.received.items,
            [(b"t%d" % i, v) for i, v in enumerate(VALUES)] + [(b"deferred", {"d": 1})],
        )

    async def test_xpubXsub(self) -> None:
        """XSUB decodes like SUB; XPUB publishes values like PUB."""
        xpub, address = self.listen(ZmqXPubConnection, codec=jsonCodec)
        xsub = ZmqXSubConnection(self.factory, connect(address), codec=jsonCodec)
        xsub.subscribe(b"v")
        self.assertEqual(await self.wait(xpub.receive()), (b"v", True))
        xpub.publish({"x": [1]}, b"v")
        xpub.publish("ignored", b"other")
        xpub.publish(2, b"v")
        self.assertEqual(await self.wait(xsub.receive()), ({"x": [1]}, b"v"))
        self.assertEqual(await self.wait(xsub.receive()), (2, b"v"))

    async def test_subReceive(self) -> None:
        """C{receive()} on a SUB with a codec gives C{(value, tag)}."""
        pub, address = self.listen(ZmqPubConnection, codec=jsonCodec)
        sub = ZmqSubConnection(self.factory, connect(address), codec=jsonCodec)
        sub.subscribe(b"")
        first = sub.receive()

        def probe() -> bool:
            if first.called:
                return True
            pub.publish({"probe": True}, b"probe")
            return False

        await self.wait(untilTrue(self.reactor, probe))
        self.assertEqual(self.successResultOf(first), ({"probe": True}, b"probe"))

    async def test_pushPull(self) -> None:
        """
        C{push(value)} sends one frame; C{onPull} gets a list of the
        decoded values, one per frame.
        """
        pull, address = self.listen(Puller, codec=jsonCodec)
        push = ZmqPushConnection(self.factory, connect(address), codec=jsonCodec)
        for value in VALUES:
            push.push(value)
        await self.wait(push.pushDeferred({"deferred": [1]}))
        received = await self.wait(pull.received.waitFor(len(VALUES) + 1))
        self.assertEqual(received, [[v] for v in VALUES] + [[{"deferred": [1]}]])
        # A multipart message: one value per frame.
        raw = self.rawSocket(zmq.PUSH)
        raw.connect(address)
        raw.send_multipart([b"1", b'"two"', b"[3]"])
        received = await self.wait(pull.received.waitFor(len(VALUES) + 2))
        self.assertEqual(received[-1], [1, "two", [3]])

    async def test_pullReceive(self) -> None:
        pull, address = self.listen(ZmqPullConnection, codec=jsonCodec)
        push = ZmqPushConnection(self.factory, connect(address), codec=jsonCodec)
        push.push({"n": 1})
        push.push([1, 2])
        self.assertEqual(await self.wait(pull.receive()), [{"n": 1}])
        self.assertEqual(await self.wait(pull.receive()), [[1, 2]])

    async def test_sendDeferredIsRaw(self) -> None:
        """
        C{sendDeferred} and C{send} take raw frames even with a codec:
        they are not encoded again.
        """
        pull, address = self.listen(Puller, codec=jsonCodec)
        push = ZmqPushConnection(self.factory, connect(address), codec=jsonCodec)
        await self.wait(push.sendDeferred(b'"raw"'))
        push.send([b"1", b"2"])
        self.assertRaises(TypeError, push.sendDeferred, {"not": "frames"})
        self.assertEqual(await self.wait(pull.received.waitFor(2)), [["raw"], [1, 2]])

    async def test_reqRep(self) -> None:
        """
        REQ C{sendMsg(*values)} gets a list of decoded values; REP
        C{gotMessage} gets the id as bytes and decoded values, and replies
        returned or sent with C{reply()} are encoded.
        """
        rep, address = self.listen(JsonREP, codec=jsonCodec)
        req = ZmqREQConnection(self.factory, connect(address), codec=jsonCodec)
        replies = await self.wait(
            gatherResults(
                [
                    req.sendMsg({"q": 1}, [1, 2]),
                    req.sendMsg(),
                    req.sendMsg(None),
                    req.sendMsg("by hand", "x"),
                ]
            )
        )
        self.assertEqual(
            replies,
            [
                ["echo", {"q": 1}, [1, 2]],
                ["echo"],
                ["echo", None],
                [{"manual": True}, ["x"]],
            ],
        )

    async def test_repReceive(self) -> None:
        rep, address = self.listen(ZmqREPConnection, codec=jsonCodec)
        req = ZmqREQConnection(self.factory, connect(address), codec=jsonCodec)
        d = req.sendMsg({"a": 1}, "b")
        messageId, *values = await self.wait(rep.receive())
        self.assertIsInstance(messageId, bytes)
        self.assertEqual(values, [{"a": 1}, "b"])
        rep.reply(messageId, ["reply"], 2)
        self.assertEqual(await self.wait(d), [["reply"], 2])

    async def test_routerDealer(self) -> None:
        """
        Payload frames are encoded and decoded; the routing identity
        stays bytes.
        """
        router, address = self.listen(Router, codec=jsonCodec)
        dealer = Dealer(self.factory, connect(address), identity=b"d", codec=jsonCodec)
        dealer.sendMsg({"x": 1})
        dealer.sendMultipart([1, "two", None])
        self.assertEqual(
            await self.wait(router.received.waitFor(2)),
            [(b"d", [{"x": 1}]), (b"d", [1, "two", None])],
        )
        router.sendMsg(b"d", [1, 2])
        router.sendMultipart(b"d", ["a", {"b": []}])
        self.assertEqual(
            await self.wait(dealer.received.waitFor(2)), [[[1, 2]], ["a", {"b": []}]]
        )

    async def test_routerDealerReceive(self) -> None:
        router, address = self.listen(ZmqRouterConnection, codec=jsonCodec)
        dealer = ZmqDealerConnection(
            self.factory, connect(address), identity=b"d", codec=jsonCodec
        )
        dealer.sendMultipart([{"x": 1}, 2])
        self.assertEqual(await self.wait(router.receive()), (b"d", {"x": 1}, 2))
        router.sendMsg(b"d", "back")
        self.assertEqual(await self.wait(dealer.receive()), ("back",))

    async def test_pair(self) -> None:
        a, address = self.listen(FrameRecorder, codec=jsonCodec)
        b = ZmqPairConnection(self.factory, connect(address), codec=jsonCodec)
        b.sendMultipart([1, "two", None, {"k": []}])
        b.sendMsg({"one": 1})
        self.assertEqual(
            await self.wait(a.received.waitFor(2)),
            [[1, "two", None, {"k": []}], [{"one": 1}]],
        )
        a.sendMsg(["back"])
        self.assertEqual(await self.wait(b.receive()), (["back"],))


class UndecodableTests(_FlowMixin):
    """
    A message with a frame the codec cannot decode is logged (a warning
    from the connection) and dropped; the next message arrives.
    """

    def decodeWarnings(self, events: Sequence[Any], conn: ZmqConnection) -> list[str]:
        return [formatEvent(e) for e in eventsFrom(events, conn, LogLevel.warn)]

    async def test_pull(self) -> None:
        pull, raw = self.listenWithRawPeer(Puller, zmq.PUSH, codec=jsonCodec)
        with capturedLogs() as events:
            raw.send(b"\xffnot json")
            raw.send_multipart([b"1", b"{bad"])
            raw.send(b'{"ok":1}')
            self.assertEqual(await self.wait(pull.received.waitFor(1)), [[{"ok": 1}]])
        warnings = self.decodeWarnings(events, pull)
        self.assertEqual(len(warnings), 2)
        for text in warnings:
            self.assertIn("cannot decode", text)
        self.assertFalse(pull.closed)

    async def test_pullReceive(self) -> None:
        """Dropped messages are not kept for C{receive()} either."""
        pull, raw = self.listenWithRawPeer(ZmqPullConnection, zmq.PUSH, codec=jsonCodec)
        with capturedLogs() as events:
            raw.send(b"{bad")
            raw.send(b"[1]")
            self.assertEqual(await self.wait(pull.receive()), [[1]])
        self.assertEqual(len(self.decodeWarnings(events, pull)), 1)

    async def test_sub(self) -> None:
        raw, address = self.rawListen(zmq.PUB)
        sub = Subscriber(self.factory, connect(address), codec=jsonCodec)
        sub.subscribe(b"")

        def control(tag: bytes) -> None:
            raw.send(tag + b"\0null", zmq.NOBLOCK)

        await self.settle([control], [sub])
        with capturedLogs() as events:
            raw.send(b"t\0{bad")
            raw.send(b't\0"good"')
            await self.settle([control], [sub])
        self.assertEqual(sub.received.items, [(b"t", "good")])
        self.assertEqual(len(self.decodeWarnings(events, sub)), 1)

    async def test_rep(self) -> None:
        """
        A request that does not decode is dropped before C{gotMessage}: it
        has no route to answer.
        """
        rep, raw = self.listenWithRawPeer(HoldingREP, zmq.DEALER, codec=jsonCodec)
        with capturedLogs() as events:
            raw.send_multipart([b"id1", b"", b"{bad"])
            raw.send_multipart([b"id2", b"", b'"ok"', b"2"])
            self.assertEqual(
                await self.wait(rep.requests.waitFor(1)), [(b"id2", ["ok", 2])]
            )
        self.assertEqual(len(self.decodeWarnings(events, rep)), 1)
        self.assertRaises(ZmqUnknownRequestError, rep.reply, b"id1", "x")

    async def test_reqReply(self) -> None:
        """
        A reply that does not decode is logged, and its request fails
        with L{ValueError} (rather than waiting for a reply that will
        never come); the next request works.
        """
        raw, address = self.rawListen(zmq.ROUTER)
        req = ZmqREQConnection(self.factory, connect(address), codec=jsonCodec)
        d1 = req.sendMsg("first")
        [[peer, id1, _, body]] = await self.wait(self.receiveRaw(raw, 1))
        self.assertEqual(body, b'"first"')
        with capturedLogs() as events:
            raw.send_multipart([peer, id1, b"", b"{bad"])
            await self.wait(self.assertFailure(d1, ValueError))
        self.assertEqual(len(self.decodeWarnings(events, req)), 1)
        d2 = req.sendMsg("second")
        [[peer, id2, _, body]] = await self.wait(self.receiveRaw(raw, 1))
        raw.send_multipart([peer, id2, b"", b'{"fine":true}'])
        self.assertEqual(await self.wait(d2), [{"fine": True}])

    async def test_router(self) -> None:
        router, address = self.listen(Router, codec=jsonCodec)
        raw = self.rawSocket(zmq.DEALER)
        raw.set(zmq.IDENTITY, b"raw")
        raw.connect(address)
        with capturedLogs() as events:
            raw.send(b"{bad")
            raw.send_multipart([b"1", b"nope"])
            raw.send(b"[true]")
            self.assertEqual(
                await self.wait(router.received.waitFor(1)), [(b"raw", [[True]])]
            )
        self.assertEqual(len(self.decodeWarnings(events, router)), 2)

    async def test_pair(self) -> None:
        pair, raw = self.listenWithRawPeer(FrameRecorder, zmq.PAIR, codec=jsonCodec)
        with capturedLogs() as events:
            raw.send(b"\x00")
            raw.send(b"2")
            self.assertEqual(await self.wait(pair.received.waitFor(1)), [[2]])
        self.assertEqual(len(self.decodeWarnings(events, pair)), 1)


addTransportCases(globals(), [RoundTripTests, UndecodableTests])

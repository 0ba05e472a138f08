"""
Tests for L{txzmq._framing}: the pure rules of the wire format.
"""

from __future__ import annotations

from typing import cast

import zmq
from twisted.trial.unittest import SynchronousTestCase

from txzmq._framing import (
    MalformedMessage,
    asBytes,
    buildReply,
    checkFrame,
    decodeSubscription,
    decodeTopic,
    encodeSubscription,
    encodeText,
    encodeTopic,
    framesFromParts,
    splitReply,
    splitRequest,
    toFrames,
)


class CheckFrameTests(SynchronousTestCase):
    """
    L{checkFrame} accepts bytes-like objects and explains anything else.
    """

    def test_bytesLike(self) -> None:
        for frame in (b"x", bytearray(b"x"), memoryview(b"x"), zmq.Frame(b"x")):
            self.assertIs(checkFrame(frame), frame)

    def test_str(self) -> None:
        e = self.assertRaises(TypeError, checkFrame, "x", "tag")
        self.assertIn("tag must be bytes, not str", str(e))
        self.assertIn("tag.encode(", str(e))

    def test_other(self) -> None:
        e = self.assertRaises(TypeError, checkFrame, 3)
        self.assertEqual(str(e), "frame must be bytes, not int")


class AsBytesTests(SynchronousTestCase):
    """
    L{asBytes} returns the content of any bytes-like frame as C{bytes}.
    """

    def test_bytes(self) -> None:
        value = b"abc"
        self.assertIs(asBytes(value), value)

    def test_others(self) -> None:
        for frame in (bytearray(b"abc"), memoryview(b"abc"), zmq.Frame(b"abc")):
            result = asBytes(frame)
            self.assertIs(type(result), bytes)
            self.assertEqual(result, b"abc")

    def test_memoryviewSlice(self) -> None:
        self.assertEqual(asBytes(memoryview(b"abcdef")[2:4]), b"cd")


class ToFramesTests(SynchronousTestCase):
    """
    L{toFrames} turns what C{send()} is given into a list of frames.
    """

    def test_bytes(self) -> None:
        self.assertEqual(toFrames(b"hello"), [b"hello"])

    def test_emptyBytes(self) -> None:
        """
        An empty frame is a valid one-frame message.
        """
        self.assertEqual(toFrames(b""), [b""])

    def test_bytesSubclass(self) -> None:
        class B(bytes):
            pass

        message = B(b"x")
        frames = toFrames(message)
        self.assertEqual(len(frames), 1)
        self.assertIs(frames[0], message)

    def test_bytearray(self) -> None:
        message = bytearray(b"abc")
        frames = toFrames(message)
        self.assertEqual(len(frames), 1)
        self.assertIs(frames[0], message)

    def test_memoryview(self) -> None:
        message = memoryview(b"abc")
        frames = toFrames(message)
        self.assertEqual(len(frames), 1)
        self.assertIs(frames[0], message)

    def test_zmqFrame(self) -> None:
        message = zmq.Frame(b"abc")
        frames = toFrames(message)
        self.assertEqual(len(frames), 1)
        self.assertIs(frames[0], message)

    def test_list(self) -> None:
        message = [b"a", bytearray(b"b"), memoryview(b"c"), b""]
        frames = toFrames(message)
        self.assertEqual(frames, message)
        self.assertIsNot(frames, message)

    def test_tuple(self) -> None:
        frames = toFrames((b"a", b"b"))
        self.assertEqual(frames, [b"a", b"b"])
        self.assertIsInstance(frames, list)

    def test_emptyList(self) -> None:
        e = self.assertRaises(ValueError, toFrames, [])
        self.assertIn("at least one frame", str(e))
        self.assertRaises(ValueError, toFrames, ())

    def test_str(self) -> None:
        e = self.assertRaises(TypeError, toFrames, "hello")
        self.assertIn("not str", str(e))
        self.assertIn("encode", str(e))

    def test_strInList(self) -> None:
        e = self.assertRaises(TypeError, toFrames, [b"a", "b"])
        self.assertIn("frame 1", str(e))
        self.assertIn("encode", str(e))

    def test_none(self) -> None:
        e = self.assertRaises(TypeError, toFrames, None)
        self.assertIn("NoneType", str(e))

    def test_int(self) -> None:
        e = self.assertRaises(TypeError, toFrames, 42)
        self.assertIn("not int", str(e))

    def test_dict(self) -> None:
        e = self.assertRaises(TypeError, toFrames, {b"a": b"b"})
        self.assertIn("not dict", str(e))

    def test_nestedList(self) -> None:
        e = self.assertRaises(TypeError, toFrames, [b"a", [b"b"]])
        self.assertIn("frame 1", str(e))
        self.assertIn("not list", str(e))

    def test_noneInList(self) -> None:
        e = self.assertRaises(TypeError, toFrames, [None])
        self.assertIn("frame 0", str(e))
        self.assertIn("NoneType", str(e))


class FramesFromPartsTests(SynchronousTestCase):
    """
    L{framesFromParts} checks the C{*parts} of C{sendMsg}-style calls.
    """

    def test_empty(self) -> None:
        self.assertEqual(framesFromParts(()), [])

    def test_parts(self) -> None:
        frames = framesFromParts((b"a", bytearray(b"b"), memoryview(b"c")))
        self.assertEqual(frames, [b"a", b"b", b"c"])
        self.assertIsInstance(frames, list)

    def test_str(self) -> None:
        e = self.assertRaises(TypeError, framesFromParts, (b"a", "b"))
        self.assertIn("part 1", str(e))
        self.assertIn("encode", str(e))

    def test_other(self) -> None:
        e = self.assertRaises(TypeError, framesFromParts, (1,))
        self.assertIn("part 0", str(e))
        self.assertIn("not int", str(e))


class EncodeTextTests(SynchronousTestCase):
    """
    L{encodeText} accepts bytes and text (UTF-8).
    """

    def test_bytes(self) -> None:
        value = b"\xff\x00"
        self.assertIs(encodeText(value, "tag"), value)

    def test_str(self) -> None:
        self.assertEqual(encodeText("caf\xe9", "tag"), b"caf\xc3\xa9")

    def test_bytesLike(self) -> None:
        for value in (bytearray(b"ab"), memoryview(b"ab"), zmq.Frame(b"ab")):
            result = encodeText(value, "tag")
            self.assertEqual(result, b"ab")
            self.assertIs(type(result), bytes)

    def test_other(self) -> None:
        e = self.assertRaises(TypeError, encodeText, 5, "message")
        self.assertEqual(str(e), "message must be bytes or str, not int")
        self.assertRaises(TypeError, encodeText, None, "tag")


class TopicTests(SynchronousTestCase):
    """
    L{encodeTopic} and L{decodeTopic}: txZMQ's C{tag + sep + message}.
    """

    def test_encode(self) -> None:
        self.assertEqual(encodeTopic(b"body", b"tag", b"\0"), b"tag\0body")
        self.assertEqual(encodeTopic(b"", b"", b"\0"), b"\0")

    def test_oneFrame(self) -> None:
        self.assertEqual(decodeTopic([b"tag\0body"], b"\0"), (b"body", b"tag"))

    def test_emptyTagAndMessage(self) -> None:
        self.assertEqual(decodeTopic([b"\0"], b"\0"), (b"", b""))
        self.assertEqual(decodeTopic([b"\0body"], b"\0"), (b"body", b""))
        self.assertEqual(decodeTopic([b"tag\0"], b"\0"), (b"", b"tag"))

    def test_separatorInPayload(self) -> None:
        """
        Only the first separator splits: later ones belong to the message.
        """
        self.assertEqual(decodeTopic([b"tag\0a\0b\0"], b"\0"), (b"a\0b\0", b"tag"))

    def test_roundTrip(self) -> None:
        for message, tag in [(b"m", b"t"), (b"a\0b", b"t"), (b"", b""), (b"\0", b"x")]:
            frame = encodeTopic(message, tag, b"\0")
            self.assertEqual(decodeTopic([frame], b"\0"), (message, tag))

    def test_twoFrames(self) -> None:
        """
        Two frames are C{[tag, message]}; no separator is needed.
        """
        self.assertEqual(decodeTopic([b"tag", b"body"], b"\0"), (b"body", b"tag"))
        self.assertEqual(decodeTopic([b"t\0x", b"b\0y"], b"\0"), (b"b\0y", b"t\0x"))

    def test_noSeparator(self) -> None:
        e = self.assertRaises(MalformedMessage, decodeTopic, [b"tagbody"], b"\0")
        self.assertIsInstance(e, ValueError)
        self.assertIn("separator", str(e))

    def test_threeFrames(self) -> None:
        e = self.assertRaises(MalformedMessage, decodeTopic, [b"a", b"b", b"c"], b"\0")
        self.assertIn("3", str(e))

    def test_noFrames(self) -> None:
        self.assertRaises(MalformedMessage, decodeTopic, [], b"\0")

    def test_customSeparator(self) -> None:
        frame = encodeTopic(b"body|x", b"tag", b"||")
        self.assertEqual(frame, b"tag||body|x")
        self.assertEqual(decodeTopic([frame], b"||"), (b"body|x", b"tag"))
        self.assertEqual(decodeTopic([b"tag||a||b"], b"||"), (b"a||b", b"tag"))
        # The default separator means nothing with a custom one.
        self.assertRaises(MalformedMessage, decodeTopic, [b"tag\0body"], b"||")


class SubscriptionTests(SynchronousTestCase):
    """
    L{encodeSubscription} and L{decodeSubscription}: XPUB/XSUB frames.
    """

    def test_encode(self) -> None:
        self.assertEqual(encodeSubscription(b"news", True), b"\x01news")
        self.assertEqual(encodeSubscription(b"news", False), b"\x00news")
        self.assertEqual(encodeSubscription(b"", True), b"\x01")

    def test_decode(self) -> None:
        self.assertEqual(decodeSubscription([b"\x01news"]), (b"news", True))
        self.assertEqual(decodeSubscription([b"\x00news"]), (b"news", False))
        self.assertEqual(decodeSubscription([b"\x01"]), (b"", True))
        self.assertEqual(decodeSubscription([b"\x00"]), (b"", False))

    def test_roundTrip(self) -> None:
        for tag in (b"", b"x", b"\x00\x01"):
            for subscribe in (True, False):
                self.assertEqual(
                    decodeSubscription([encodeSubscription(tag, subscribe)]),
                    (tag, subscribe),
                )

    def test_subscribedIsBool(self) -> None:
        self.assertIs(decodeSubscription([b"\x01t"])[1], True)
        self.assertIs(decodeSubscription([b"\x00t"])[1], False)

    def test_empty(self) -> None:
        self.assertRaises(MalformedMessage, decodeSubscription, [b""])

    def test_badFirstByte(self) -> None:
        for frame in (b"\x02news", b"news", b"\xff"):
            e = self.assertRaises(MalformedMessage, decodeSubscription, [frame])
            self.assertIn("first byte", str(e))

    def test_multipleFrames(self) -> None:
        e = self.assertRaises(MalformedMessage, decodeSubscription, [b"\x01a", b"b"])
        self.assertIn("2", str(e))
        self.assertRaises(MalformedMessage, decodeSubscription, [])


class SplitReplyTests(SynchronousTestCase):
    """
    L{splitReply}: C{[requestId, b"", *parts]} as a REQ connection gets it.
    """

    def test_reply(self) -> None:
        self.assertEqual(splitReply([b"id", b"", b"a", b"b"]), (b"id", [b"a", b"b"]))

    def test_noParts(self) -> None:
        self.assertEqual(splitReply([b"id", b""]), (b"id", []))

    def test_emptyPartsKept(self) -> None:
        self.assertEqual(splitReply([b"id", b"", b"", b"x"]), (b"id", [b"", b"x"]))

    def test_tooShort(self) -> None:
        self.assertRaises(MalformedMessage, splitReply, [b"id"])
        self.assertRaises(MalformedMessage, splitReply, [])

    def test_noDelimiter(self) -> None:
        self.assertRaises(MalformedMessage, splitReply, [b"id", b"x", b""])


class SplitRequestTests(SynchronousTestCase):
    """
    L{splitRequest}: envelopes as a REP connection (ROUTER socket) gets
    them.
    """

    def test_txzmqRequest(self) -> None:
        self.assertEqual(
            splitRequest([b"peer", b"rid", b"", b"a", b"b"]),
            ([b"peer"], b"rid", [b"a", b"b"]),
        )

    def test_txzmqRequestNoParts(self) -> None:
        self.assertEqual(splitRequest([b"peer", b"rid", b""]), ([b"peer"], b"rid", []))

    def test_plainReq(self) -> None:
        """
        A plain ZeroMQ REQ socket sends C{[b"", *parts]}: its peer identity
        is the request id, and there is no other routing.
        """
        self.assertEqual(splitRequest([b"peer", b"", b"q"]), ([], b"peer", [b"q"]))

    def test_plainReqEmptyParts(self) -> None:
        self.assertEqual(splitRequest([b"peer", b"", b""]), ([], b"peer", [b""]))
        self.assertEqual(
            splitRequest([b"peer", b"", b"", b"x"]), ([], b"peer", [b"", b"x"])
        )

    def test_proxyRouting(self) -> None:
        """
        Routing frames added by proxies in front are kept, in order.
        """
        self.assertEqual(
            splitRequest([b"proxy2", b"proxy1", b"peer", b"rid", b"", b"q"]),
            ([b"proxy2", b"proxy1", b"peer"], b"rid", [b"q"]),
        )
        self.assertEqual(
            splitRequest([b"proxy", b"peer", b"", b"q"]), ([b"proxy"], b"peer", [b"q"])
        )

    def test_tuple(self) -> None:
        self.assertEqual(
            splitRequest((b"peer", b"rid", b"", b"q")), ([b"peer"], b"rid", [b"q"])
        )

    def test_noDelimiter(self) -> None:
        for frames in ([b"peer", b"rid", b"q"], [b"peer"], []):
            e = self.assertRaises(MalformedMessage, splitRequest, frames)
            self.assertIn("delimiter", str(e))

    def test_leadingEmptyFrameIsNotADelimiter(self) -> None:
        """
        The delimiter must follow at least one frame (the request id).
        """
        self.assertRaises(MalformedMessage, splitRequest, [b"", b"q"])
        self.assertEqual(splitRequest([b"", b"id", b"", b"q"]), ([b""], b"id", [b"q"]))


class BuildReplyTests(SynchronousTestCase):
    """
    L{buildReply} is the inverse of L{splitRequest}.
    """

    def test_build(self) -> None:
        self.assertEqual(
            buildReply([b"peer"], b"rid", [b"a", b"b"]),
            [b"peer", b"rid", b"", b"a", b"b"],
        )

    def test_doesNotAlterRouting(self) -> None:
        routing = [b"peer"]
        buildReply(routing, b"rid", [b"a"])
        self.assertEqual(routing, [b"peer"])

    def test_roundTrip(self) -> None:
        for request in (
            [b"peer", b"rid", b"", b"a", b"b"],
            [b"peer", b"rid", b""],
            [b"peer", b"", b"q"],
            [b"p2", b"p1", b"peer", b"rid", b"", b"", b"q"],
        ):
            routing, requestId, parts = splitRequest(request)
            self.assertEqual(buildReply(routing, requestId, list(parts)), request)

    def test_replyToPlainReq(self) -> None:
        """
        The reply to a plain REQ socket is C{[peer, b"", *parts]}: what the
        ROUTER needs to route it and the REQ socket needs to accept it.
        """
        routing, requestId, _ = splitRequest([b"peer", b"", b"q"])
        self.assertEqual(buildReply(routing, requestId, [b"r"]), [b"peer", b"", b"r"])

    def test_replySplitsOnTheOtherSide(self) -> None:
        """
        What the REQ side gets back (without the routing frame the ROUTER
        strips) is what L{splitReply} takes apart.
        """
        routing, requestId, _ = splitRequest([b"peer", b"rid", b"", b"q"])
        frames = buildReply(routing, requestId, [b"r1", b"r2"])
        self.assertEqual(frames[0], b"peer")
        received = cast("list[bytes]", frames[1:])
        self.assertEqual(splitReply(received), (b"rid", [b"r1", b"r2"]))

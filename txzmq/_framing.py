"""
Pure functions for ZeroMQ framing: argument checks, pub/sub topics,
request/reply envelopes and XPUB subscription frames.

Nothing here touches a socket or a reactor, so every rule of the wire
format is tested directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import zmq

Frame = bytes | bytearray | memoryview | zmq.Frame
"""A single ZeroMQ frame as accepted by pyzmq."""

_FRAME_TYPES = (bytes, bytearray, memoryview, zmq.Frame)

EMPTY_MESSAGE = "a message needs at least one frame, got an empty list"


class MalformedMessage(ValueError):  # noqa: N818
    """
    A message from a peer does not have the shape the pattern expects.

    The connection logs it and drops the message.
    """


def _describe(value: object) -> str:
    return type(value).__name__


def checkFrame(frame: object, what: str = "frame") -> Frame:
    """
    Return C{frame} if it is bytes-like, else raise a C{TypeError} that
    says what was expected.
    """
    if isinstance(frame, _FRAME_TYPES):
        return frame
    if isinstance(frame, str):
        raise TypeError(
            f"{what} must be bytes, not str; encode it first, "
            f"for example {what}.encode('utf-8')"
        )
    raise TypeError(f"{what} must be bytes, not {_describe(frame)}")


def asBytes(frame: Frame) -> bytes:
    """Return the content of a bytes-like frame as C{bytes}."""
    if type(frame) is bytes:
        return frame
    if isinstance(frame, zmq.Frame):
        return frame.bytes
    return bytes(cast(bytearray | memoryview, frame))


def toFrames(message: object) -> list[Frame]:
    """
    Turn what C{send()} was given into a list of frames.

    A single bytes-like object is a one-frame message; a list or tuple of
    bytes-like objects is a multipart message.  Every frame is checked
    before anything is sent, so a bad frame never leaves half a multipart
    message on the wire.

    @raise TypeError: for anything else (str, None, int, dict, nested
        lists...).
    @raise ValueError: for an empty list.
    """
    if type(message) is bytes:
        return [message]
    if isinstance(message, (list, tuple)):
        if not message:
            raise ValueError(EMPTY_MESSAGE)
        return _checkedFrames(message, "frame")
    if isinstance(message, _FRAME_TYPES):
        return [message]
    if isinstance(message, str):
        checkFrame(message, "message")
    raise TypeError(
        "message must be bytes or a list of bytes (one per frame), "
        f"not {_describe(message)}"
    )


def framesFromParts(parts: Sequence[object]) -> list[Frame]:
    """
    Check the C{*parts} of C{sendMsg}/C{reply}-style calls (zero or more
    frames) and return them as a list.
    """
    return _checkedFrames(parts, "part")


def _checkedFrames(frames: Sequence[object], what: str) -> list[Frame]:
    """C{frames} as a list, each checked (C{what} names them in errors)."""
    for index, frame in enumerate(frames):
        if type(frame) is not bytes:
            checkFrame(frame, f"{what} {index}")
    return cast("list[Frame]", list(frames))


def encodeText(value: object, what: str) -> bytes:
    """
    Return C{value} as bytes, encoding C{str} with UTF-8 (as txZMQ's
    C{publish} accepted text).
    """
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, _FRAME_TYPES):
        return asBytes(value)
    raise TypeError(f"{what} must be bytes or str, not {_describe(value)}")


def encodeTopic(message: bytes, tag: bytes, separator: bytes) -> bytes:
    """
    Frame a published message in txZMQ's wire format:
    C{tag + separator + message}, one frame.
    """
    return tag + separator + message


def decodeTopic(frames: Sequence[bytes], separator: bytes) -> tuple[bytes, bytes]:
    """
    Split a received pub/sub message into C{(message, tag)}.

    One frame is C{tag + separator + message}; two frames are
    C{[tag, message]} (the topic-as-first-frame convention pyzmq
    tutorials use).

    @raise MalformedMessage: when there is no separator, or more than two
        frames.
    """
    if len(frames) == 1:
        tag, found, message = frames[0].partition(separator)
        if not found:
            raise MalformedMessage(f"no topic separator {separator!r} in the frame")
        return message, tag
    if len(frames) == 2:
        return frames[1], frames[0]
    raise MalformedMessage(f"expected 1 or 2 frames, got {len(frames)}")


def subscriptionMatches(subscription: bytes, tag: bytes, separator: bytes) -> bool:
    """
    Whether a subscriber holding C{subscription} receives every message
    published under C{tag} (subscriptions are prefixes of the frame
    C{tag + separator + message}).
    """
    return (tag + separator).startswith(subscription)


def encodeSubscription(tag: bytes, subscribe: bool) -> bytes:
    """
    Build the frame an XSUB socket sends upstream to (un)subscribe.
    """
    return (b"\x01" if subscribe else b"\x00") + tag


def decodeSubscription(frames: Sequence[bytes]) -> tuple[bytes, bool]:
    """
    Decode a subscription message received by an XPUB socket into
    C{(tag, subscribed)}.

    @raise MalformedMessage: for an empty frame, an unknown first byte, or
        more than one frame.
    """
    if len(frames) != 1:
        raise MalformedMessage(f"expected 1 frame, got {len(frames)}")
    frame = frames[0]
    if not frame or frame[0] > 1:
        raise MalformedMessage("first byte must be 0 (unsubscribe) or 1 (subscribe)")
    return frame[1:], frame[0] == 1


def splitReply(frames: Sequence[bytes]) -> tuple[bytes, list[bytes]]:
    """
    Split a reply received by a REQ connection (a DEALER socket) into
    C{(requestId, parts)}: C{[requestId, b"", *parts]}.

    @raise MalformedMessage: without the id and the empty delimiter.
    """
    if len(frames) < 2 or frames[1]:
        raise MalformedMessage("a reply must be [id, empty frame, *parts]")
    rest = frames[2:]
    return frames[0], rest if type(rest) is list else list(rest)


def splitRequest(frames: Sequence[bytes]) -> tuple[list[bytes], bytes, list[bytes]]:
    """
    Split a request received by a REP connection (a ROUTER socket) into
    C{(routing, requestId, parts)}.

    A request from L{ZmqREQConnection} arrives as
    C{[peer, requestId, b"", *parts]}; one from a plain ZeroMQ REQ socket
    as C{[peer, b"", *parts]}, whose peer identity then serves as the
    request id.  Proxies in between add their own routing frames in front.

    @raise MalformedMessage: when there is no empty delimiter after at
        least one frame.
    """
    try:
        delimiter = frames.index(b"", 1)
    except ValueError:
        raise MalformedMessage("a request must have an empty delimiter frame") from None
    if type(frames) is not list:
        frames = list(frames)
    return frames[: delimiter - 1], frames[delimiter - 1], frames[delimiter + 1 :]


def buildReply(
    routing: Sequence[bytes], requestId: bytes, parts: Sequence[Frame]
) -> list[Frame]:
    """
    Build the frames a REP connection sends back for a request.
    """
    frames: list[Frame] = list(routing)
    frames.append(requestId)
    frames.append(b"")
    frames.extend(parts)
    return frames

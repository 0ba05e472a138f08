"""
Raw ROUTER and DEALER connections, and their shared base.
"""

from __future__ import annotations

from typing import Any, ClassVar

import zmq

from txzmq._framing import EMPTY_MESSAGE, Frame, checkFrame
from txzmq.connection import ZmqConnection

__all__ = ["ZmqBase", "ZmqDealerConnection", "ZmqRouterConnection"]


class ZmqBase(ZmqConnection):
    """
    A connection that sends and receives whole messages as frames:
    L{sendMsg} for one frame, L{sendMultipart} for several, and
    L{gotMessage} called with the frames received.
    """

    _routingFrames: ClassVar[int] = 0
    """Leading frames of received messages that the codec leaves alone."""

    def sendMsg(self, message: Any) -> None:
        """Send a one-frame message (with a C{codec}: one value)."""
        self._sendFrames(self._encodeParts([message]))

    def sendMultipart(self, parts: list[Any]) -> None:
        """Send a multipart message, one frame per item of C{parts}."""
        self._sendFrames(self._encodeParts(_checkParts(parts)))

    def _sendFrames(self, frames: list[Frame]) -> None:
        """C{send()} for frames that C{_encodeParts} has checked."""
        self._checkOpen()
        if not frames:
            raise ValueError(EMPTY_MESSAGE)
        self._sendChecked(frames)

    def messageReceived(self, message: list[bytes]) -> None:
        """Decode the payload frames and call L{gotMessage} with them."""
        if self.codec is None:
            self.gotMessage(*message)
            return
        split = self._routingFrames
        values = self._decodeParts(message[split:])
        if values is not None:
            self.gotMessage(*message[:split], *values)

    def gotMessage(self, *args: Any) -> None:
        """
        Called with the frames of each message received.  Override it; if
        you don't, the tuples of frames are kept for C{receive()}.
        """
        self._keep(args)


def _checkParts(parts: object) -> list[Any] | tuple[Any, ...]:
    if not isinstance(parts, (list, tuple)):
        raise TypeError(f"parts must be a list of bytes, not {type(parts).__name__}")
    return parts


class ZmqDealerConnection(ZmqBase):
    """
    A DEALER connection: messages go round robin to the peers and come
    back from any of them, with no envelope added.
    """

    socketType: ClassVar[int | None] = zmq.DEALER


class ZmqRouterConnection(ZmqBase):
    """
    A ROUTER connection: every message received starts with the identity
    of the peer it came from, and every message sent starts with the
    identity of the peer to send it to.

    C{gotMessage(senderId, *frames)} is called for each message.
    Messages to an unknown peer are dropped by libzmq.
    """

    socketType: ClassVar[int | None] = zmq.ROUTER
    _routingFrames: ClassVar[int] = 1

    def sendMsg(self, recipientId: bytes, message: Any) -> None:  # type: ignore[override]
        """Send a one-frame message to the peer C{recipientId}."""
        self.sendMultipart(recipientId, [message])

    def sendMultipart(self, recipientId: bytes, parts: list[Any]) -> None:  # type: ignore[override]
        """Send a multipart message to the peer C{recipientId}."""
        frames: list[Frame] = [checkFrame(recipientId, "recipientId")]
        frames.extend(self._encodeParts(_checkParts(parts)))
        self._sendFrames(frames)

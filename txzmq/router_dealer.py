"""
Raw ROUTER and DEALER connections, and their shared base.
"""

from __future__ import annotations

from typing import Any, ClassVar

import zmq

from txzmq._framing import Frame, checkFrame, framesFromParts
from txzmq.connection import ZmqConnection

__all__ = ["ZmqBase", "ZmqDealerConnection", "ZmqRouterConnection"]


class ZmqBase(ZmqConnection):
    """
    A connection that sends and receives whole messages as frames:
    L{sendMsg} for one frame, L{sendMultipart} for several, and
    L{gotMessage} called with the frames received.
    """

    def sendMsg(self, message: Frame) -> None:
        """Send a one-frame message."""
        self.send([checkFrame(message, "message")])

    def sendMultipart(self, parts: list[Frame]) -> None:
        """Send a multipart message, one frame per item of C{parts}."""
        if not isinstance(parts, (list, tuple)):
            raise TypeError(
                f"parts must be a list of bytes, not {type(parts).__name__}"
            )
        self.send(parts)

    def messageReceived(self, message: list[bytes]) -> None:
        """Call L{gotMessage} with the frames of the message."""
        self.gotMessage(*message)

    def gotMessage(self, *args: Any) -> None:
        """Called with the frames of each message received.  Override it."""
        raise NotImplementedError(f"{type(self).__name__} must override gotMessage()")


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

    def sendMsg(self, recipientId: bytes, message: Frame) -> None:  # type: ignore[override]
        """Send a one-frame message to the peer C{recipientId}."""
        self.send(
            [checkFrame(recipientId, "recipientId"), checkFrame(message, "message")]
        )

    def sendMultipart(self, recipientId: bytes, parts: list[Frame]) -> None:  # type: ignore[override]
        """Send a multipart message to the peer C{recipientId}."""
        if not isinstance(parts, (list, tuple)):
            raise TypeError(
                f"parts must be a list of bytes, not {type(parts).__name__}"
            )
        self.send([checkFrame(recipientId, "recipientId"), *framesFromParts(parts)])

    def messageReceived(self, message: list[bytes]) -> None:
        """Call L{gotMessage} with the sender's identity and the frames."""
        self.gotMessage(message[0], *message[1:])

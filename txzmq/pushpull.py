"""
Pipelines: PUSH and PULL connections.

A PUSH socket hands each message to one connected PULL peer, round
robin; with no peer, or every peer at its high-water mark, C{push} raises
L{txzmq.ZmqWouldBlockError}.
"""

from __future__ import annotations

from typing import Any, ClassVar

import zmq
from twisted.internet.defer import Deferred

from txzmq.connection import ZmqConnection

__all__ = ["ZmqPullConnection", "ZmqPushConnection"]


class ZmqPushConnection(ZmqConnection):
    """
    Push messages to PULL peers.
    """

    socketType: ClassVar[int | None] = zmq.PUSH
    _canReceive: ClassVar[bool] = False

    def push(self, message: Any) -> None:
        """
        Push a message now: bytes, or a list of bytes for a multipart
        message; with a C{codec}, any value it encodes (one frame).  See
        L{ZmqConnection.send}.
        """
        if self.codec is not None:
            message = self._encodeValue(message)
        self.send(message)

    def pushDeferred(self, message: Any) -> Deferred[None]:
        """
        Push a message, waiting for room at the high-water mark.  See
        L{push} and L{ZmqConnection.sendDeferred}.
        """
        if self.codec is not None:
            message = self._encodeValue(message)
        return self.sendDeferred(message)


class ZmqPullConnection(ZmqConnection):
    """
    Pull messages pushed by PUSH peers.  Override L{onPull}, or take
    messages with C{receive()} / C{async for}.
    """

    socketType: ClassVar[int | None] = zmq.PULL

    def messageReceived(self, message: list[bytes]) -> None:
        """Decode the message and pass it on to L{onPull}."""
        if self.codec is None:
            self.onPull(message)
            return
        values = self._decodeParts(message)
        if values is not None:
            self.onPull(values)

    def onPull(self, message: list[Any]) -> None:
        """
        Called with each message pulled, as a list of frames (with a
        C{codec}: of decoded values).  Override it; if you don't, messages
        are kept for C{receive()}.
        """
        self._keep(message)

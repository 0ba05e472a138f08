"""
Pipelines: PUSH and PULL connections.

A PUSH socket hands each message to one connected PULL peer, round
robin; with no peer, or every peer at its high-water mark, C{push} raises
L{txzmq.ZmqWouldBlockError}.
"""

from __future__ import annotations

from typing import Any, ClassVar

import zmq

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
        Push a message: bytes, or a list of bytes for a multipart
        message.  See L{ZmqConnection.send}.
        """
        self.send(message)


class ZmqPullConnection(ZmqConnection):
    """
    Pull messages pushed by PUSH peers.  Override L{onPull}.
    """

    socketType: ClassVar[int | None] = zmq.PULL

    def messageReceived(self, message: list[bytes]) -> None:
        """Pass the message on to L{onPull}."""
        self.onPull(message)

    def onPull(self, message: list[bytes]) -> None:
        """
        Called with each message pulled, as a list of frames.  Override
        it.
        """
        raise NotImplementedError(f"{type(self).__name__} must override onPull()")

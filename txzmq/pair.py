"""
PAIR connections: an exclusive two-way link between two sockets.
"""

from __future__ import annotations

from typing import ClassVar

import zmq

from txzmq.router_dealer import ZmqBase

__all__ = ["ZmqPairConnection"]


class ZmqPairConnection(ZmqBase):
    """
    One end of a PAIR link (usually over inproc, between two parts of a
    program).  Send with C{sendMsg}/C{sendMultipart}; override
    C{gotMessage}, called with the frames of each message.
    """

    socketType: ClassVar[int | None] = zmq.PAIR

"""
Exceptions raised by txzmq.

Each one subclasses the built-in (or pyzmq) exception a caller would
already catch, so ``except TimeoutError`` or ``except zmq.Again`` keep
working.
"""

from __future__ import annotations

import zmq

__all__ = [
    "ZmqConnectionClosedError",
    "ZmqEndpointError",
    "ZmqMonitorStoppedError",
    "ZmqQueueFullError",
    "ZmqRequestTimeoutError",
    "ZmqUnknownRequestError",
    "ZmqWouldBlockError",
]


class ZmqRequestTimeoutError(TimeoutError):
    """
    A request sent with L{ZmqREQConnection.sendMsg} got no reply in time.
    """


class ZmqConnectionClosedError(RuntimeError):
    """
    The connection (or its factory) has been shut down and cannot be used.
    """


class ZmqWouldBlockError(zmq.Again):
    """
    libzmq cannot take the message now.

    Raised by C{send()} and friends when the socket is at its high-water
    mark, or has no peer to send to.  Nothing of the message was sent.
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.strerror = message


class ZmqQueueFullError(BufferError):
    """
    The outgoing queue of a connection is at its bound
    (C{maxQueuedMessages} or C{maxQueuedBytes}): the message was not
    queued.  Wait for earlier sends to complete, or raise the bound.
    """


class ZmqMonitorStoppedError(RuntimeError):
    """
    Monitoring of a connection's events was disabled while a Deferred
    (C{whenConnected}, C{whenDisconnected}) waited for an event.
    """


class ZmqEndpointError(zmq.ZMQError, ValueError):
    """
    An endpoint could not be bound or connected: bad type or address, or
    the address is in use.
    """

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(errno, message)


class ZmqUnknownRequestError(KeyError):
    """
    L{ZmqREPConnection.reply} was given an id with no request waiting
    for a reply.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

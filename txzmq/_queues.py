"""
The two queues behind flow control, free of sockets and reactors.

L{SendQueue} holds messages that libzmq could not take yet (the socket is
at its high-water mark), bounded in messages and bytes.  L{ReceiveBuffer}
holds received messages until C{receive()} takes them, and the
C{receive()} Deferreds waiting for a message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from twisted.internet.defer import Deferred, fail, succeed

from txzmq._framing import Frame
from txzmq.errors import ZmqQueueFullError

__all__ = ["Outgoing", "ReceiveBuffer", "SendQueue", "messageSize"]

_T = TypeVar("_T")


def messageSize(frames: Sequence[Frame]) -> int:
    """The number of bytes in the frames of a message."""
    if len(frames) == 1:
        return len(frames[0])
    return sum(len(frame) for frame in frames)


class Outgoing:
    """
    A message waiting in a L{SendQueue}, and the Deferred to fire once
    libzmq has taken it.  Cancelling the Deferred takes the message out
    of its queue.
    """

    __slots__ = ("deferred", "frames", "queue", "size")

    def __init__(self, frames: list[Frame], size: int, queue: SendQueue) -> None:
        self.frames = frames
        self.size = size
        self.queue = queue
        self.deferred: Deferred[None] = Deferred(self._cancel)

    def _cancel(self, deferred: Deferred[None]) -> None:
        queue = self.queue
        if queue.discard(self) and not queue:
            queue.drained()


class SendQueue(deque[Outgoing]):
    """
    A FIFO of L{Outgoing} messages bounded by a number of messages and a
    number of bytes.  (A deque, so that the hot "is anything queued?"
    test costs no Python call.)
    """

    def __init__(
        self,
        maxMessages: int,
        maxBytes: int,
        drained: Callable[[], object] = lambda: None,
    ) -> None:
        """
        @param drained: called when cancelling a message empties the
            queue.
        """
        super().__init__()
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.drained = drained
        self.bytes = 0

    def add(self, frames: list[Frame]) -> Outgoing:
        """
        Queue a message and return its entry.

        A message larger than C{maxBytes} is still accepted into an empty
        queue, so that no message is impossible to send.

        @raise ZmqQueueFullError: when the queue is at either bound.
        """
        size = messageSize(frames)
        if len(self) >= self.maxMessages:
            raise ZmqQueueFullError(
                f"the outgoing queue holds {len(self)} messages "
                f"(maxQueuedMessages={self.maxMessages}); wait for earlier "
                "sends to complete or raise the bound"
            )
        if self and self.bytes + size > self.maxBytes:
            raise ZmqQueueFullError(
                f"the outgoing queue holds {self.bytes} bytes and the message "
                f"has {size} (maxQueuedBytes={self.maxBytes}); wait for "
                "earlier sends to complete or raise the bound"
            )
        entry = Outgoing(frames, size, self)
        self.append(entry)
        self.bytes += size
        return entry

    def first(self) -> Outgoing:
        """The oldest entry (the queue must not be empty)."""
        return self[0]

    def popFirst(self) -> Outgoing:
        """Remove and return the oldest entry."""
        entry = self.popleft()
        self.bytes -= entry.size
        return entry

    def discard(self, entry: Outgoing) -> bool:
        """Remove C{entry}; return whether it was still queued."""
        try:
            self.remove(entry)
        except ValueError:
            return False
        self.bytes -= entry.size
        return True

    def drain(self) -> list[Outgoing]:
        """Remove and return every entry, oldest first."""
        entries = list(self)
        self.clear()
        self.bytes = 0
        return entries


class ReceiveBuffer(Generic[_T]):
    """
    Messages received and not yet taken, and the Deferreds of
    C{receive()} calls waiting for one.

    A message goes straight to the oldest waiting Deferred if there is
    one; otherwise it is kept.  The buffer is L{full} at C{bound} kept
    messages: the connection then stops reading from its socket.
    """

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._items: deque[_T] = deque()
        self._waiters: deque[Deferred[_T]] = deque()
        self._closedWith: Callable[[], BaseException] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        """True when C{bound} messages are kept."""
        return len(self._items) >= self.bound

    @property
    def waiting(self) -> int:
        """How many C{get()} Deferreds wait for a message."""
        return len(self._waiters)

    def put(self, item: _T) -> None:
        """Hand C{item} to the oldest waiter, or keep it."""
        if self._waiters:
            self._waiters.popleft().callback(item)
        else:
            self._items.append(item)

    def dropOldest(self) -> None:
        """Forget the oldest kept message (to make room)."""
        if self._items:
            self._items.popleft()

    def get(self) -> Deferred[_T]:
        """
        A Deferred firing with the oldest kept message, now or when one
        arrives.  Cancelling it before it fires takes no message.  Once
        closed and empty, the Deferred fails with the closing error.
        """
        if self._items:
            return succeed(self._items.popleft())
        if self._closedWith is not None:
            return fail(self._closedWith())
        d: Deferred[_T] = Deferred(self._waiters.remove)
        self._waiters.append(d)
        return d

    def close(self, error: Callable[[], BaseException]) -> None:
        """
        No more messages will come: fail the waiters, and later C{get()}
        calls once the kept messages are taken, with C{error()}.
        """
        self._closedWith = error
        waiters, self._waiters = self._waiters, deque()
        for d in waiters:
            d.errback(error())

"""
Tests for L{txzmq._queues}: the outgoing L{SendQueue} and the
L{ReceiveBuffer} of C{receive()}, without sockets or reactors.
"""

from __future__ import annotations

from typing import Any

import zmq
from twisted.internet.defer import CancelledError, Deferred
from twisted.trial.unittest import SynchronousTestCase

from txzmq import ZmqConnectionClosedError, ZmqQueueFullError
from txzmq._queues import Outgoing, ReceiveBuffer, SendQueue, messageSize


class MessageSizeTests(SynchronousTestCase):
    def test_sumOfFrames(self) -> None:
        self.assertEqual(messageSize([b"abc"]), 3)
        self.assertEqual(messageSize([b"abc", b"", b"de"]), 5)
        self.assertEqual(messageSize([]), 0)

    def test_bytesLikeFrames(self) -> None:
        """Every kind of frame pyzmq takes is counted by its length."""
        self.assertEqual(
            messageSize([bytearray(b"ab"), memoryview(b"cde"), zmq.Frame(b"fghi")]), 9
        )


class SendQueueTests(SynchronousTestCase):
    def contents(self, queue: SendQueue) -> list[list[Any]]:
        return [entry.frames for entry in queue]

    def test_empty(self) -> None:
        queue = SendQueue(3, 100)
        self.assertEqual(len(queue), 0)
        self.assertFalse(queue)
        self.assertEqual(queue.bytes, 0)
        self.assertEqual(list(queue), [])
        self.assertEqual((queue.maxMessages, queue.maxBytes), (3, 100))

    def test_add(self) -> None:
        """
        C{add} returns the entry: the frames, their size, and an unfired
        Deferred.
        """
        queue = SendQueue(3, 100)
        entry = queue.add([b"ab", b"cde"])
        self.assertIsInstance(entry, Outgoing)
        self.assertEqual(entry.frames, [b"ab", b"cde"])
        self.assertEqual(entry.size, 5)
        self.assertIsInstance(entry.deferred, Deferred)
        self.assertNoResult(entry.deferred)
        self.assertEqual(len(queue), 1)
        self.assertTrue(queue)
        self.assertEqual(queue.bytes, 5)

    def test_fifo(self) -> None:
        queue = SendQueue(10, 1000)
        entries = [queue.add([b"%d" % i]) for i in range(5)]
        self.assertEqual(list(queue), entries)
        self.assertIs(queue.first(), entries[0])
        # first() does not remove.
        self.assertEqual(len(queue), 5)
        popped = [queue.popFirst() for _ in range(5)]
        self.assertEqual(popped, entries)
        self.assertEqual((len(queue), queue.bytes), (0, 0))

    def test_bytesFollowPops(self) -> None:
        queue = SendQueue(10, 1000)
        queue.add([b"a" * 10])
        queue.add([b"b" * 20, b"c" * 5])
        self.assertEqual(queue.bytes, 35)
        queue.popFirst()
        self.assertEqual(queue.bytes, 25)
        queue.popFirst()
        self.assertEqual(queue.bytes, 0)

    def test_messageBound(self) -> None:
        """
        At C{maxMessages} entries, C{add} raises L{ZmqQueueFullError} (a
        L{BufferError}) and changes nothing.
        """
        queue = SendQueue(2, 1000)
        first = queue.add([b"1"])
        second = queue.add([b"2"])
        e = self.assertRaises(ZmqQueueFullError, queue.add, [b"3"])
        self.assertIsInstance(e, BufferError)
        self.assertIn("maxQueuedMessages=2", str(e))
        self.assertEqual(list(queue), [first, second])
        self.assertEqual(queue.bytes, 2)
        # Room again once one is taken.
        queue.popFirst()
        third = queue.add([b"3"])
        self.assertEqual(list(queue), [second, third])

    def test_byteBound(self) -> None:
        """
        A message that would take the queue past C{maxBytes} is refused;
        one that reaches it exactly is accepted.
        """
        queue = SendQueue(100, 10)
        queue.add([b"x" * 4])
        e = self.assertRaises(ZmqQueueFullError, queue.add, [b"y" * 7])
        self.assertIsInstance(e, BufferError)
        self.assertIn("maxQueuedBytes=10", str(e))
        self.assertEqual((len(queue), queue.bytes), (1, 4))
        queue.add([b"y" * 3, b"z" * 3])
        self.assertEqual((len(queue), queue.bytes), (2, 10))
        self.assertRaises(ZmqQueueFullError, queue.add, [b"!"])
        self.assertEqual((len(queue), queue.bytes), (2, 10))

    def test_oversizedIntoEmptyQueue(self) -> None:
        """
        A message larger than C{maxBytes} is still accepted into an empty
        queue (it could never be sent otherwise); nothing more fits after
        it.
        """
        queue = SendQueue(100, 10)
        big = queue.add([b"x" * 50])
        self.assertEqual(queue.bytes, 50)
        self.assertRaises(ZmqQueueFullError, queue.add, [b"y"])
        self.assertEqual(list(queue), [big])
        queue.popFirst()
        queue.add([b"y" * 10])
        self.assertEqual(queue.bytes, 10)

    def test_messageBoundBeforeBytes(self) -> None:
        """The message bound applies to empty messages too."""
        queue = SendQueue(1, 10)
        queue.add([b""])
        self.assertRaises(ZmqQueueFullError, queue.add, [b""])

    def test_boundsChangedLater(self) -> None:
        """
        The bounds are attributes (C{setSocketOptions} changes them): a
        lower bound refuses new entries but keeps the queued ones.
        """
        queue = SendQueue(5, 100)
        entries = [queue.add([b"ab"]) for _ in range(3)]
        queue.maxMessages = 2
        self.assertRaises(ZmqQueueFullError, queue.add, [b"c"])
        self.assertEqual(list(queue), entries)
        queue.maxMessages = 5
        queue.maxBytes = 7
        self.assertRaises(ZmqQueueFullError, queue.add, [b"cd"])
        queue.add([b"c"])
        self.assertEqual(queue.bytes, 7)

    def test_discard(self) -> None:
        """
        C{discard} takes an entry out from anywhere, keeping the others in
        order, and says whether it was still queued.
        """
        queue = SendQueue(10, 1000)
        a, b, c = queue.add([b"a"]), queue.add([b"bb"]), queue.add([b"ccc"])
        self.assertTrue(queue.discard(b))
        self.assertEqual(list(queue), [a, c])
        self.assertEqual(queue.bytes, 4)
        self.assertFalse(queue.discard(b))
        self.assertEqual(queue.bytes, 4)
        popped = queue.popFirst()
        self.assertIs(popped, a)
        self.assertFalse(queue.discard(a))
        self.assertEqual(list(queue), [c])
        self.assertEqual(queue.bytes, 3)

    def test_discardFreesRoom(self) -> None:
        queue = SendQueue(2, 1000)
        a = queue.add([b"a"])
        queue.add([b"b"])
        self.assertRaises(ZmqQueueFullError, queue.add, [b"c"])
        queue.discard(a)
        queue.add([b"c"])
        self.assertEqual([e.frames for e in queue], [[b"b"], [b"c"]])

    def test_discardEqualButNotSame(self) -> None:
        """
        Discarding an entry never removes another one with the same frames:
        entries are told apart by identity.
        """
        queue = SendQueue(10, 1000)
        first = queue.add([b"same"])
        second = queue.add([b"same"])
        self.assertTrue(queue.discard(second))
        self.assertEqual(list(queue), [first])
        self.assertIs(queue.first(), first)

    def test_drain(self) -> None:
        queue = SendQueue(10, 1000)
        entries = [queue.add([b"%d" % i]) for i in range(4)]
        self.assertEqual(queue.drain(), entries)
        self.assertEqual((len(queue), queue.bytes, list(queue)), (0, 0, []))
        self.assertEqual(queue.drain(), [])
        # Usable again afterwards, with the full bounds.
        queue.add([b"x" * 1000])
        self.assertEqual(queue.bytes, 1000)


class ReceiveBufferTests(SynchronousTestCase):
    def closed(self) -> ZmqConnectionClosedError:
        return ZmqConnectionClosedError("closed")

    def test_keptThenTaken(self) -> None:
        """Items put with nobody waiting are kept, and taken in order."""
        buffer: ReceiveBuffer[str] = ReceiveBuffer(10)
        for item in "abc":
            buffer.put(item)
        self.assertEqual(len(buffer), 3)
        self.assertEqual(
            [self.successResultOf(buffer.get()) for _ in range(3)], ["a", "b", "c"]
        )
        self.assertEqual(len(buffer), 0)

    def test_waiterServedFirst(self) -> None:
        """
        A C{get} before any item waits; the next item goes to it and is
        not kept.
        """
        buffer: ReceiveBuffer[str] = ReceiveBuffer(10)
        d = buffer.get()
        self.assertNoResult(d)
        self.assertEqual(buffer.waiting, 1)
        buffer.put("a")
        self.assertEqual(self.successResultOf(d), "a")
        self.assertEqual((len(buffer), buffer.waiting), (0, 0))

    def test_waitersInOrder(self) -> None:
        buffer: ReceiveBuffer[int] = ReceiveBuffer(10)
        ds = [buffer.get() for _ in range(3)]
        self.assertEqual(buffer.waiting, 3)
        for i in range(4):
            buffer.put(i)
        self.assertEqual([self.successResultOf(d) for d in ds], [0, 1, 2])
        self.assertEqual(len(buffer), 1)
        self.assertEqual(self.successResultOf(buffer.get()), 3)

    def test_cancelTakesNothing(self) -> None:
        """
        A cancelled C{get} fails with L{CancelledError} and takes no item:
        the next one goes to the next waiter, or is kept.
        """
        buffer: ReceiveBuffer[str] = ReceiveBuffer(10)
        first, second, third = buffer.get(), buffer.get(), buffer.get()
        second.cancel()
        self.failureResultOf(second, CancelledError)
        self.assertEqual(buffer.waiting, 2)
        buffer.put("a")
        buffer.put("b")
        self.assertEqual(self.successResultOf(first), "a")
        self.assertEqual(self.successResultOf(third), "b")
        lone = buffer.get()
        lone.cancel()
        self.failureResultOf(lone, CancelledError)
        buffer.put("c")
        self.assertEqual(len(buffer), 1)
        self.assertEqual(self.successResultOf(buffer.get()), "c")

    def test_cancelAfterFiring(self) -> None:
        """Cancelling a Deferred that already has its item changes nothing."""
        buffer: ReceiveBuffer[str] = ReceiveBuffer(10)
        d = buffer.get()
        buffer.put("a")
        d.cancel()
        self.assertEqual(self.successResultOf(d), "a")
        buffer.put("b")
        self.assertEqual(self.successResultOf(buffer.get()), "b")

    def test_full(self) -> None:
        """
        The buffer is full at C{bound} kept items; items handed straight
        to waiters do not count.
        """
        buffer: ReceiveBuffer[int] = ReceiveBuffer(2)
        d = buffer.get()
        buffer.put(0)
        self.assertEqual(self.successResultOf(d), 0)
        self.assertFalse(buffer.full)
        buffer.put(1)
        self.assertFalse(buffer.full)
        buffer.put(2)
        self.assertTrue(buffer.full)
        # Past the bound items are still kept (the connection stops
        # reading; nothing is dropped).
        buffer.put(3)
        self.assertTrue(buffer.full)
        self.assertEqual(len(buffer), 3)
        self.successResultOf(buffer.get())
        self.assertTrue(buffer.full)
        self.successResultOf(buffer.get())
        self.assertFalse(buffer.full)

    def test_boundChangedLater(self) -> None:
        buffer: ReceiveBuffer[int] = ReceiveBuffer(5)
        buffer.put(1)
        buffer.put(2)
        self.assertFalse(buffer.full)
        buffer.bound = 2
        self.assertTrue(buffer.full)

    def test_closeFailsWaiters(self) -> None:
        buffer: ReceiveBuffer[str] = ReceiveBuffer(10)
        ds = [buffer.get(), buffer.get()]
        buffer.close(self.closed)
        for d in ds:
            self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertEqual(buffer.waiting, 0)

    def test_closeKeepsItems(self) -> None:
        """
        After C{close}, the kept items are still returned, then every
        C{get} fails with a new error from the factory given to close.
        """
        buffer: ReceiveBuffer[str] = ReceiveBuffer(10)
        buffer.put("a")
        buffer.put("b")
        made: list[BaseException] = []

        def error() -> BaseException:
            e = ZmqConnectionClosedError(f"closed {len(made)}")
            made.append(e)
            return e

        buffer.close(error)
        self.assertEqual(self.successResultOf(buffer.get()), "a")
        self.assertEqual(self.successResultOf(buffer.get()), "b")
        first = self.failureResultOf(buffer.get(), ZmqConnectionClosedError)
        second = self.failureResultOf(buffer.get(), ZmqConnectionClosedError)
        self.assertIsNot(first.value, second.value)
        self.assertEqual(made, [first.value, second.value])

    def test_cancelAfterClose(self) -> None:
        """A waiter failed by close can still be cancelled harmlessly."""
        buffer: ReceiveBuffer[str] = ReceiveBuffer(10)
        d = buffer.get()
        buffer.close(self.closed)
        d.cancel()
        self.failureResultOf(d, ZmqConnectionClosedError)

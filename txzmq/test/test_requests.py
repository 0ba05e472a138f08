"""
Tests for L{txzmq._requests}: request ids and the table of pending
requests, on their own and as a REQ connection uses them.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txzmq import ZmqREQConnection
from txzmq._requests import RequestIds, RequestTable
from txzmq.testing import FakeFactory


class RequestIdsTests(SynchronousTestCase):
    """
    L{RequestIds} makes ids that are never reused.
    """

    def test_unique(self) -> None:
        ids = RequestIds()
        seen = [ids.next() for _ in range(10000)]
        self.assertEqual(len(set(seen)), len(seen))

    def test_shape(self) -> None:
        """
        An id is the 8-byte prefix and an 8-byte big-endian counter
        starting at 1.
        """
        ids = RequestIds(prefix=b"PREFIX!!")
        self.assertEqual(ids.next(), b"PREFIX!!" + (1).to_bytes(8, "big"))
        self.assertEqual(ids.next(), b"PREFIX!!" + (2).to_bytes(8, "big"))

    def test_neverEmpty(self) -> None:
        """
        An id is never the empty frame, which would be taken for the
        envelope delimiter.
        """
        ids = RequestIds(prefix=b"")
        for _ in range(3):
            self.assertNotEqual(ids.next(), b"")

    def test_randomPrefix(self) -> None:
        """
        Without a prefix, every generator gets its own random 8-byte one,
        so two clients of one REP socket never produce the same id.
        """
        first, second = RequestIds(), RequestIds()
        a, b = first.next(), second.next()
        self.assertEqual(len(a), 16)
        self.assertEqual(len(b), 16)
        self.assertNotEqual(a[:8], b[:8])
        self.assertNotEqual(a, b)
        # The prefix stays the same for the ids of one generator.
        self.assertEqual(first.next()[:8], a[:8])

    def test_noReuseAcrossManyGenerators(self) -> None:
        prefixes = {RequestIds().next()[:8] for _ in range(200)}
        self.assertEqual(len(prefixes), 200)

    def test_counterKeepsGoing(self) -> None:
        """
        The counter increases by one per id (it is not reset or reused).
        """
        ids = RequestIds(prefix=b"p" * 8)
        values = [int.from_bytes(ids.next()[8:], "big") for _ in range(5)]
        self.assertEqual(values, [1, 2, 3, 4, 5])


class RequestTableTests(SynchronousTestCase):
    """
    L{RequestTable} keeps pending requests by id, oldest first.
    """

    def test_drainOrder(self) -> None:
        table: RequestTable[int] = RequestTable()
        self.assertEqual(table.drain(), [])
        for i, key in enumerate([b"z", b"a", b"m", b"b"]):
            table[key] = i
        del table[b"a"]
        table[b"a"] = 4
        self.assertEqual(table.drain(), [0, 2, 3, 4])
        self.assertEqual(len(table), 0)
        self.assertNotIn(b"z", table)

    def test_drainEmptiesBeforeFirstEntry(self) -> None:
        """
        By the time the first entry is handed out, the table is already
        empty: what the caller does with an entry (fire a Deferred whose
        callbacks look at the table) sees no stale request.
        """
        table: RequestTable[str] = RequestTable()
        table[b"a"] = "a"
        table[b"b"] = "b"
        seen = []
        for entry in table.drain():
            seen.append((entry, len(table), b"b" in table))
        self.assertEqual(seen, [("a", 0, False), ("b", 0, False)])

    def test_addDuringDrain(self) -> None:
        """
        An entry added while draining is not drained with the old ones; it
        stays pending.
        """
        table: RequestTable[str] = RequestTable()
        table[b"a"] = "a"
        drained = []
        for entry in table.drain():
            drained.append(entry)
            table[b"new"] = "new"
        self.assertEqual(drained, ["a"])
        self.assertEqual(len(table), 1)
        self.assertEqual(table.pop(b"new"), "new")


class RequestIdsOnTheWireTests(SynchronousTestCase):
    """
    The rules above, as a L{ZmqREQConnection} applies them to the requests
    it sends, seen on a L{txzmq.testing.FakeFactory} (no sockets): the
    first frame of each request sent is its id.
    """

    def setUp(self) -> None:
        self.factory = FakeFactory()
        self.clock = self.factory.reactor
        self.addCleanup(self.factory.shutdown)

    def ids(self, req: ZmqREQConnection) -> list[bytes]:
        return [frames[0] for frames in self.factory.sent(req)]

    def test_shape(self) -> None:
        """
        One random 8-byte prefix per connection, then a counter from 1.
        """
        req = ZmqREQConnection(self.factory)
        for _ in range(3):
            req.sendMsg(b"q").addErrback(lambda f: None)
        ids = self.ids(req)
        self.assertEqual({len(i) for i in ids}, {16})
        self.assertEqual(len({i[:8] for i in ids}), 1)
        self.assertEqual([int.from_bytes(i[8:], "big") for i in ids], [1, 2, 3])

    def test_prefixPerConnection(self) -> None:
        first, second = ZmqREQConnection(self.factory), ZmqREQConnection(self.factory)
        first.sendMsg(b"q").addErrback(lambda f: None)
        second.sendMsg(b"q").addErrback(lambda f: None)
        [a], [b] = self.ids(first), self.ids(second)
        self.assertNotEqual(a[:8], b[:8])

    def test_neverReused(self) -> None:
        """
        Ids of requests that timed out or were cancelled are not given
        again, so a late reply cannot answer a newer request.
        """
        req = ZmqREQConnection(self.factory)
        timedOut = req.sendMsg(b"1", timeout=1)
        self.clock.advance(1)
        self.failureResultOf(timedOut)
        cancelled = req.sendMsg(b"2")
        cancelled.cancel()
        self.failureResultOf(cancelled)
        current = req.sendMsg(b"3")
        ids = self.ids(req)
        self.assertEqual(len(set(ids)), 3)
        self.factory.deliver(req, [ids[0], b"", b"late"], [ids[1], b"", b"late"])
        self.assertNoResult(current)
        self.factory.deliver(req, [ids[2], b"", b"answer"])
        self.assertEqual(self.successResultOf(current), [b"answer"])

    def test_shutdownFailsOldestFirst(self) -> None:
        """
        At shutdown the table is drained oldest first: the pending requests
        fail in the order they were sent.
        """
        req = ZmqREQConnection(self.factory)
        failed: list[bytes] = []
        for name in (b"a", b"b", b"c"):
            req.sendMsg(name).addErrback(lambda f, name: failed.append(name), name)
        req.shutdown()
        self.assertEqual(failed, [b"a", b"b", b"c"])

"""
Flow control of request/reply: C{maxInFlight} on the REQ side, replies
returned from C{gotMessage} and C{maxPendingReplies} on the REP side.

The C{*ReactorTests} classes play the other side with a raw ROUTER (for
a REQ) or a raw DEALER (for a REP) over inproc, on a fake reactor, so
every step is deterministic; the transport mixins repeat the main cases
on real sockets over inproc, ipc and tcp.
"""

from __future__ import annotations

from typing import Any

import zmq
from twisted.internet.defer import CancelledError, Deferred, gatherResults, succeed
from twisted.logger import LogLevel, capturedLogs, formatEvent

from txzmq import (
    ZmqConnectionClosedError,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
    ZmqUnknownRequestError,
)
from txzmq.test._helpers import addTransportCases, bind, connect, inprocAddress
from txzmq.test.test_connection import eventsFrom, nothingToReceive
from txzmq.test.test_flow import _FlowMixin, _ReactorCase
from txzmq.test.test_patterns import EchoREP, HoldingREP

Request = tuple[bytes, bytes, list[bytes]]
"""What a raw ROUTER got: the REQ's routing id, the request id, the parts."""


class ReturningREP(ZmqREPConnection):
    """
    Answers by returning the reply from C{gotMessage}; the first part of
    each request says how.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.held: dict[bytes, Deferred[Any]] = {}
        self.manual: list[bytes] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
        kind = parts[0]
        if kind == b"bytes":
            return b"one"
        if kind == b"list":
            return [b"a", b"b"]
        if kind == b"tuple":
            return (b"c", b"", b"d")
        if kind == b"deferred":
            d: Deferred[Any] = Deferred()
            self.held[messageId] = d
            return d
        if kind == b"fired":
            return succeed([b"already", b"fired"])
        if kind == b"later":
            d2: Deferred[Any] = Deferred()
            self.factory.reactor.callLater(0.01, d2.callback, b"later")
            return d2
        if kind == b"manual":
            self.manual.append(messageId)
            return None
        if kind == b"reply":
            self.reply(messageId, b"replied")
            return None
        if kind == b"both":
            self.reply(messageId, b"replied")
            return b"returned too"
        if kind == b"raise":
            raise ZeroDivisionError("gotMessage failed")
        if kind == b"fail":
            d3: Deferred[Any] = Deferred()
            self.factory.reactor.callLater(
                0, d3.errback, ZeroDivisionError("the reply failed")
            )
            return d3
        if kind == b"bad":
            return 42
        return [b"echo", *parts]


class CountingREP(HoldingREP):
    """Records how many requests were unanswered at most."""

    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.outstanding = 0
        self.maxOutstanding = 0

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.outstanding += 1
        self.maxOutstanding = max(self.maxOutstanding, self.outstanding)
        super().gotMessage(messageId, *messageParts)

    def reply(self, messageId: bytes, *messageParts: Any) -> None:
        super().reply(messageId, *messageParts)
        self.outstanding -= 1


# ---------------------------------------------------------------------------
# Fake reactor


class REQReactorTests(_ReactorCase):
    def reqAndRouter(self, **kwargs: Any) -> tuple[ZmqREQConnection, zmq.Socket[Any]]:
        address = inprocAddress()
        router = self.raw(zmq.ROUTER, bindTo=address)
        req = ZmqREQConnection(self.factory, connect(address), **kwargs)
        self.reactor.advance(0)
        return req, router

    def received(self, router: zmq.Socket[Any]) -> list[Request]:
        """The requests the ROUTER has now."""
        requests = []
        while not nothingToReceive(router):
            peer, requestId, empty, *parts = router.recv_multipart(zmq.NOBLOCK)
            self.assertEqual(empty, b"")
            requests.append((peer, requestId, parts))
        return requests

    def answer(
        self,
        req: ZmqREQConnection,
        router: zmq.Socket[Any],
        request: Request,
        *reply: bytes,
    ) -> None:
        peer, requestId, _ = request
        router.send_multipart([peer, requestId, b"", *reply])
        self.signal(req)

    def bodies(self, requests: list[Request]) -> list[list[bytes]]:
        return [parts for _, _, parts in requests]

    def test_maxInFlight(self) -> None:
        """
        At most C{maxInFlight} requests are sent; the others wait, in
        order, and go as replies come, in whatever order those come.
        """
        req, router = self.reqAndRouter(maxInFlight=2)
        ds = [req.sendMsg(b"%d" % i) for i in range(5)]
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (2, 3))
        first = self.received(router)
        self.assertEqual(self.bodies(first), [[b"0"], [b"1"]])
        results: dict[int, Any] = {}

        def record(reply: Any, index: int) -> None:
            results[index] = reply

        for i, d in enumerate(ds):
            d.addCallback(record, i)
        self.answer(req, router, first[1], b"r1")
        self.assertEqual(results, {1: [b"r1"]})
        second = self.received(router)
        self.assertEqual(self.bodies(second), [[b"2"]])
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (2, 2))
        self.answer(req, router, first[0], b"r0")
        self.assertEqual(results, {0: [b"r0"], 1: [b"r1"]})
        third = self.received(router)
        self.assertEqual(self.bodies(third), [[b"3"]])
        self.answer(req, router, second[0], b"r2")
        self.answer(req, router, third[0], b"r3")
        fourth = self.received(router)
        self.assertEqual(self.bodies(fourth), [[b"4"]])
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (1, 0))
        self.answer(req, router, fourth[0], b"r4")
        self.assertEqual(results, {i: [b"r%d" % i] for i in range(5)})
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (0, 0))
        self.assertEqual(self.received(router), [])

    def test_unlimitedByDefault(self) -> None:
        req, router = self.reqAndRouter()
        self.assertIsNone(req.maxInFlight)
        ds = [req.sendMsg(b"%d" % i) for i in range(20)]
        self.discard(ds)
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (20, 0))
        self.assertEqual(len(self.received(router)), 20)

    def test_waitingTimeoutSendsNothing(self) -> None:
        """
        A waiting request that times out fails with
        L{ZmqRequestTimeoutError} and is never sent; the next one takes
        its turn.
        """
        req, router = self.reqAndRouter(maxInFlight=1)
        d0 = req.sendMsg(b"0")
        d1 = req.sendMsg(b"1", timeout=5)
        d2 = req.sendMsg(b"2")
        self.reactor.advance(4.9)
        self.assertNoResult(d1)
        self.reactor.advance(0.1)
        self.failureResultOf(d1, ZmqRequestTimeoutError)
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (1, 1))
        [request0] = self.received(router)
        self.answer(req, router, request0, b"r0")
        self.assertEqual(self.successResultOf(d0), [b"r0"])
        [request2] = self.received(router)
        self.assertEqual(request2[2], [b"2"])
        self.answer(req, router, request2, b"r2")
        self.assertEqual(self.successResultOf(d2), [b"r2"])
        self.assertEqual(self.received(router), [])

    def test_timeoutCountsFromCall(self) -> None:
        """
        A request's timeout runs from the C{sendMsg} call, not from when
        its turn came.
        """
        req, router = self.reqAndRouter(maxInFlight=1)
        d0 = req.sendMsg(b"0")
        d1 = req.sendMsg(b"1", timeout=5)
        self.reactor.advance(3)
        [request0] = self.received(router)
        self.answer(req, router, request0, b"r0")
        self.successResultOf(d0)
        [request1] = self.received(router)
        self.assertEqual(request1[2], [b"1"])
        self.reactor.advance(1.9)
        self.assertNoResult(d1)
        self.reactor.advance(0.1)
        self.failureResultOf(d1, ZmqRequestTimeoutError)
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (0, 0))

    def test_waitingCancelSendsNothing(self) -> None:
        req, router = self.reqAndRouter(maxInFlight=1)
        d0 = req.sendMsg(b"0")
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2")
        d1.cancel()
        self.failureResultOf(d1, CancelledError)
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (1, 1))
        [request0] = self.received(router)
        self.answer(req, router, request0, b"r0")
        self.successResultOf(d0)
        [request2] = self.received(router)
        self.assertEqual(request2[2], [b"2"])
        self.answer(req, router, request2, b"r2")
        self.assertEqual(self.successResultOf(d2), [b"r2"])

    def test_cancelInFlightFreesSlot(self) -> None:
        """
        Cancelling a request that was sent frees its slot; its reply,
        when it comes, is dropped.
        """
        req, router = self.reqAndRouter(maxInFlight=1)
        d0 = req.sendMsg(b"0")
        d1 = req.sendMsg(b"1")
        [request0] = self.received(router)
        d0.cancel()
        self.failureResultOf(d0, CancelledError)
        [request1] = self.received(router)
        self.assertEqual(request1[2], [b"1"])
        self.answer(req, router, request0, b"late")
        self.assertNoResult(d1)
        self.answer(req, router, request1, b"r1")
        self.assertEqual(self.successResultOf(d1), [b"r1"])

    def test_lateReplyDropped(self) -> None:
        """
        The late reply to a request that timed out is logged at debug
        level and dropped: the request that took its slot still gets its
        own reply.
        """
        req, router = self.reqAndRouter(maxInFlight=1)
        d0 = req.sendMsg(b"0", timeout=1)
        d1 = req.sendMsg(b"1")
        [request0] = self.received(router)
        self.reactor.advance(1)
        self.failureResultOf(d0, ZmqRequestTimeoutError)
        [request1] = self.received(router)
        with capturedLogs() as events:
            self.answer(req, router, request0, b"late r0")
        self.assertNoResult(d1)
        debug = eventsFrom(events, req, LogLevel.debug)
        self.assertEqual(len(debug), 1)
        self.assertIn("Dropping a reply", formatEvent(debug[0]))
        self.assertEqual(eventsFrom(events, req, LogLevel.warn), [])
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (1, 0))
        self.answer(req, router, request1, b"r1")
        self.assertEqual(self.successResultOf(d1), [b"r1"])
        # And later requests are not confused either.
        d2 = req.sendMsg(b"2")
        [request2] = self.received(router)
        self.answer(req, router, request2, b"r2")
        self.assertEqual(self.successResultOf(d2), [b"r2"])

    def test_sendMsgNeverRaises(self) -> None:
        """
        Without a peer (or at the high-water mark) requests wait in the
        outgoing queue instead of raising; they go, in order, once a peer
        is there.
        """
        req = ZmqREQConnection(self.factory, sendHighWaterMark=1)
        self.reactor.advance(0)
        ds = [req.sendMsg(b"%d" % i) for i in range(5)]
        self.assertEqual(req.queuedMessages, 5)
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (5, 0))
        address = inprocAddress()
        router = self.raw(zmq.ROUTER, bindTo=address)
        req.addEndpoints([connect(address)])
        self.settle()
        requests = self.received(router)
        self.assertEqual(self.bodies(requests), [[b"%d" % i] for i in range(5)])
        for request in requests:
            self.answer(req, router, request, b"re", *request[2])
        self.assertEqual(
            [self.successResultOf(d) for d in ds],
            [[b"re", b"%d" % i] for i in range(5)],
        )

    def test_queuedRequestTimeoutNotSent(self) -> None:
        """
        A request that times out while it waits in the outgoing queue is
        taken out of it: it is never sent.
        """
        req = ZmqREQConnection(self.factory)
        self.reactor.advance(0)
        d0 = req.sendMsg(b"0", timeout=1)
        d1 = req.sendMsg(b"1")
        self.assertEqual(req.queuedMessages, 2)
        self.reactor.advance(1)
        self.failureResultOf(d0, ZmqRequestTimeoutError)
        self.assertEqual(req.queuedMessages, 1)
        address = inprocAddress()
        router = self.raw(zmq.ROUTER, bindTo=address)
        req.addEndpoints([connect(address)])
        self.settle()
        [request1] = self.received(router)
        self.assertEqual(request1[2], [b"1"])
        self.answer(req, router, request1, b"r1")
        self.assertEqual(self.successResultOf(d1), [b"r1"])

    def test_shutdownFailsWaiting(self) -> None:
        """
        At shutdown, sent and waiting requests fail with
        L{ZmqConnectionClosedError}; waiting ones were never sent.
        """
        req, router = self.reqAndRouter(maxInFlight=1)
        ds = [req.sendMsg(b"%d" % i, timeout=10) for i in range(3)]
        req.shutdown()
        for d in ds:
            self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (0, 0))
        self.assertEqual(self.bodies(self.received(router)), [[b"0"]])
        self.assertEqual(self.pending(), [])

    def test_raiseMaxInFlight(self) -> None:
        """
        Raising C{maxInFlight} (or removing it) with C{setSocketOptions}
        sends waiting requests at once.
        """
        req, router = self.reqAndRouter(maxInFlight=1)
        self.discard([req.sendMsg(b"%d" % i) for i in range(5)])
        self.assertEqual(len(self.received(router)), 1)
        req.setSocketOptions(maxInFlight=3)
        self.assertEqual(self.bodies(self.received(router)), [[b"1"], [b"2"]])
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (3, 2))
        req.setSocketOptions(maxInFlight=None)
        self.assertEqual(self.bodies(self.received(router)), [[b"3"], [b"4"]])
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (5, 0))

    def test_settingsChecked(self) -> None:
        self.assertRaises(ValueError, ZmqREQConnection, self.factory, maxInFlight=0)
        self.assertRaises(TypeError, ZmqREQConnection, self.factory, maxInFlight="2")
        self.assertRaises(TypeError, ZmqREQConnection, self.factory, maxInFlight=True)
        self.assertRaises(
            ValueError, ZmqREPConnection, self.factory, maxPendingReplies=0
        )
        self.assertRaises(
            TypeError, ZmqREPConnection, self.factory, maxPendingReplies=None
        )
        self.assertEqual(ZmqREPConnection.maxPendingReplies, 10000)
        # Each pattern only takes its own setting.
        self.assertRaises(TypeError, ZmqREPConnection, self.factory, maxInFlight=1)
        self.assertRaises(
            TypeError, ZmqREQConnection, self.factory, maxPendingReplies=1
        )


class REPReactorTests(_ReactorCase):
    def repAndDealer(
        self, cls: type[ZmqREPConnection] = ReturningREP, **kwargs: Any
    ) -> tuple[Any, zmq.Socket[Any]]:
        address = inprocAddress()
        rep = cls(self.factory, bind(address), **kwargs)
        dealer = self.raw(zmq.DEALER, connectTo=address)
        self.reactor.advance(0)
        return rep, dealer

    def request(
        self,
        rep: ZmqREPConnection,
        dealer: zmq.Socket[Any],
        requestId: bytes,
        *parts: bytes,
    ) -> None:
        dealer.send_multipart([requestId, b"", *parts])
        self.signal(rep)

    def replies(self, dealer: zmq.Socket[Any]) -> list[tuple[bytes, list[bytes]]]:
        got = []
        while not nothingToReceive(dealer):
            requestId, empty, *parts = dealer.recv_multipart(zmq.NOBLOCK)
            self.assertEqual(empty, b"")
            got.append((requestId, parts))
        return got

    def test_returnedReplies(self) -> None:
        """
        C{gotMessage} may return the reply: bytes (one frame), a list or a
        tuple of frames, or an already fired Deferred.
        """
        rep, dealer = self.repAndDealer()
        for requestId, kind in [
            (b"1", b"bytes"),
            (b"2", b"list"),
            (b"3", b"tuple"),
            (b"4", b"fired"),
        ]:
            self.request(rep, dealer, requestId, kind)
        self.assertEqual(
            self.replies(dealer),
            [
                (b"1", [b"one"]),
                (b"2", [b"a", b"b"]),
                (b"3", [b"c", b"", b"d"]),
                (b"4", [b"already", b"fired"]),
            ],
        )
        # Answered: the routes are gone.
        self.assertRaises(ZmqUnknownRequestError, rep.reply, b"1", b"again")

    def test_deferredReply(self) -> None:
        """
        A returned Deferred sends the reply when it fires, with bytes or a
        list of frames.
        """
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"a", b"deferred")
        self.request(rep, dealer, b"b", b"deferred")
        self.assertEqual(self.replies(dealer), [])
        rep.held[b"b"].callback([b"second", b"2"])
        rep.held[b"a"].callback(b"first")
        self.assertEqual(
            self.replies(dealer), [(b"b", [b"second", b"2"]), (b"a", [b"first"])]
        )

    def test_noneMeansManual(self) -> None:
        """
        Returning None leaves the request for C{reply()}, now or later.
        """
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"now", b"reply")
        self.request(rep, dealer, b"later", b"manual")
        self.assertEqual(self.replies(dealer), [(b"now", [b"replied"])])
        rep.reply(b"later", b"by", b"hand")
        self.assertEqual(self.replies(dealer), [(b"later", [b"by", b"hand"])])

    def test_replyAndReturn(self) -> None:
        """
        A request answered with C{reply()} inside C{gotMessage}, which then
        returns a reply too, is answered once; nothing is logged as an
        error.
        """
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"x", b"both")
        self.assertEqual(self.replies(dealer), [(b"x", [b"replied"])])
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_deferredFiringWithNone(self) -> None:
        """
        A Deferred that fires with None sends nothing: the request is
        left for C{reply()}.
        """
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"x", b"deferred")
        rep.held[b"x"].callback(None)
        self.assertEqual(self.replies(dealer), [])
        rep.reply(b"x", b"manual")
        self.assertEqual(self.replies(dealer), [(b"x", [b"manual"])])

    def test_failingDeferredLogged(self) -> None:
        """
        A returned Deferred that fails is logged; no reply is sent, the
        request is forgotten, and the connection goes on answering.
        """
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"x", b"deferred")
        with capturedLogs() as events:
            rep.held[b"x"].errback(ZeroDivisionError("no answer"))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        failures = [e for e in eventsFrom(events, rep) if "log_failure" in e]
        self.assertEqual(len(failures), 1)
        self.assertIn(b"x".hex(), formatEvent(failures[0]))
        self.assertEqual(self.replies(dealer), [])
        self.assertRaises(ZmqUnknownRequestError, rep.reply, b"x", b"too late")
        self.request(rep, dealer, b"y", b"bytes")
        self.assertEqual(self.replies(dealer), [(b"y", [b"one"])])
        self.assertFalse(rep.closed)

    def test_raisingGotMessageLogged(self) -> None:
        """
        An exception from C{gotMessage} is logged; no reply is sent, the
        request is forgotten, and the next requests are answered.
        """
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"x", b"raise")
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.replies(dealer), [])
        self.assertRaises(ZmqUnknownRequestError, rep.reply, b"x", b"too late")
        self.request(rep, dealer, b"y", b"list")
        self.assertEqual(self.replies(dealer), [(b"y", [b"a", b"b"])])

    def test_badReturnValueLogged(self) -> None:
        """
        A reply that is not frames (an int, here) is logged as an error,
        returned directly or through a Deferred; nothing is sent.
        """
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"x", b"bad")
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)
        self.request(rep, dealer, b"y", b"deferred")
        rep.held[b"y"].callback(42)
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)
        self.assertEqual(self.replies(dealer), [])
        self.assertRaises(ZmqUnknownRequestError, rep.reply, b"x", b"late")
        self.assertRaises(ZmqUnknownRequestError, rep.reply, b"y", b"late")
        self.request(rep, dealer, b"z", b"bytes")
        self.assertEqual(self.replies(dealer), [(b"z", [b"one"])])

    def test_maxPendingReplies(self) -> None:
        """
        Past C{maxPendingReplies} unanswered requests, the oldest route is
        forgotten with a warning; the others can still be answered.
        """
        rep, dealer = self.repAndDealer(ReturningREP, maxPendingReplies=2)
        with capturedLogs() as events:
            self.request(rep, dealer, b"id1", b"manual")
            self.request(rep, dealer, b"id2", b"manual")
            self.assertEqual(eventsFrom(events, rep, LogLevel.warn), [])
            self.request(rep, dealer, b"id3", b"manual")
        warnings = eventsFrom(events, rep, LogLevel.warn)
        self.assertEqual(len(warnings), 1)
        text = formatEvent(warnings[0])
        self.assertIn("maxPendingReplies", text)
        self.assertIn(b"id1".hex(), text)
        self.assertRaises(ZmqUnknownRequestError, rep.reply, b"id1", b"x")
        rep.reply(b"id3", b"three")
        rep.reply(b"id2", b"two")
        self.assertEqual(
            self.replies(dealer), [(b"id3", [b"three"]), (b"id2", [b"two"])]
        )

    def test_answeredRequestsDoNotCount(self) -> None:
        """
        Only unanswered requests count towards C{maxPendingReplies}.
        """
        rep, dealer = self.repAndDealer(ReturningREP, maxPendingReplies=2)
        with capturedLogs() as events:
            for i in range(10):
                self.request(rep, dealer, b"%d" % i, b"bytes")
            self.request(rep, dealer, b"m1", b"manual")
            self.request(rep, dealer, b"m2", b"manual")
        self.assertEqual(eventsFrom(events, rep, LogLevel.warn), [])
        self.assertEqual(len(self.replies(dealer)), 10)
        rep.reply(b"m1", b"ok")
        rep.reply(b"m2", b"ok")
        self.assertEqual(len(self.replies(dealer)), 2)

    def test_deferredAfterRouteForgotten(self) -> None:
        """
        A Deferred reply firing after its route was forgotten (past
        C{maxPendingReplies}) sends nothing and logs no error.
        """
        rep, dealer = self.repAndDealer(ReturningREP, maxPendingReplies=1)
        self.request(rep, dealer, b"old", b"deferred")
        with capturedLogs():
            self.request(rep, dealer, b"new", b"manual")
        rep.held[b"old"].callback(b"too late")
        self.assertEqual(self.replies(dealer), [])
        rep.reply(b"new", b"fine")
        self.assertEqual(self.replies(dealer), [(b"new", [b"fine"])])

    def test_deferredAfterShutdown(self) -> None:
        """A Deferred reply firing after shutdown sends nothing, quietly."""
        rep, dealer = self.repAndDealer()
        self.request(rep, dealer, b"x", b"deferred")
        rep.shutdown()
        rep.held[b"x"].callback(b"late")
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_returnedReplyWaitsAtHighWaterMark(self) -> None:
        """
        A returned reply goes through the outgoing queue: at the
        high-water mark it waits instead of being lost.  (A ROUTER socket
        drops what it cannot send unless C{ROUTER_MANDATORY} is set; with
        it, libzmq refuses the reply and the queue keeps it.)
        """
        address = inprocAddress()
        rep = ReturningREP(self.factory, sendHighWaterMark=1)
        rep.socket.set(zmq.ROUTER_MANDATORY, 1)
        rep.addEndpoints([bind(address)])
        dealer = self.raw(zmq.DEALER)
        dealer.set(zmq.RCVHWM, 1)
        dealer.connect(address)
        self.reactor.advance(0)
        for i in range(4):
            self.request(rep, dealer, b"%d" % i, b"bytes")
        self.assertGreater(rep.queuedMessages, 0)
        got = []
        while len(got) < 4:
            got.extend(self.replies(dealer))
            self.signal(rep)
            self.settle()
        self.assertEqual(got, [(b"%d" % i, [b"one"]) for i in range(4)])


# ---------------------------------------------------------------------------
# Real sockets


class REQFlowTests(_FlowMixin):
    async def test_maxInFlight(self) -> None:
        """
        With C{maxInFlight=2}, the REP never has more than two requests
        unanswered; all are answered, in order.
        """
        rep, address = self.listen(CountingREP)
        req = ZmqREQConnection(self.factory, connect(address), maxInFlight=2)
        ds = [req.sendMsg(b"%d" % i) for i in range(8)]
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (2, 6))
        for k in range(8):
            requests = await self.wait(rep.requests.waitFor(k + 1))
            messageId, parts = requests[k]
            self.assertEqual(parts, [b"%d" % k])
            rep.reply(messageId, b"re", *parts)
        replies = await self.wait(gatherResults(ds))
        self.assertEqual(replies, [[b"re", b"%d" % i] for i in range(8)])
        self.assertLessEqual(rep.maxOutstanding, 2)
        self.assertEqual((req.requestsInFlight, req.requestsWaiting), (0, 0))

    async def test_waitingTimeoutNeverSent(self) -> None:
        """
        A request that times out while waiting for its turn is never
        sent: the REP's next request after the first is the third.
        """
        rep, address = self.listen(HoldingREP)
        req = ZmqREQConnection(self.factory, connect(address), maxInFlight=1)
        d1 = req.sendMsg(b"first")
        d2 = req.sendMsg(b"second", timeout=0.1)
        d3 = req.sendMsg(b"third")
        await self.wait(self.assertFailure(d2, ZmqRequestTimeoutError))
        [(firstId, first)] = await self.wait(rep.requests.waitFor(1))
        rep.reply(firstId, b"r1")
        self.assertEqual(await self.wait(d1), [b"r1"])
        [_, (thirdId, third)] = await self.wait(rep.requests.waitFor(2))
        self.assertEqual((first, third), ([b"first"], [b"third"]))
        rep.reply(thirdId, b"r3")
        self.assertEqual(await self.wait(d3), [b"r3"])

    async def test_cancelWaitingNeverSent(self) -> None:
        rep, address = self.listen(HoldingREP)
        req = ZmqREQConnection(self.factory, connect(address), maxInFlight=1)
        d1 = req.sendMsg(b"first")
        d2 = req.sendMsg(b"second")
        d3 = req.sendMsg(b"third")
        d2.cancel()
        self.failureResultOf(d2, CancelledError)
        [(firstId, _)] = await self.wait(rep.requests.waitFor(1))
        rep.reply(firstId, b"r1")
        await self.wait(d1)
        [_, (thirdId, third)] = await self.wait(rep.requests.waitFor(2))
        self.assertEqual(third, [b"third"])
        rep.reply(thirdId, b"r3")
        self.assertEqual(await self.wait(d3), [b"r3"])

    async def test_lateReplyIgnored(self) -> None:
        """
        The first request times out and the second takes its slot; the
        late reply to the first, arriving just before the second's, is
        dropped, and later requests are answered correctly.
        """
        rep, address = self.listen(HoldingREP)
        req = ZmqREQConnection(self.factory, connect(address), maxInFlight=1)
        d1 = req.sendMsg(b"first", timeout=0.2)
        d2 = req.sendMsg(b"second")
        await self.wait(self.assertFailure(d1, ZmqRequestTimeoutError))
        [(firstId, _), (secondId, second)] = await self.wait(rep.requests.waitFor(2))
        self.assertEqual(second, [b"second"])
        rep.reply(firstId, b"late")
        rep.reply(secondId, b"r2")
        self.assertEqual(await self.wait(d2), [b"r2"])
        d3 = req.sendMsg(b"third")
        [_, _, (thirdId, _)] = await self.wait(rep.requests.waitFor(3))
        rep.reply(thirdId, b"r3")
        self.assertEqual(await self.wait(d3), [b"r3"])

    async def test_sendMsgWaitsForPeer(self) -> None:
        """
        A bound REQ with no peer yet takes requests without raising (even
        past its high-water mark); they are answered once a REP connects.
        """
        req, address = self.listen(ZmqREQConnection, sendHighWaterMark=1)
        ds = [req.sendMsg(b"%d" % i) for i in range(10)]
        self.assertEqual(req.queuedMessages, 10)
        EchoREP(self.factory, connect(address))
        replies = await self.wait(gatherResults(ds))
        self.assertEqual(replies, [[b"echo", b"%d" % i] for i in range(10)])


class REPFlowTests(_FlowMixin):
    async def test_returnedReplies(self) -> None:
        rep, address = self.listen(ReturningREP)
        req = ZmqREQConnection(self.factory, connect(address))
        kinds = [b"bytes", b"list", b"tuple", b"fired", b"later", b"other"]
        replies = await self.wait(gatherResults([req.sendMsg(kind) for kind in kinds]))
        self.assertEqual(
            replies,
            [
                [b"one"],
                [b"a", b"b"],
                [b"c", b"", b"d"],
                [b"already", b"fired"],
                [b"later"],
                [b"echo", b"other"],
            ],
        )

    async def test_failuresLoggedAndConnectionWorks(self) -> None:
        """
        A raising C{gotMessage} and a failing Deferred reply are logged;
        their requests get no reply, and the next request is answered.
        """
        rep, address = self.listen(ReturningREP)
        req = ZmqREQConnection(self.factory, connect(address))
        boom = req.sendMsg(b"raise")
        fail = req.sendMsg(b"fail")
        ok = await self.wait(req.sendMsg(b"bytes"))
        self.assertEqual(ok, [b"one"])
        # "fail" errs on the REP's next turn: a later round trip proves it
        # did, and sent nothing before.
        self.assertEqual(await self.wait(req.sendMsg(b"list")), [b"a", b"b"])
        self.assertNoResult(boom)
        self.assertNoResult(fail)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 2)
        boom.cancel()
        fail.cancel()
        self.failureResultOf(boom, CancelledError)
        self.failureResultOf(fail, CancelledError)

    async def test_maxPendingReplies(self) -> None:
        rep, address = self.listen(HoldingREP, maxPendingReplies=2)
        req = ZmqREQConnection(self.factory, connect(address))
        with capturedLogs() as events:
            ds = [req.sendMsg(b"%d" % i) for i in range(3)]
            requests = await self.wait(rep.requests.waitFor(3))
        warnings = eventsFrom(events, rep, LogLevel.warn)
        self.assertEqual(len(warnings), 1)
        self.assertIn(requests[0][0].hex(), formatEvent(warnings[0]))
        self.assertRaises(ZmqUnknownRequestError, rep.reply, requests[0][0], b"x")
        for messageId, parts in requests[1:]:
            rep.reply(messageId, b"re", *parts)
        self.assertEqual(
            await self.wait(gatherResults(ds[1:])), [[b"re", b"1"], [b"re", b"2"]]
        )
        ds[0].cancel()
        self.failureResultOf(ds[0], CancelledError)


addTransportCases(globals(), [REQFlowTests, REPFlowTests])

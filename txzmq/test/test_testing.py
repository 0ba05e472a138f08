"""
Tests for L{txzmq.testing}: the fake factory, socket, context and frame
that let code using txzmq be unit-tested without real sockets.

Every test here runs on the C{MemoryReactorClock} of a L{FakeFactory}:
nothing touches libzmq, and no time passes unless a test advances the
clock, so the reactor trial runs does not matter.

The classes near the end, L{ConnectionTestsOnFakesTests}, redo some of
the request/reply tests of C{test_connection} (which drive real inproc
sockets by hand) with the fakes, where they get shorter: a high-water
mark is C{setRoom()} instead of a patched C{send}, a peer's message is
C{deliver()} instead of a raw socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import zmq
from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IPullProducer, IPushProducer
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from txzmq import (
    ZmqConnection,
    ZmqConnectionClosedError,
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPairConnection,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqQueueFullError,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqWouldBlockError,
    ZmqXPubConnection,
    ZmqXSubConnection,
    jsonCodec,
)
from txzmq.test._helpers import (
    RecordingDealer,
    RecordingPair,
    RecordingPull,
    RecordingREP,
    RecordingRouter,
    RecordingSub,
    RecordingXPub,
    RecordingXSub,
    bind,
    connect,
)
from txzmq.testing import FakeContext, FakeFactory, FakeFrame, FakeSocket

# ---------------------------------------------------------------------------
# Helpers


@implementer(IPushProducer)
class StreamingProducer:
    """Records pause/resume/stop calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


@implementer(IPullProducer)
class PullProducer:
    """Writes the next of C{messages} each time it is asked."""

    def __init__(self, consumer: ZmqConnection, messages: list[bytes]) -> None:
        self.consumer = consumer
        self.messages = list(messages)
        self.asked = 0

    def resumeProducing(self) -> None:
        self.asked += 1
        if self.messages:
            self.consumer.write(self.messages.pop(0))

    def stopProducing(self) -> None:
        pass


def fromSource(events: Sequence[Any], source: object, level: LogLevel) -> list[Any]:
    return [
        event
        for event in events
        if event.get("log_source") is source and event.get("log_level") == level
    ]


def fake(connection: ZmqConnection) -> FakeSocket:
    """The fake socket of a connection made by a L{FakeFactory}."""
    socket = connection.socket
    assert isinstance(socket, FakeSocket)
    return socket


def fakeContext(factory: ZmqFactory) -> FakeContext:
    context = factory.context
    assert isinstance(context, FakeContext)
    return context


class _FakeCase(SynchronousTestCase):
    """A L{FakeFactory} per test, shut down afterwards."""

    def setUp(self) -> None:
        self.factory = FakeFactory()
        self.reactor: MemoryReactorClock = self.factory.reactor
        self.addCleanup(self.factory.shutdown)

    def timers(self) -> list[Any]:
        now = self.reactor.seconds()
        return [call for call in self.reactor.getDelayedCalls() if call.getTime() > now]


# ---------------------------------------------------------------------------
# FakeFactory, FakeContext


class FakeFactoryTests(_FakeCase):
    def test_isAZmqFactory(self) -> None:
        """
        A L{FakeFactory} is a L{ZmqFactory}: code that takes a factory
        takes it.
        """
        self.assertIsInstance(self.factory, ZmqFactory)

    def test_memoryReactorClock(self) -> None:
        """
        Without a reactor, it makes its own L{MemoryReactorClock}, a new one
        per factory, so that tests do not share time.
        """
        self.assertIsInstance(self.factory.reactor, MemoryReactorClock)
        other = FakeFactory()
        self.addCleanup(other.shutdown)
        self.assertIsNot(other.reactor, self.factory.reactor)

    def test_givenReactor(self) -> None:
        """
        A reactor given to the constructor (a fake one, such as a
        L{MemoryReactorClock} subclass) is the one its connections use.
        """

        class Recording(MemoryReactorClock):
            def __init__(self) -> None:
                super().__init__()
                self.added: list[Any] = []

            def addReader(self, reader: Any) -> None:
                self.added.append(reader)
                super().addReader(reader)

        reactor = Recording()
        factory = FakeFactory(reactor)
        self.addCleanup(factory.shutdown)
        self.assertIs(factory.reactor, reactor)
        pull = ZmqPullConnection(factory)
        self.assertEqual(reactor.added, [pull])
        d = ZmqREQConnection(factory).sendMsg(b"q", timeout=1)
        reactor.advance(1)
        self.failureResultOf(d, ZmqRequestTimeoutError)

    def test_fakeContext(self) -> None:
        """
        The context is a L{FakeContext}, not a C{zmq.Context}: no libzmq
        context is created.
        """
        self.assertIsInstance(self.factory.context, FakeContext)
        self.assertNotIsInstance(self.factory.context, zmq.Context)

    def test_socketsAreFake(self) -> None:
        """
        Each connection gets a L{FakeSocket} of its pattern's socket type,
        recorded by the context.
        """
        expected = [
            (ZmqPushConnection, zmq.PUSH),
            (ZmqPullConnection, zmq.PULL),
            (ZmqPubConnection, zmq.PUB),
            (ZmqSubConnection, zmq.SUB),
            (ZmqXPubConnection, zmq.XPUB),
            (ZmqXSubConnection, zmq.XSUB),
            (ZmqREQConnection, zmq.DEALER),
            (ZmqREPConnection, zmq.ROUTER),
            (ZmqRouterConnection, zmq.ROUTER),
            (ZmqDealerConnection, zmq.DEALER),
            (ZmqPairConnection, zmq.PAIR),
        ]
        connections = [cls(self.factory) for cls, _ in expected]
        for connection, (_, socketType) in zip(connections, expected):
            self.assertIsInstance(connection.socket, FakeSocket)
            self.assertEqual(connection.socket.socketType, socketType)
        self.assertEqual(self.factory.context.sockets, [c.socket for c in connections])

    def test_readerAdded(self) -> None:
        """
        Connections watch their fake descriptor on the fake reactor, as on a
        real one; each socket has a descriptor of its own.
        """
        a = ZmqPullConnection(self.factory)
        b = ZmqPullConnection(self.factory)
        self.assertIn(a, self.reactor.getReaders())
        self.assertIn(b, self.reactor.getReaders())
        self.assertNotEqual(a.fileno(), b.fileno())
        self.assertEqual(a.fileno(), a.socket.get(zmq.FD))

    def test_shutdownClosesSocketsAndTerminatesContext(self) -> None:
        push = ZmqPushConnection(self.factory)
        pull = ZmqPullConnection(self.factory)
        self.factory.shutdown()
        self.assertTrue(push.socket.closed)
        self.assertTrue(pull.socket.closed)
        self.assertTrue(self.factory.context.terminated)
        self.assertEqual(self.factory.connections, set())
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertTrue(self.factory.closed)
        # Idempotent.
        self.factory.shutdown()

    def test_connectionAfterShutdown(self) -> None:
        self.factory.shutdown()
        self.assertRaises(ZmqConnectionClosedError, ZmqPullConnection, self.factory)

    def test_shutdownFailsPendingRequests(self) -> None:
        req = ZmqREQConnection(self.factory)
        d = req.sendMsg(b"q", timeout=5)
        self.factory.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertEqual(self.timers(), [])

    def test_connectionShutdownClosesSocket(self) -> None:
        """
        L{ZmqConnection.shutdown} closes the fake socket (which then refuses
        every operation, as a closed C{zmq.Socket} does) and stops reading.
        """
        pull = ZmqPullConnection(self.factory)
        pull.shutdown()
        self.assertTrue(pull.socket.closed)
        self.assertFalse(self.factory.context.terminated)
        self.assertNotIn(pull, self.reactor.getReaders())
        e = self.assertRaises(zmq.ZMQError, pull.socket.get, zmq.EVENTS)
        self.assertEqual(e.errno, zmq.ENOTSOCK)
        self.assertRaises(zmq.ZMQError, pull.socket.send, b"x")
        self.assertRaises(zmq.ZMQError, pull.socket.recv)
        self.assertRaises(zmq.ZMQError, pull.socket.bind, "inproc://x")

    def test_fakeContextDirectly(self) -> None:
        context = FakeContext()
        socket = context.socket(zmq.PUSH)
        self.assertIsInstance(socket, FakeSocket)
        self.assertEqual(socket.socketType, zmq.PUSH)
        self.assertEqual(context.sockets, [socket])
        self.assertFalse(context.terminated)
        context.term()
        self.assertTrue(context.terminated)

    def test_registerForShutdown(self) -> None:
        """
        Code under test that calls C{registerForShutdown()} (usual at
        start-up) works on a fake factory: shutting the factory down
        later does not fail.
        """
        self.factory.registerForShutdown()
        self.factory.shutdown()
        self.assertTrue(self.factory.context.terminated)

    def test_terminate(self) -> None:
        """
        C{terminate()} (what L{txzmq.service.ZmqService} calls when it
        stops) works on a fake factory and terminates the fake context.
        """
        ZmqPushConnection(self.factory)
        d = self.factory.terminate()
        self.successResultOf(d)
        self.assertTrue(self.factory.context.terminated)


# ---------------------------------------------------------------------------
# sent()


class SentTests(_FakeCase):
    def test_nothingSent(self) -> None:
        self.assertEqual(self.factory.sent(ZmqPushConnection(self.factory)), [])

    def test_oldestFirst(self) -> None:
        push = ZmqPushConnection(self.factory)
        push.push(b"one")
        push.push([b"two", b"parts"])
        push.send(b"three")
        self.assertEqual(
            self.factory.sent(push), [[b"one"], [b"two", b"parts"], [b"three"]]
        )

    def test_sentRightAway(self) -> None:
        """
        A message is in C{sent()} as soon as the send returns: no reactor
        turn is needed.
        """
        push = ZmqPushConnection(self.factory)
        push.push(b"x")
        self.assertEqual(self.factory.sent(push), [[b"x"]])

    def test_aCopy(self) -> None:
        """
        C{sent()} returns a new list each time: a test may change it.
        """
        push = ZmqPushConnection(self.factory)
        push.push(b"x")
        first = self.factory.sent(push)
        first.append([b"not sent"])
        self.assertEqual(self.factory.sent(push), [[b"x"]])
        self.assertEqual(push.socket.sentMessages, [[b"x"]])

    def test_bytesLikeFramesRecordedAsBytes(self) -> None:
        """
        Whatever bytes-like frames the code sends, C{sent()} shows
        C{bytes}.
        """
        dealer = ZmqDealerConnection(self.factory)
        dealer.send([bytearray(b"a"), memoryview(b"b"), zmq.Frame(b"c"), b"d"])
        sent = self.factory.sent(dealer)
        self.assertEqual(sent, [[b"a", b"b", b"c", b"d"]])
        for frame in sent[0]:
            self.assertIs(type(frame), bytes)

    def test_perConnection(self) -> None:
        a = ZmqPushConnection(self.factory)
        b = ZmqPushConnection(self.factory)
        a.push(b"for a")
        self.assertEqual(self.factory.sent(a), [[b"for a"]])
        self.assertEqual(self.factory.sent(b), [])

    def test_badMessageNotSent(self) -> None:
        """
        A message the connection refuses (a str frame) never reaches the
        fake socket, not even its first frames.
        """
        dealer = ZmqDealerConnection(self.factory)
        self.assertRaises(TypeError, dealer.sendMultipart, [b"ok", "text"])
        self.assertRaises(TypeError, dealer.send, "text")
        self.assertRaises(ValueError, dealer.send, [])
        self.assertEqual(self.factory.sent(dealer), [])

    def test_sentAfterShutdown(self) -> None:
        """
        What was sent is still there after the connection is shut down.
        """
        push = ZmqPushConnection(self.factory)
        push.push(b"x")
        push.shutdown()
        self.assertEqual(self.factory.sent(push), [[b"x"]])

    def test_notAFakeConnection(self) -> None:
        """
        A connection of a real L{ZmqFactory} is refused with a
        L{TypeError} that says why.
        """
        real = ZmqFactory(MemoryReactorClock())
        self.addCleanup(real.shutdown)
        push = ZmqPushConnection(real)
        e = self.assertRaises(TypeError, self.factory.sent, push)
        self.assertIn("FakeSocket", str(e))
        self.assertIn("FakeFactory", str(e))
        self.assertRaises(TypeError, self.factory.deliver, push, [b"x"])
        self.assertRaises(TypeError, self.factory.reply, push, b"x")
        self.assertRaises(TypeError, self.factory.setRoom, push, 0)


# ---------------------------------------------------------------------------
# deliver()


class DeliverTests(_FakeCase):
    def test_deliveredNow(self) -> None:
        """
        The message reaches the callback before C{deliver()} returns,
        without advancing the clock.
        """
        pull = RecordingPull(self.factory)
        self.factory.deliver(pull, [b"hello"])
        self.assertEqual(pull.pulled, [[b"hello"]])

    def test_severalInOrder(self) -> None:
        pull = RecordingPull(self.factory)
        self.factory.deliver(pull, [b"1"], [b"2", b"two"], (b"3",))
        self.factory.deliver(pull, [b"4"])
        self.assertEqual(pull.pulled, [[b"1"], [b"2", b"two"], [b"3"], [b"4"]])

    def test_beforeFirstTurn(self) -> None:
        """
        Delivering right after the constructor (before the pass it
        scheduled) delivers once, and leaves no pass behind.
        """
        pull = RecordingPull(self.factory)
        self.factory.deliver(pull, [b"x"])
        self.reactor.advance(0)
        self.assertEqual(pull.pulled, [[b"x"]])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_emptyFrames(self) -> None:
        pull = RecordingPull(self.factory)
        self.factory.deliver(pull, [b""], [b"", b""])
        self.assertEqual(pull.pulled, [[b""], [b"", b""]])

    def test_badMessages(self) -> None:
        """
        A message must be a list (or tuple) of C{bytes} frames: anything
        else is a L{TypeError}, and nothing is delivered.
        """
        pull = RecordingPull(self.factory)
        for bad in (
            b"bytes, not a list",
            "text",
            ["text frame"],
            [b"ok", "text frame"],
            [bytearray(b"bytearray")],
            [memoryview(b"view")],
            [None],
            None,
            5,
        ):
            self.assertRaises(TypeError, self.factory.deliver, pull, bad)
        self.reactor.advance(0)
        self.assertEqual(pull.pulled, [])
        self.assertEqual(list(fake(pull).incoming), [])

    def test_typeErrorMessage(self) -> None:
        pull = RecordingPull(self.factory)
        e = self.assertRaises(TypeError, self.factory.deliver, pull, b"x")
        self.assertIn("list of bytes frames", str(e))

    def test_badMessageAmongGoodOnes(self) -> None:
        """
        When one of several messages is bad, none is delivered (the test
        would otherwise go on with half of what it meant to deliver).
        """
        pull = RecordingPull(self.factory)
        self.assertRaises(TypeError, self.factory.deliver, pull, [b"ok"], "bad")
        self.reactor.advance(0)
        self.assertEqual(pull.pulled, [])

    def test_emptyMessage(self) -> None:
        """
        A message needs at least one frame: C{[]} is refused like other
        bad messages, before anything reaches the connection.
        """
        pull = RecordingPull(self.factory)
        self.assertRaises((TypeError, ValueError), self.factory.deliver, pull, [])
        self.factory.deliver(pull, [b"next"])
        self.assertEqual(pull.pulled, [[b"next"]])

    def test_readBatchSize(self) -> None:
        """
        A connection reads at most C{readBatchSize} messages per pass, on
        fakes too: the rest arrive on the next reactor turn.
        """
        pull = RecordingPull(self.factory, readBatchSize=2)
        self.factory.deliver(pull, [b"1"], [b"2"], [b"3"], [b"4"], [b"5"])
        self.assertEqual(pull.pulled, [[b"1"], [b"2"]])
        self.reactor.advance(0)
        self.assertEqual(pull.pulled, [[b"1"], [b"2"], [b"3"], [b"4"], [b"5"]])

    def test_paused(self) -> None:
        """
        A paused connection (C{pauseProducing}) reads nothing; the messages
        wait and arrive after C{resumeProducing} and a reactor turn.
        """
        pull = RecordingPull(self.factory)
        pull.pauseProducing()
        self.factory.deliver(pull, [b"waiting"])
        self.assertEqual(pull.pulled, [])
        pull.resumeProducing()
        self.reactor.advance(0)
        self.assertEqual(pull.pulled, [[b"waiting"]])

    def test_callbackErrorLogged(self) -> None:
        """
        An exception in the code under test is logged (as it would be on a
        real socket), not raised from C{deliver()}; the next message is
        still delivered.
        """

        class Fragile(ZmqPullConnection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.seen: list[list[bytes]] = []
                super().__init__(*args, **kwargs)

            def onPull(self, message: list[bytes]) -> None:
                self.seen.append(message)
                if message == [b"boom"]:
                    raise RuntimeError("boom")

        pull = Fragile(self.factory)
        with capturedLogs() as events:
            self.factory.deliver(pull, [b"boom"], [b"after"])
        self.assertEqual(pull.seen, [[b"boom"], [b"after"]])
        errors = fromSource(events, pull, LogLevel.critical)
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0]["log_failure"].value, RuntimeError)
        self.flushLoggedErrors(RuntimeError)

    def test_shutdownFromCallback(self) -> None:
        """
        A callback that shuts its connection down stops the delivery.
        """

        class OneShot(RecordingPull):
            def onPull(self, message: list[Any]) -> None:
                super().onPull(message)
                self.shutdown()

        pull = OneShot(self.factory)
        self.factory.deliver(pull, [b"1"], [b"2"])
        self.assertEqual(pull.pulled, [[b"1"]])
        self.assertTrue(pull.closed)


# ---------------------------------------------------------------------------
# FakeSocket and FakeFrame on their own


class FakeFrameTests(SynchronousTestCase):
    def test_attributes(self) -> None:
        frame = FakeFrame(b"abc", True)
        self.assertEqual(frame.bytes, b"abc")
        self.assertTrue(frame.more)
        self.assertEqual(len(frame), 3)
        self.assertIsInstance(frame.buffer, memoryview)
        self.assertEqual(frame.buffer.tobytes(), b"abc")
        self.assertFalse(FakeFrame(b"", False).more)


class FakeSocketTests(SynchronousTestCase):
    def test_moreFlags(self) -> None:
        """
        A delivered multipart message is received frame by frame, each but
        the last with C{more} set, as C{recv(copy=False)} gives them.
        """
        socket = FakeSocket(zmq.PULL)
        socket.incoming.append([b"a", b"b", b"c"])
        socket.incoming.append([b"single"])
        frames = [socket.recv(zmq.NOBLOCK, copy=False) for _ in range(4)]
        self.assertEqual(
            [(f.bytes, f.more) for f in frames],
            [(b"a", True), (b"b", True), (b"c", False), (b"single", False)],
        )
        self.assertRaises(zmq.Again, socket.recv, zmq.NOBLOCK)

    def test_recvCopy(self) -> None:
        socket = FakeSocket(zmq.PULL)
        socket.incoming.append([b"a", b"b"])
        self.assertEqual(socket.recv(), b"a")
        self.assertEqual(socket.recv(), b"b")

    def test_recvMultipart(self) -> None:
        socket = FakeSocket(zmq.PULL)
        socket.incoming.extend([[b"a", b"b"], [b"c"]])
        self.assertEqual(socket.recv_multipart(), [b"a", b"b"])
        self.assertEqual(socket.recv_multipart(), [b"c"])
        self.assertRaises(zmq.Again, socket.recv_multipart)

    def test_againIsAZmqError(self) -> None:
        e = self.assertRaises(zmq.Again, FakeSocket(zmq.PULL).recv)
        self.assertEqual(e.errno, zmq.EAGAIN)

    def test_events(self) -> None:
        """
        C{EVENTS} shows C{POLLIN} while something waits to be received and
        C{POLLOUT} while there is room.
        """
        socket = FakeSocket(zmq.DEALER)
        self.assertEqual(socket.get(zmq.EVENTS), zmq.POLLOUT)
        socket.incoming.append([b"a", b"b"])
        self.assertEqual(socket.get(zmq.EVENTS), zmq.POLLIN | zmq.POLLOUT)
        socket.recv()
        # Half a message taken: the rest still counts.
        self.assertEqual(socket.get(zmq.EVENTS), zmq.POLLIN | zmq.POLLOUT)
        socket.recv()
        socket.room = 0
        self.assertEqual(socket.get(zmq.EVENTS), 0)
        socket.room = 1
        self.assertEqual(socket.get(zmq.EVENTS), zmq.POLLOUT)

    def test_sendRecordsWholeMessages(self) -> None:
        socket = FakeSocket(zmq.DEALER)
        socket.send(b"a", zmq.SNDMORE)
        self.assertEqual(socket.sentMessages, [])
        socket.send(b"b")
        socket.send_multipart([b"c", b"d"])
        socket.send(FakeFrame(b"e", False))
        self.assertEqual(socket.sentMessages, [[b"a", b"b"], [b"c", b"d"], [b"e"]])

    def test_roomCountsMessages(self) -> None:
        """
        C{room} counts whole messages: a multipart message takes one, and
        only its first frame can be refused, as in libzmq.
        """
        socket = FakeSocket(zmq.DEALER)
        socket.room = 2
        socket.send_multipart([b"a", b"b", b"c"])
        self.assertEqual(socket.room, 1)
        socket.send(b"d", zmq.SNDMORE)
        socket.room = 0  # the rest of a started message still goes
        socket.send(b"e")
        self.assertEqual(socket.sentMessages, [[b"a", b"b", b"c"], [b"d", b"e"]])
        self.assertRaises(zmq.Again, socket.send, b"f")
        self.assertRaises(zmq.Again, socket.send_multipart, [b"g", b"h"])
        self.assertEqual(len(socket.sentMessages), 2)

    def test_options(self) -> None:
        socket = FakeSocket(zmq.DEALER)
        self.assertEqual(socket.get(zmq.SNDHWM), 0)
        socket.set(zmq.SNDHWM, 5)
        socket.setsockopt(zmq.IDENTITY, b"me")
        self.assertEqual(socket.getsockopt(zmq.SNDHWM), 5)
        self.assertEqual(socket.get(zmq.IDENTITY), b"me")
        self.assertEqual(socket.getsockopt_string(zmq.IDENTITY), "me")
        self.assertEqual(socket.options, {zmq.SNDHWM: 5, zmq.IDENTITY: b"me"})

    def test_endpoints(self) -> None:
        socket = FakeSocket(zmq.PULL)
        socket.bind("ipc:///tmp/x")
        socket.connect("tcp://example.com:1")
        self.assertEqual(socket.bound, ["ipc:///tmp/x"])
        self.assertEqual(socket.connected, ["tcp://example.com:1"])

    def test_lastEndpointResolvesPort(self) -> None:
        """
        A tcp bind to port C{*} gets a port number, different for each
        bind, which C{LAST_ENDPOINT} reports; C{bound} keeps the addresses
        as given.
        """
        socket = FakeSocket(zmq.PULL)
        self.assertEqual(socket.get(zmq.LAST_ENDPOINT), b"")
        socket.bind("tcp://127.0.0.1:*")
        first = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        host, _, port = first.rpartition(":")
        self.assertEqual(host, "tcp://127.0.0.1")
        self.assertTrue(port.isdigit(), first)
        socket.bind("tcp://127.0.0.1:*")
        second = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.assertNotEqual(first, second)
        socket.bind("tcp://127.0.0.1:5555")
        self.assertEqual(socket.get(zmq.LAST_ENDPOINT), b"tcp://127.0.0.1:5555")
        self.assertEqual(socket.bound[:2], ["tcp://127.0.0.1:*"] * 2)

    def test_lastEndpointWildcardHost(self) -> None:
        """
        libzmq reports a bind to C{tcp://*:*} as C{tcp://0.0.0.0:PORT}.
        """
        socket = FakeSocket(zmq.PULL)
        socket.bind("tcp://*:*")
        self.assertTrue(
            socket.getsockopt_string(zmq.LAST_ENDPOINT).startswith("tcp://0.0.0.0:")
        )

    def test_lastEndpointAfterConnect(self) -> None:
        """
        libzmq (4.x) sets C{LAST_ENDPOINT} on connect too.
        """
        socket = FakeSocket(zmq.PUSH)
        socket.connect("tcp://127.0.0.1:1")
        self.assertEqual(socket.get(zmq.LAST_ENDPOINT), b"tcp://127.0.0.1:1")

    def test_socketType(self) -> None:
        """
        C{get(zmq.TYPE)} answers the socket type, as on a C{zmq.Socket}.
        """
        self.assertEqual(FakeSocket(zmq.ROUTER).get(zmq.TYPE), zmq.ROUTER)

    def test_noMonitor(self) -> None:
        socket = FakeSocket(zmq.PULL)
        self.assertRaises(NotImplementedError, socket.monitor, "inproc://m", 0)
        socket.disable_monitor()

    def test_closed(self) -> None:
        socket = FakeSocket(zmq.PULL)
        socket.close(linger=0)
        self.assertTrue(socket.closed)
        for call in (
            lambda: socket.get(zmq.EVENTS),
            lambda: socket.set(zmq.LINGER, 0),
            lambda: socket.send(b"x"),
            lambda: socket.recv(),
            lambda: socket.connect("inproc://x"),
        ):
            e = self.assertRaises(zmq.ZMQError, call)
            self.assertEqual(e.errno, zmq.ENOTSOCK)


# ---------------------------------------------------------------------------
# Endpoints and options through connections


class ConnectionSocketTests(_FakeCase):
    def test_endpointsRecorded(self) -> None:
        """
        Binds and connects are recorded, whichever way they were given.
        """
        # (The annotations name ZmqEndpoint only; strings work too.)
        dealer = ZmqDealerConnection(
            self.factory,
            "bind:ipc:///tmp/a",  # type: ignore[arg-type]
        )
        dealer.addEndpoints(
            [
                ZmqEndpoint(ZmqEndpointType.connect, "tcp://host:1"),
                "connect:inproc://b",  # type: ignore[list-item]
            ]
        )
        self.assertEqual(dealer.socket.bound, ["ipc:///tmp/a"])
        self.assertEqual(dealer.socket.connected, ["tcp://host:1", "inproc://b"])

    def test_boundPortResolved(self) -> None:
        """
        Code that binds to a random tcp port and reads the port back with
        C{LAST_ENDPOINT} gets one.
        """
        pull = ZmqPullConnection(self.factory, bind("tcp://127.0.0.1:*"))
        address = pull.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.assertRegex(address, r"^tcp://127\.0\.0\.1:\d+$")
        self.assertEqual(pull.socket.bound, ["tcp://127.0.0.1:*"])
        self.assertEqual(pull.endpoints[0].address, "tcp://127.0.0.1:*")

    def test_wildcardBindPort(self) -> None:
        pull = ZmqPullConnection(self.factory, bind("tcp://*:*"))
        self.assertRegex(
            pull.socket.getsockopt_string(zmq.LAST_ENDPOINT), r"^tcp://.+:\d+$"
        )

    def test_settingsBecomeOptions(self) -> None:
        dealer = ZmqDealerConnection(
            self.factory, identity=b"me", highWaterMark=5, lingerPeriod=7
        )
        options = fake(dealer).options
        self.assertEqual(options[zmq.IDENTITY], b"me")
        self.assertEqual(options[zmq.SNDHWM], 5)
        self.assertEqual(options[zmq.RCVHWM], 5)
        self.assertEqual(options[zmq.LINGER], 7)

    def test_subscriptionsSetOnSocket(self) -> None:
        sub = RecordingSub(self.factory)
        sub.subscribe(b"news")
        self.assertEqual(fake(sub).options[zmq.SUBSCRIBE], b"news")
        sub.unsubscribe(b"news")
        self.assertEqual(fake(sub).options[zmq.UNSUBSCRIBE], b"news")

    def test_monitorNotSupported(self) -> None:
        """
        Fakes have no connection events: monitoring fails with
        L{NotImplementedError}, and a constructor that asked for it
        leaves nothing behind.
        """
        pull = ZmqPullConnection(self.factory)
        self.assertRaises(NotImplementedError, pull.enableMonitor)
        self.assertRaises(NotImplementedError, pull.whenConnected)
        self.assertRaises(
            NotImplementedError,
            ZmqPullConnection,
            self.factory,
            monitorEvents=zmq.EVENT_ALL,
        )
        self.assertEqual(self.factory.connections, {pull})
        self.assertTrue(fakeContext(self.factory).sockets[-1].closed)
        # inproc peers produce no events anyway: that works.
        self.successResultOf(pull.whenConnected("inproc://anything"))


# ---------------------------------------------------------------------------
# Every pattern on a FakeFactory


class PushPullTests(_FakeCase):
    def test_push(self) -> None:
        push = ZmqPushConnection(self.factory, connect("tcp://workers:5555"))
        push.push(b"job")
        push.push([b"job", b"with", b"parts"])
        self.assertEqual(
            self.factory.sent(push), [[b"job"], [b"job", b"with", b"parts"]]
        )

    def test_pushCodec(self) -> None:
        push = ZmqPushConnection(self.factory, codec=jsonCodec)
        push.push({"n": 1})
        self.assertEqual(self.factory.sent(push), [[b'{"n":1}']])

    def test_pull(self) -> None:
        pull = RecordingPull(self.factory, "bind:tcp://*:5555")
        self.factory.deliver(pull, [b"job"], [b"a", b"b"])
        self.assertEqual(pull.pulled, [[b"job"], [b"a", b"b"]])

    def test_pullCodec(self) -> None:
        pull = RecordingPull(self.factory, codec=jsonCodec)
        with capturedLogs() as events:
            self.factory.deliver(pull, [b'{"n":1}', b"[2]"], [b"not json"])
        self.assertEqual(pull.pulled, [[{"n": 1}, [2]]])
        self.assertEqual(len(fromSource(events, pull, LogLevel.warn)), 1)

    def test_pushIsSendOnly(self) -> None:
        push = ZmqPushConnection(self.factory)
        self.assertRaises(TypeError, push.receive)


class PubSubTests(_FakeCase):
    def test_publishWireFormat(self) -> None:
        pub = ZmqPubConnection(self.factory, bind("tcp://*:5556"))
        pub.publish(b"body", b"tag")
        pub.publish(b"untagged")
        pub.publish("caf\xe9", "t\xe9")
        self.assertEqual(
            self.factory.sent(pub),
            [[b"tag\0body"], [b"\0untagged"], [b"t\xc3\xa9\0caf\xc3\xa9"]],
        )

    def test_publishRepeatedTags(self) -> None:
        """
        A tag published again takes the fast path with the frame it had
        the first time; bytes and text tags, and other messages under a
        known tag (text, a codec), keep their own framing.
        """
        pub = ZmqPubConnection(self.factory)
        for body in (b"1", b"2", "3"):
            pub.publish(body, b"tag")
            pub.publish(body, "tag")
        pub.publish(b"4", b"")
        pub.publish(b"5", b"")
        self.assertEqual(
            self.factory.sent(pub),
            [[b"tag\0" + n] for n in (b"1", b"1", b"2", b"2", b"3", b"3")]
            + [[b"\x004"], [b"\x005"]],
        )

    def test_publishRefusesSeparatorEveryTime(self) -> None:
        """A tag containing the separator is refused each time, never sent."""
        pub = ZmqPubConnection(self.factory)
        for _ in range(2):
            self.assertRaises(ValueError, pub.publish, b"body", b"a\0b")
        self.assertEqual(self.factory.sent(pub), [])

    def test_publishSeparatorChanged(self) -> None:
        """
        After C{setSocketOptions(topicSep=...)}, tags published before are
        framed, and checked, with the new separator.
        """
        pub = ZmqPubConnection(self.factory)
        pub.publish(b"1", b"a|b")
        pub.setSocketOptions(topicSep=b"|")
        self.assertRaises(ValueError, pub.publish, b"2", b"a|b")
        pub.publish(b"3", b"a\0b")
        self.assertEqual(self.factory.sent(pub), [[b"a|b\x001"], [b"a\0b|3"]])

    def test_publishManyTags(self) -> None:
        """More distinct tags than are remembered are all framed right."""
        pub = ZmqPubConnection(self.factory)
        count = ZmqPubConnection._MAX_PREFIXES * 2 + 3
        for _ in range(2):
            for n in range(count):
                pub.publish(b"m", b"%d" % n)
        self.assertEqual(
            self.factory.sent(pub), [[b"%d\0m" % n] for n in range(count)] * 2
        )
        self.assertLessEqual(len(pub._topicPrefixes), ZmqPubConnection._MAX_PREFIXES)

    def test_publishCodecAndSeparator(self) -> None:
        pub = ZmqPubConnection(self.factory, codec=jsonCodec, topicSep=b"|")
        pub.publish({"t": 21.5}, b"temp")
        self.assertEqual(self.factory.sent(pub), [[b'temp|{"t":21.5}']])

    def test_subscribe(self) -> None:
        sub = RecordingSub(self.factory, "connect:tcp://hub:5556")
        sub.subscribe(b"temp")
        self.factory.deliver(sub, [b"temp.kitchen\x0021.5"], [b"temp", b"two frames"])
        self.assertEqual(
            sub.received, [(b"21.5", b"temp.kitchen"), (b"two frames", b"temp")]
        )

    def test_subscribeCodec(self) -> None:
        sub = RecordingSub(self.factory, codec=jsonCodec)
        sub.subscribe(b"")
        self.factory.deliver(sub, [b'temp\x00{"c":21.5}'])
        self.assertEqual(sub.received, [({"c": 21.5}, b"temp")])

    def test_malformedDroppedAndLogged(self) -> None:
        sub = RecordingSub(self.factory)
        with capturedLogs() as events:
            self.factory.deliver(
                sub, [b"no separator"], [b"a", b"b", b"c"], [b"tag\0ok"]
            )
        self.assertEqual(sub.received, [(b"ok", b"tag")])
        warnings = fromSource(events, sub, LogLevel.warn)
        self.assertEqual(len(warnings), 2)
        self.assertIn("malformed published message", formatEvent(warnings[0]))

    def test_noFiltering(self) -> None:
        """
        The fake socket does not filter by subscription: what the test
        delivers arrives, as if the publisher had matched it.  (A test
        delivers what the real socket would let through.)
        """
        sub = RecordingSub(self.factory)
        sub.subscribe(b"news")
        self.factory.deliver(sub, [b"sports\0not subscribed"])
        self.assertEqual(sub.received, [(b"not subscribed", b"sports")])

    def test_xsub(self) -> None:
        """
        An XSUB sends its subscriptions as messages and receives like a
        SUB.
        """
        xsub = RecordingXSub(self.factory)
        xsub.subscribe(b"temp")
        xsub.unsubscribe(b"temp")
        self.assertEqual(self.factory.sent(xsub), [[b"\x01temp"], [b"\x00temp"]])
        self.factory.deliver(xsub, [b"temp\0x"])
        self.assertEqual(xsub.received, [(b"x", b"temp")])

    def test_receiveNotOverridden(self) -> None:
        sub = ZmqSubConnection(self.factory)
        self.factory.deliver(sub, [b"t\0m"])
        self.assertEqual(self.successResultOf(sub.receive()), (b"m", b"t"))


class XPubTests(_FakeCase):
    def test_subscriptionsAsFrames(self) -> None:
        """
        A subscriber's subscription is delivered as C{[b"\\x01" + topic]},
        an unsubscription as C{[b"\\x00" + topic]}.
        """
        xpub = RecordingXPub(self.factory)
        self.factory.deliver(xpub, [b"\x01temp"], [b"\x01"], [b"\x00temp"])
        self.assertEqual(
            xpub.subscriptions, [(b"temp", True), (b"", True), (b"temp", False)]
        )
        self.assertEqual(xpub.activeSubscriptions, frozenset([b""]))

    def test_whenSubscribed(self) -> None:
        xpub = ZmqXPubConnection(self.factory)
        d = xpub.whenSubscribed(b"temp.kitchen")
        self.factory.deliver(xpub, [b"\x01news"])
        self.assertNoResult(d)
        self.factory.deliver(xpub, [b"\x01temp"])
        self.assertEqual(self.successResultOf(d), b"temp")
        # Already subscribed: at once.
        self.assertEqual(self.successResultOf(xpub.whenSubscribed(b"temp.x")), b"temp")
        xpub.publish(b"21.5", b"temp.kitchen")
        self.assertEqual(self.factory.sent(xpub), [[b"temp.kitchen\x0021.5"]])

    def test_whenSubscribedTimeout(self) -> None:
        xpub = ZmqXPubConnection(self.factory)
        d = xpub.whenSubscribed(b"temp", timeout=3)
        self.reactor.advance(2.9)
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        self.failureResultOf(d, defer.TimeoutError)

    def test_whenSubscribedShutdown(self) -> None:
        xpub = ZmqXPubConnection(self.factory)
        d = xpub.whenSubscribed(b"temp")
        xpub.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)

    def test_malformedSubscription(self) -> None:
        xpub = RecordingXPub(self.factory)
        with capturedLogs() as events:
            self.factory.deliver(xpub, [b"\x02bad"], [b"\x01a", b"b"], [b"\x01ok"])
        self.assertEqual(xpub.subscriptions, [(b"ok", True)])
        self.assertEqual(len(fromSource(events, xpub, LogLevel.warn)), 2)

    def test_receiveNotOverridden(self) -> None:
        xpub = ZmqXPubConnection(self.factory)
        self.factory.deliver(xpub, [b"\x01t"])
        self.assertEqual(self.successResultOf(xpub.receive()), (b"t", True))


class REQTests(_FakeCase):
    def test_sentFrames(self) -> None:
        """
        A request goes out as C{[requestId, b"", *parts]}.
        """
        req = ZmqREQConnection(self.factory, "connect:tcp://server:5557")
        d = req.sendMsg(b"a", b"b")
        [[requestId, delimiter, *parts]] = self.factory.sent(req)
        self.assertEqual(delimiter, b"")
        self.assertEqual(parts, [b"a", b"b"])
        self.assertTrue(requestId)
        req.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)

    def test_reply(self) -> None:
        req = ZmqREQConnection(self.factory)
        d = req.sendMsg(b"q")
        self.assertNoResult(d)
        self.factory.reply(req, b"r1", b"r2")
        self.assertEqual(self.successResultOf(d), [b"r1", b"r2"])

    def test_emptyReply(self) -> None:
        req = ZmqREQConnection(self.factory)
        d = req.sendMsg(b"q")
        self.factory.reply(req)
        self.assertEqual(self.successResultOf(d), [])

    def test_replyInSendOrder(self) -> None:
        req = ZmqREQConnection(self.factory)
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2")
        self.factory.reply(req, b"for 1")
        self.assertNoResult(d2)
        self.factory.reply(req, b"for 2")
        self.assertEqual(self.successResultOf(d1), [b"for 1"])
        self.assertEqual(self.successResultOf(d2), [b"for 2"])

    def test_replyOutOfOrderWithDeliver(self) -> None:
        """
        For any other order, a test delivers the reply frames itself, with
        the request id taken from C{sent()}.
        """
        req = ZmqREQConnection(self.factory)
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2")
        id1, id2 = (frames[0] for frames in self.factory.sent(req))
        self.factory.deliver(req, [id2, b"", b"for 2"], [id1, b"", b"for 1"])
        self.assertEqual(self.successResultOf(d1), [b"for 1"])
        self.assertEqual(self.successResultOf(d2), [b"for 2"])

    def test_everythingAnswered(self) -> None:
        req = ZmqREQConnection(self.factory)
        e = self.assertRaises(ValueError, self.factory.reply, req, b"r")
        self.assertIn("answered", str(e))
        d = req.sendMsg(b"q")
        self.factory.reply(req, b"r")
        self.successResultOf(d)
        self.assertRaises(ValueError, self.factory.reply, req, b"again")

    def test_replyBadPartKeepsRequest(self) -> None:
        """
        A C{reply()} refused for a bad part does not use the request up:
        the next C{reply()} still answers it.
        """
        req = ZmqREQConnection(self.factory)
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2")
        self.assertRaises(TypeError, self.factory.reply, req, "text")
        self.factory.reply(req, b"for 1")
        self.assertEqual(self.successResultOf(d1), [b"for 1"])
        self.assertNoResult(d2)
        self.factory.reply(req, b"for 2")
        self.assertEqual(self.successResultOf(d2), [b"for 2"])

    def test_timeout(self) -> None:
        req = ZmqREQConnection(self.factory)
        d = req.sendMsg(b"q", timeout=5)
        self.reactor.advance(4.9)
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        failure = self.failureResultOf(d, ZmqRequestTimeoutError)
        self.assertIn("within 5 s", str(failure.value))
        self.assertEqual(self.timers(), [])

    def test_replyToTimedOutRequestDropped(self) -> None:
        """
        C{reply()} answers requests in the order they were sent, including
        ones that timed out (as a slow server would): that reply is dropped
        by the connection, and the next C{reply()} answers the newer
        request.
        """
        req = ZmqREQConnection(self.factory)
        d1 = req.sendMsg(b"old", timeout=5)
        self.reactor.advance(5)
        self.failureResultOf(d1, ZmqRequestTimeoutError)
        d2 = req.sendMsg(b"new", timeout=5)
        with capturedLogs() as events:
            self.factory.reply(req, b"late")
        self.assertNoResult(d2)
        self.assertEqual(len(fromSource(events, req, LogLevel.debug)), 1)
        self.factory.reply(req, b"fresh")
        self.assertEqual(self.successResultOf(d2), [b"fresh"])
        self.assertEqual(self.timers(), [])

    def test_defaultRequestTimeout(self) -> None:
        class Impatient(ZmqREQConnection):
            defaultRequestTimeout = 2.0

        req = Impatient(self.factory)
        d = req.sendMsg(b"q")
        self.reactor.advance(2)
        self.failureResultOf(d, ZmqRequestTimeoutError)

    def test_cancel(self) -> None:
        req = ZmqREQConnection(self.factory)
        d = req.sendMsg(b"q", timeout=5)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.timers(), [])
        self.factory.reply(req, b"anyway")  # dropped

    def test_codec(self) -> None:
        req = ZmqREQConnection(self.factory, codec=jsonCodec)
        d = req.sendMsg({"get": "kitchen"})
        [[_, _, body]] = self.factory.sent(req)
        self.assertEqual(jsonCodec.decode(body), {"get": "kitchen"})
        self.factory.reply(req, jsonCodec.encode({"c": 21.5}))
        self.assertEqual(self.successResultOf(d), [{"c": 21.5}])

    def test_maxInFlight(self) -> None:
        """
        Requests held back by C{maxInFlight} are not sent, so C{sent()}
        and C{reply()} only see the ones that were.
        """
        req = ZmqREQConnection(self.factory, maxInFlight=1)
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2")
        self.assertEqual(len(self.factory.sent(req)), 1)
        self.assertEqual(req.requestsWaiting, 1)
        self.factory.reply(req, b"r1")
        self.assertEqual(self.successResultOf(d1), [b"r1"])
        self.assertEqual(
            [frames[2:] for frames in self.factory.sent(req)], [[b"1"], [b"2"]]
        )
        self.factory.reply(req, b"r2")
        self.assertEqual(self.successResultOf(d2), [b"r2"])

    def test_shutdownFailsPending(self) -> None:
        req = ZmqREQConnection(self.factory)
        d = req.sendMsg(b"q")
        req.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)


class REPTests(_FakeCase):
    def test_request(self) -> None:
        """
        A request is delivered as a REQ connection's peer sends it to the
        ROUTER socket: C{[peer, requestId, b"", *parts]}.
        """
        rep = RecordingREP(self.factory, "bind:tcp://*:5557")
        self.factory.deliver(rep, [b"peer", b"id-1", b"", b"q", b"more"])
        self.assertEqual(rep.requests, [(b"id-1", [b"q", b"more"])])

    def test_reply(self) -> None:
        rep = RecordingREP(self.factory)
        self.factory.deliver(rep, [b"peer", b"id-1", b"", b"q"])
        rep.reply(b"id-1", b"r")
        self.assertEqual(self.factory.sent(rep), [[b"peer", b"id-1", b"", b"r"]])

    def test_returnedReply(self) -> None:
        class Upper(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
                return [part.upper() for part in parts]

        rep = Upper(self.factory)
        self.factory.deliver(rep, [b"peer", b"id", b"", b"a", b"b"])
        self.assertEqual(self.factory.sent(rep), [[b"peer", b"id", b"", b"A", b"B"]])

    def test_returnedDeferred(self) -> None:
        """
        A reply returned as a Deferred is sent when it fires: the test
        controls when, with the clock.
        """
        reactor = self.reactor

        class Slow(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
                d: Deferred[bytes] = Deferred()
                reactor.callLater(3, d.callback, b"done")
                return d

        rep = Slow(self.factory)
        self.factory.deliver(rep, [b"peer", b"id", b"", b"q"])
        self.reactor.advance(2)
        self.assertEqual(self.factory.sent(rep), [])
        self.reactor.advance(1)
        self.assertEqual(self.factory.sent(rep), [[b"peer", b"id", b"", b"done"]])

    def test_codec(self) -> None:
        class Doubler(ZmqREPConnection):
            codec = jsonCodec

            def gotMessage(self, messageId: bytes, value: Any) -> Any:
                return {"double": value * 2}

        rep = Doubler(self.factory)
        self.factory.deliver(rep, [b"peer", b"id", b"", b"21"])
        self.assertEqual(
            self.factory.sent(rep), [[b"peer", b"id", b"", b'{"double":42}']]
        )

    def test_receiveNotOverridden(self) -> None:
        rep = ZmqREPConnection(self.factory)
        self.factory.deliver(rep, [b"peer", b"id", b"", b"q"])
        self.assertEqual(self.successResultOf(rep.receive()), (b"id", b"q"))
        rep.reply(b"id", b"r")
        self.assertEqual(self.factory.sent(rep), [[b"peer", b"id", b"", b"r"]])

    def test_reqAgainstRep(self) -> None:
        """
        Two fakes are not connected to each other, but a test can carry
        the frames across: what a REQ sent, prefixed with a peer identity,
        is what a REP receives, and the REP's reply without it is what
        the REQ receives.
        """

        class Echo(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
                return [b"echo: " + b" ".join(parts)]

        req = ZmqREQConnection(self.factory)
        rep = Echo(self.factory)
        d = req.sendMsg(b"hello", b"world")
        for frames in self.factory.sent(req):
            self.factory.deliver(rep, [b"client", *frames])
        for peer, *frames in self.factory.sent(rep):
            self.assertEqual(peer, b"client")
            self.factory.deliver(req, frames)
        self.assertEqual(self.successResultOf(d), [b"echo: hello world"])


class RouterDealerPairTests(_FakeCase):
    def test_router(self) -> None:
        router = RecordingRouter(self.factory, "bind:tcp://*:5558")
        self.factory.deliver(router, [b"worker-1", b"ready"])
        self.assertEqual(router.received, [(b"worker-1", b"ready")])
        router.sendMsg(b"worker-1", b"job")
        router.sendMultipart(b"worker-2", [b"a", b"b"])
        self.assertEqual(
            self.factory.sent(router),
            [[b"worker-1", b"job"], [b"worker-2", b"a", b"b"]],
        )

    def test_routerCodecLeavesIdentity(self) -> None:
        router = RecordingRouter(self.factory, codec=jsonCodec)
        self.factory.deliver(router, [b"peer", b'{"x":1}'])
        self.assertEqual(router.received, [(b"peer", {"x": 1})])
        router.sendMsg(b"peer", [1, 2])
        self.assertEqual(self.factory.sent(router), [[b"peer", b"[1,2]"]])

    def test_dealer(self) -> None:
        dealer = RecordingDealer(self.factory, identity=b"worker-1")
        dealer.sendMsg(b"ready")
        dealer.sendMultipart([b"a", b"b"])
        self.assertEqual(self.factory.sent(dealer), [[b"ready"], [b"a", b"b"]])
        self.factory.deliver(dealer, [b"job"], [b"x", b"y"])
        self.assertEqual(dealer.received, [(b"job",), (b"x", b"y")])
        self.assertEqual(fake(dealer).options[zmq.IDENTITY], b"worker-1")

    def test_pair(self) -> None:
        pair = RecordingPair(self.factory, "connect:inproc://pipe")
        pair.sendMsg(b"ping")
        self.factory.deliver(pair, [b"pong"])
        self.assertEqual(self.factory.sent(pair), [[b"ping"]])
        self.assertEqual(pair.received, [(b"pong",)])

    def test_receiveNotOverridden(self) -> None:
        pair = ZmqPairConnection(self.factory)
        self.factory.deliver(pair, [b"a", b"b"])
        self.assertEqual(self.successResultOf(pair.receive()), (b"a", b"b"))


# ---------------------------------------------------------------------------
# setRoom(): the high-water mark


class SetRoomTests(_FakeCase):
    def test_sendRefused(self) -> None:
        """
        With no room, C{send()} and the methods built on it raise
        L{ZmqWouldBlockError} (a C{zmq.Again}) and send nothing.
        """
        push = ZmqPushConnection(self.factory)
        self.factory.setRoom(push, 0)
        self.assertRaises(ZmqWouldBlockError, push.push, b"x")
        self.assertRaises(zmq.Again, push.send, [b"a", b"b"])
        self.assertEqual(self.factory.sent(push), [])

    def test_roomRunsOut(self) -> None:
        push = ZmqPushConnection(self.factory)
        self.factory.setRoom(push, 2)
        push.push(b"1")
        push.push([b"2", b"two"])
        self.assertRaises(ZmqWouldBlockError, push.push, b"3")
        self.assertEqual(self.factory.sent(push), [[b"1"], [b"2", b"two"]])
        self.factory.setRoom(push, None)
        push.push(b"3")
        self.assertEqual(len(self.factory.sent(push)), 3)

    def test_pubRefusedToo(self) -> None:
        """
        The fake refuses for every socket type, PUB included; a real PUB
        socket drops the message instead (unless C{ZMQ_XPUB_NODROP} is set
        on an XPUB).
        """
        pub = ZmqPubConnection(self.factory)
        self.factory.setRoom(pub, 0)
        self.assertRaises(ZmqWouldBlockError, pub.publish, b"x", b"t")

    def test_sendDeferredQueuesThenFlushesInOrder(self) -> None:
        push = ZmqPushConnection(self.factory)
        push.push(b"before")
        self.factory.setRoom(push, 0)
        sent = [push.pushDeferred(b"%d" % (i,)) for i in range(3)]
        self.reactor.advance(0)
        for d in sent:
            self.assertNoResult(d)
        self.assertEqual(push.queuedMessages, 3)
        # send() would overtake the queue: refused.
        self.assertRaises(ZmqWouldBlockError, push.push, b"overtake")
        self.factory.setRoom(push, None)
        for d in sent:
            self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.factory.sent(push), [[b"before"], [b"0"], [b"1"], [b"2"]])
        self.assertEqual(push.queuedMessages, 0)

    def test_partialRoom(self) -> None:
        """
        C{setRoom(conn, n)} lets exactly C{n} queued messages go.
        """
        dealer = ZmqDealerConnection(self.factory)
        self.factory.setRoom(dealer, 0)
        sent = [dealer.sendDeferred([b"m", b"%d" % (i,)]) for i in range(4)]
        self.factory.setRoom(dealer, 1)
        self.assertEqual(self.factory.sent(dealer), [[b"m", b"0"]])
        self.successResultOf(sent[0])
        self.assertNoResult(sent[1])
        self.factory.setRoom(dealer, 2)
        self.assertEqual(len(self.factory.sent(dealer)), 3)
        self.assertNoResult(sent[3])
        self.factory.setRoom(dealer, None)
        self.successResultOf(sent[3])
        self.assertEqual(
            self.factory.sent(dealer), [[b"m", b"%d" % (i,)] for i in range(4)]
        )

    def test_publishDeferred(self) -> None:
        xpub = ZmqXPubConnection(self.factory)
        self.factory.setRoom(xpub, 0)
        d = xpub.publishDeferred(b"body", b"tag")
        self.assertNoResult(d)
        self.factory.setRoom(xpub, None)
        self.successResultOf(d)
        self.assertEqual(self.factory.sent(xpub), [[b"tag\0body"]])

    def test_queueBound(self) -> None:
        push = ZmqPushConnection(self.factory, maxQueuedMessages=2)
        self.factory.setRoom(push, 0)
        push.pushDeferred(b"1")
        push.pushDeferred(b"2")
        self.assertRaises(ZmqQueueFullError, push.pushDeferred, b"3")
        self.factory.setRoom(push, None)
        self.assertEqual(self.factory.sent(push), [[b"1"], [b"2"]])

    def test_cancelQueued(self) -> None:
        push = ZmqPushConnection(self.factory)
        self.factory.setRoom(push, 0)
        d1 = push.pushDeferred(b"1")
        d2 = push.pushDeferred(b"2")
        d1.cancel()
        self.failureResultOf(d1, CancelledError)
        self.factory.setRoom(push, None)
        self.successResultOf(d2)
        self.assertEqual(self.factory.sent(push), [[b"2"]])

    def test_shutdownFailsQueued(self) -> None:
        push = ZmqPushConnection(self.factory)
        self.factory.setRoom(push, 0)
        d = push.pushDeferred(b"1")
        push.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertEqual(self.factory.sent(push), [])

    def test_streamingProducer(self) -> None:
        """
        A streaming producer is paused while messages wait and resumed when
        the queue is flushed.
        """
        push = ZmqPushConnection(self.factory)
        producer = StreamingProducer()
        push.registerProducer(producer, True)
        push.write(b"1")
        self.assertEqual(producer.calls, [])
        self.factory.setRoom(push, 0)
        push.write(b"2")
        self.assertEqual(producer.calls, ["pause"])
        push.write(b"3")  # a producer that did not stop at once: still queued
        self.assertEqual(producer.calls, ["pause"])
        self.factory.setRoom(push, None)
        self.assertEqual(producer.calls, ["pause", "resume"])
        self.assertEqual(self.factory.sent(push), [[b"1"], [b"2"], [b"3"]])
        push.unregisterProducer()

    def test_producerRegisteredWhileFull(self) -> None:
        push = ZmqPushConnection(self.factory)
        self.factory.setRoom(push, 0)
        push.pushDeferred(b"waiting")
        producer = StreamingProducer()
        push.registerProducer(producer, True)
        self.assertEqual(producer.calls, ["pause"])
        self.factory.setRoom(push, None)
        self.assertEqual(producer.calls, ["pause", "resume"])

    def test_shutdownStopsProducer(self) -> None:
        push = ZmqPushConnection(self.factory)
        producer = StreamingProducer()
        push.registerProducer(producer, True)
        push.shutdown()
        self.assertEqual(producer.calls, ["stop"])

    def test_pullProducer(self) -> None:
        """
        A pull producer is asked for one message per reactor turn while
        there is room, and not while messages wait.
        """
        push = ZmqPushConnection(self.factory)
        producer = PullProducer(push, [b"1", b"2", b"3"])
        self.factory.setRoom(push, 1)
        push.registerProducer(producer, False)
        self.reactor.advance(0)
        self.assertEqual(self.factory.sent(push), [[b"1"]])
        self.reactor.advance(0)
        self.assertEqual(push.queuedMessages, 1)
        asked = producer.asked
        self.reactor.advance(0)
        self.assertEqual(producer.asked, asked)
        self.factory.setRoom(push, None)
        self.reactor.advance(0)
        self.assertEqual(self.factory.sent(push), [[b"1"], [b"2"], [b"3"]])

    def test_requestsWaitForRoom(self) -> None:
        """
        A REQ connection never refuses a request: at the high-water mark it
        waits, and its timeout still counts.
        """
        req = ZmqREQConnection(self.factory)
        self.factory.setRoom(req, 0)
        d1 = req.sendMsg(b"1", timeout=5)
        d2 = req.sendMsg(b"2", timeout=5)
        self.assertEqual(self.factory.sent(req), [])
        self.reactor.advance(5)
        self.failureResultOf(d1, ZmqRequestTimeoutError)
        self.failureResultOf(d2, ZmqRequestTimeoutError)
        d3 = req.sendMsg(b"3")
        self.factory.setRoom(req, None)
        # Timed-out requests are never sent.
        self.assertEqual([f[2:] for f in self.factory.sent(req)], [[b"3"]])
        self.factory.reply(req, b"r3")
        self.assertEqual(self.successResultOf(d3), [b"r3"])

    def test_repReplyRefusedKeepsRequest(self) -> None:
        rep = RecordingREP(self.factory)
        self.factory.deliver(rep, [b"peer", b"id", b"", b"q"])
        self.factory.setRoom(rep, 0)
        self.assertRaises(ZmqWouldBlockError, rep.reply, b"id", b"r")
        self.factory.setRoom(rep, None)
        rep.reply(b"id", b"r")
        self.assertEqual(self.factory.sent(rep), [[b"peer", b"id", b"", b"r"]])

    def test_returnedReplyWaits(self) -> None:
        """
        A reply returned from C{gotMessage} waits for room.
        """

        class Answer(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
                return b"answer"

        rep = Answer(self.factory)
        self.factory.setRoom(rep, 0)
        self.factory.deliver(rep, [b"peer", b"id", b"", b"q"])
        self.assertEqual(self.factory.sent(rep), [])
        self.factory.setRoom(rep, None)
        self.assertEqual(self.factory.sent(rep), [[b"peer", b"id", b"", b"answer"]])

    def test_setRoomOnClosedConnection(self) -> None:
        push = ZmqPushConnection(self.factory)
        push.shutdown()
        self.factory.setRoom(push, None)
        self.assertEqual(self.factory.sent(push), [])


# ---------------------------------------------------------------------------
# receive() and async for


class ReceiveTests(_FakeCase):
    def test_receiveBeforeDeliver(self) -> None:
        pull = ZmqPullConnection(self.factory)
        d = pull.receive()
        self.assertNoResult(d)
        self.factory.deliver(pull, [b"x"])
        self.assertEqual(self.successResultOf(d), [b"x"])

    def test_receiveAfterDeliver(self) -> None:
        pull = ZmqPullConnection(self.factory)
        self.factory.deliver(pull, [b"1"], [b"2"])
        self.assertEqual(self.successResultOf(pull.receive()), [b"1"])
        self.assertEqual(self.successResultOf(pull.receive()), [b"2"])

    def test_receiveBufferPausesReading(self) -> None:
        """
        Past C{receiveBufferSize} kept messages, reading pauses: the rest
        stay in the fake socket until messages are taken.
        """
        pull = ZmqPullConnection(self.factory, receiveBufferSize=2)
        self.factory.deliver(pull, [b"1"], [b"2"], [b"3"], [b"4"])
        self.assertEqual(len(fake(pull).incoming), 2)
        self.assertEqual(self.successResultOf(pull.receive()), [b"1"])
        self.reactor.advance(0)
        self.assertEqual(len(fake(pull).incoming), 1)
        received = [self.successResultOf(pull.receive()) for _ in range(2)]
        self.reactor.advance(0)
        received.append(self.successResultOf(pull.receive()))
        self.assertEqual(received, [[b"2"], [b"3"], [b"4"]])

    def test_asyncFor(self) -> None:
        pull = ZmqPullConnection(self.factory, codec=jsonCodec)
        seen: list[Any] = []

        async def consume() -> str:
            async for (value,) in pull:
                seen.append(value)
                if value == "last":
                    return "done"
            return "ended"

        d = Deferred.fromCoroutine(consume())
        self.factory.deliver(pull, [b"1"], [b'"two"'])
        self.assertEqual(seen, [1, "two"])
        self.assertNoResult(d)
        self.factory.deliver(pull, [b'"last"'])
        self.assertEqual(self.successResultOf(d), "done")

    def test_asyncForEndsAtShutdown(self) -> None:
        sub = ZmqSubConnection(self.factory)
        seen: list[Any] = []

        async def consume() -> str:
            async for message, tag in sub:
                seen.append((tag, message))
            return "ended"

        d = Deferred.fromCoroutine(consume())
        self.factory.deliver(sub, [b"t\0m"])
        self.assertEqual(seen, [(b"t", b"m")])
        self.factory.shutdown()
        self.assertEqual(self.successResultOf(d), "ended")

    def test_receiveTimeoutWithClock(self) -> None:
        pull = ZmqPullConnection(self.factory)
        d = pull.receive()
        d.addTimeout(2, self.reactor)
        self.reactor.advance(2)
        self.failureResultOf(d, defer.TimeoutError)
        # The cancelled receive took nothing.
        self.factory.deliver(pull, [b"x"])
        self.assertEqual(self.successResultOf(pull.receive()), [b"x"])


# ---------------------------------------------------------------------------
# Tests of test_connection redone with the fakes


class ConnectionTestsOnFakesTests(_FakeCase):
    """
    Request/reply tests from C{test_connection.REQTests} and
    C{REPTests}, which drive a real inproc ROUTER or DEALER socket by
    hand, checking the same things with L{FakeFactory}.
    """

    def test_wouldBlockKeepsRequest(self) -> None:
        """
        (C{REPTests.test_wouldBlockKeepsRequest}, which patches C{send} to
        raise once.)  A reply that cannot be sent now can be tried again.
        """
        rep = RecordingREP(self.factory)
        self.factory.deliver(rep, [b"peer", b"id", b"", b"q"])
        self.factory.setRoom(rep, 0)
        self.assertRaises(ZmqWouldBlockError, rep.reply, b"id", b"r")
        self.assertEqual(self.factory.sent(rep), [])
        self.factory.setRoom(rep, 1)
        rep.reply(b"id", b"r")
        self.assertEqual(self.factory.sent(rep), [[b"peer", b"id", b"", b"r"]])

    def test_noPeerQueues(self) -> None:
        """
        (C{REQTests.test_noPeerQueues}.)  While libzmq takes nothing, the
        request waits in the outgoing queue; its timeout takes it out
        again, and nothing is left pending.
        """
        req = ZmqREQConnection(self.factory)
        self.factory.setRoom(req, 0)
        d = req.sendMsg(b"q", timeout=5)
        self.assertEqual(req.queuedMessages, 1)
        self.reactor.advance(5)
        self.failureResultOf(d, ZmqRequestTimeoutError)
        self.assertEqual(req.queuedMessages, 0)
        self.assertEqual(req.requestsInFlight, 0)
        self.factory.setRoom(req, None)
        self.assertEqual(self.factory.sent(req), [])

    def test_lateReplyDropped(self) -> None:
        """
        (C{REQTests.test_lateReplyDropped}.)  A reply to a request that
        timed out is logged at debug level and dropped; a newer request is
        answered normally and its timer cancelled.
        """
        req = ZmqREQConnection(self.factory)
        d1 = req.sendMsg(b"old", timeout=5)
        self.reactor.advance(5)
        self.failureResultOf(d1, ZmqRequestTimeoutError)
        d2 = req.sendMsg(b"new", timeout=5)
        (id1, _, _), (id2, _, _) = self.factory.sent(req)
        with capturedLogs() as events:
            self.factory.deliver(req, [id1, b"", b"late"], [id2, b"", b"fresh"])
        self.assertEqual(self.successResultOf(d2), [b"fresh"])
        debug = fromSource(events, req, LogLevel.debug)
        self.assertEqual(len(debug), 1)
        self.assertEqual(debug[0]["requestId"], id1.hex())
        self.assertEqual(self.timers(), [])

    def test_malformedReply(self) -> None:
        """(C{REQTests.test_malformedReply}.)"""
        req = ZmqREQConnection(self.factory)
        d = req.sendMsg(b"q")
        with capturedLogs() as events:
            self.factory.deliver(req, [b"no delimiter"])
        self.assertNoResult(d)
        self.assertEqual(len(fromSource(events, req, LogLevel.warn)), 1)
        self.factory.reply(req, b"ok")
        self.assertEqual(self.successResultOf(d), [b"ok"])

    def test_customIds(self) -> None:
        """(C{REQTests.test_customIds}.)"""

        class Numbered(ZmqREQConnection):
            counter = 0

            def _getNextId(self) -> bytes:
                self.counter += 1
                return b"id-%d" % (self.counter,)

        req = Numbered(self.factory)
        d = req.sendMsg(b"q")
        self.assertEqual(self.factory.sent(req), [[b"id-1", b"", b"q"]])
        self.factory.deliver(req, [b"id-1", b"", b"r"])
        self.assertEqual(self.successResultOf(d), [b"r"])

    def test_repeatedIdRefusedBeforeSending(self) -> None:
        """(C{REQTests.test_repeatedIdRefusedBeforeSending}.)"""

        class Stuck(ZmqREQConnection):
            def _getNextId(self) -> bytes:
                return b"same"

        req = Stuck(self.factory)
        first = req.sendMsg(b"first")
        e = self.assertRaises(ValueError, req.sendMsg, b"second")
        self.assertIn("unique", str(e))
        self.assertEqual(self.factory.sent(req), [[b"same", b"", b"first"]])
        req.shutdown()
        self.failureResultOf(first, ZmqConnectionClosedError)

    def test_badPart(self) -> None:
        """(C{REQTests.test_badPart}.)"""
        req = ZmqREQConnection(self.factory)
        e = self.assertRaises(TypeError, req.sendMsg, b"a", "b")
        self.assertIn("encode", str(e))
        self.assertEqual(self.factory.sent(req), [])
        self.assertEqual(self.timers(), [])

    def test_plainReqClient(self) -> None:
        """
        (C{REPTests.test_plainReqClient}.)  A plain ZeroMQ REQ client's
        request, C{[identity, b"", *parts]}, has its identity as id.
        """
        rep = RecordingREP(self.factory)
        self.factory.deliver(rep, [b"client-1", b"", b"question"])
        self.assertEqual(rep.requests, [(b"client-1", [b"question"])])
        rep.reply(b"client-1", b"answer", b"more")
        self.assertEqual(
            self.factory.sent(rep), [[b"client-1", b"", b"answer", b"more"]]
        )

    def test_malformedRequest(self) -> None:
        """(C{REPTests.test_malformedRequest}.)"""
        rep = RecordingREP(self.factory)
        with capturedLogs() as events:
            self.factory.deliver(
                rep, [b"peer", b"no delimiter"], [b"peer", b"id-1", b"", b"good"]
            )
        self.assertEqual(rep.requests, [(b"id-1", [b"good"])])
        warnings = fromSource(events, rep, LogLevel.warn)
        self.assertEqual(len(warnings), 1)
        self.assertIn("malformed request", formatEvent(warnings[0]))

    def test_replyLater(self) -> None:
        """(C{REPTests.test_replyLater}.)  Answers in any order."""
        rep = RecordingREP(self.factory)
        self.factory.deliver(rep, [b"p", b"1", b"", b"a"], [b"p", b"2", b"", b"b"])
        rep.reply(b"2", b"two")
        rep.reply(b"1", b"one")
        self.assertEqual(
            self.factory.sent(rep),
            [[b"p", b"2", b"", b"two"], [b"p", b"1", b"", b"one"]],
        )

    def test_returnedReplyEcho(self) -> None:
        """
        The README's echo server, checked without sockets.
        """

        class Echo(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *parts: bytes) -> Any:
                self.reply(messageId, b"echo: " + b" ".join(parts))

        echo = Echo(self.factory, "bind:tcp://127.0.0.1:5555")
        self.factory.deliver(echo, [b"client", b"id", b"", b"hello", b"world"])
        self.assertEqual(
            self.factory.sent(echo), [[b"client", b"id", b"", b"echo: hello world"]]
        )


class RelayEventsTests(_FakeCase):
    """
    A connection that sends from another connection's read pass (a relay,
    a device) reads C{EVENTS} once, when that pass ends: its send may have
    taken the edge announcing its own incoming messages.
    """

    def setUp(self) -> None:
        super().setUp()
        self.target = RecordingDealer(self.factory, "connect:tcp://next:5555")
        target = self.target

        class Relay(ZmqPullConnection):
            def onPull(self, message: list[bytes]) -> None:
                target.send(message)

        self.source = Relay(self.factory, "bind:tcp://*:5556")
        self.reactor.advance(0)  # the first passes, after creation
        self.eventReads = 0
        socket = self.target.socket
        get = socket.get

        def countingGet(option: int) -> Any:
            if option == zmq.EVENTS:
                self.eventReads += 1
            return get(option)

        socket.get = countingGet  # type: ignore[method-assign]

    def test_oncePerPass(self) -> None:
        """Relaying 50 messages in one pass reads the target's EVENTS once."""
        self.factory.deliver(self.source, *([b"%d" % n] for n in range(50)))
        self.assertEqual(
            self.factory.sent(self.target), [[b"%d" % n] for n in range(50)]
        )
        self.assertEqual(self.eventReads, 1)

    def test_incomingSeenAfterThePass(self) -> None:
        """
        Messages waiting for the target without a new edge are read: the
        check at the end of the pass schedules the target's own pass.
        """
        cast(FakeSocket, self.target.socket).incoming.append([b"reply"])
        self.factory.deliver(self.source, [b"request"])
        self.assertEqual(self.target.received, [])
        self.reactor.advance(0)
        self.assertEqual(self.target.received, [(b"reply",)])

    def test_outsideAPassAtOnce(self) -> None:
        """A send outside any pass reads EVENTS right away."""
        self.target.send(b"alone")
        self.assertEqual(self.eventReads, 1)

"""
Flow control: the outgoing queue of C{sendDeferred}, connections as
consumers (C{registerProducer}, C{write}) and as producers
(C{pauseProducing}, C{resumeProducing}), and pull-style C{receive()}.

The first half runs on real sockets over inproc, ipc and tcp, driven by
the reactor trial runs (each C{*Tests} mixin is instantiated per
transport at the bottom of the module).  Back-pressure needs a pipeline
that fills up: the sockets get high-water marks of one message and small
kernel buffers (C{SNDBUF}/C{RCVBUF}), and the messages are large, so a
peer that does not read holds a few hundred kilobytes at most while the
tests send megabytes.

A test that asserts that something does I{not} happen (a paused
connection delivers nothing) watches for it during a short L{quiet}
window after the positive event it waits for; it never waits on a timer
for something to happen.

The second half (the C{*ReactorTests} classes) drives real inproc
sockets with a fake reactor, as C{test_connection} does, to pin down
what happens on which reactor turn.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import zmq
from twisted.internet.defer import CancelledError, Deferred, gatherResults
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IPullProducer,
    IPushProducer,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial import unittest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from txzmq import (
    ZmqConnection,
    ZmqConnectionClosedError,
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqPairConnection,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqQueueFullError,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqWouldBlockError,
    ZmqXPubConnection,
    ZmqXSubConnection,
)
from txzmq.test._helpers import (
    Collector,
    addTransportCases,
    bind,
    boundAddress,
    connect,
    inprocAddress,
    untilTrue,
)
from txzmq.test.test_connection import FakeReactor, nothingToReceive, recvNow
from txzmq.test.test_connection import _Base as _FakeReactorCase
from txzmq.test.test_patterns import (
    Puller,
    Subscriber,
    _publisher,
    _TransportMixin,
    within,
)

SIZE = 64 * 1024
"""Bytes per large message."""

COUNT = 48
"""Large messages per back-pressure test: 3 MiB, far more than a stalled
pipeline holds."""

SMALL_BUFFER = 32 * 1024
"""SO_SNDBUF/SO_RCVBUF of the sockets in back-pressure tests."""

LIMIT = 200
"""Most large messages a test sends while waiting for the queue to fill."""

QUIET = 0.2
"""Seconds a test watches for something that must not happen."""


def big(n: int, size: int = SIZE) -> bytes:
    """A large message, numbered."""
    return (b"%06d" % n).ljust(size, b"x")


def smallBuffers(sock: zmq.Socket[Any]) -> None:
    """Small kernel buffers, set before the socket binds or connects."""
    sock.set(zmq.SNDBUF, SMALL_BUFFER)
    sock.set(zmq.RCVBUF, SMALL_BUFFER)


class _FlowMixin(_TransportMixin):
    """Helpers for back-pressure tests on one transport."""

    def make(
        self, cls: Callable[..., Any], endpoint: ZmqEndpoint, **kwargs: Any
    ) -> Any:
        """A connection with small kernel buffers, then attached."""
        conn = cls(self.factory, **kwargs)
        smallBuffers(conn.socket)
        conn.addEndpoints([endpoint])
        return conn

    def listenSmall(self, cls: Callable[..., Any], **kwargs: Any) -> tuple[Any, str]:
        conn = self.make(cls, bind(self.newAddress()), **kwargs)
        return conn, boundAddress(conn)

    def stalledPeer(self, socketType: int = zmq.PULL) -> tuple[zmq.Socket[bytes], str]:
        """
        A raw socket that reads nothing until the test says so: receive
        high-water mark 1, small buffers.
        """
        sock = self.rawSocket(socketType)
        sock.set(zmq.RCVHWM, 1)
        smallBuffers(sock)
        sock.bind(self.newAddress())
        return sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def pusher(self, address: str, **kwargs: Any) -> ZmqPushConnection:
        kwargs.setdefault("sendHighWaterMark", 1)
        push: ZmqPushConnection = self.make(
            ZmqPushConnection, connect(address), **kwargs
        )
        return push

    def fill(
        self, conn: ZmqConnection, queued: int, messages: list[bytes]
    ) -> list[Deferred[None]]:
        """
        C{sendDeferred} numbered large messages (recorded in C{messages})
        until C{queued} of them wait in the outgoing queue.  Once one
        waits, every later one does too, so this ends after the pipeline
        is full plus C{queued}.
        """
        ds = []
        while conn.queuedMessages < queued:
            if len(ds) >= LIMIT:
                self.fail(f"{LIMIT} messages sent and the queue never filled")
            message = big(len(messages))
            ds.append(conn.sendDeferred(message))
            messages.append(message)
        return ds

    def receiveRaw(
        self, sock: zmq.Socket[bytes], count: int, into: list[list[bytes]] | None = None
    ) -> Deferred[list[list[bytes]]]:
        """
        Read from a raw socket, in the reactor, until C{into} holds
        C{count} messages; never more.
        """
        got: list[list[bytes]] = [] if into is None else into

        def step() -> bool:
            while len(got) < count:
                try:
                    got.append(sock.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    return False
            return True

        return untilTrue(self.reactor, step, interval=0.001).addCallback(lambda _: got)

    def quiet(self, seconds: float = QUIET) -> Deferred[None]:
        """
        A window in which the test checks that something does not happen.
        """
        return deferLater(self.reactor, seconds, lambda: None)


def recordFiring(ds: list[Deferred[None]]) -> list[int]:
    """The indexes of C{ds}, in the order they fire (successfully)."""
    fired: list[int] = []

    def record(_: None, index: int) -> None:
        fired.append(index)

    for i, d in enumerate(ds):
        d.addCallback(record, i)
    return fired


# ---------------------------------------------------------------------------
# sendDeferred and the outgoing queue


class SendDeferredTests(_FlowMixin):
    async def test_firesOnAcceptance(self) -> None:
        """
        With room at the socket, the Deferred fires at once and nothing
        is queued; the peer gets the message whole.
        """
        sock, address = self.rawListen(zmq.PULL)
        push = ZmqPushConnection(self.factory, connect(address))
        d = push.sendDeferred([b"a", b"", b"c"])
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual((push.queuedMessages, push.queuedBytes), (0, 0))
        self.assertEqual(await self.wait(self.receiveRaw(sock, 1)), [[b"a", b"", b"c"]])

    async def test_waitsForPeer(self) -> None:
        """
        A bound PUSH without peers cannot send: the message waits in the
        queue, and goes out when a peer connects (the connection wakes up
        by itself).
        """
        push, address = self.listen(ZmqPushConnection)
        first = push.sendDeferred(b"first")
        second = push.sendDeferred([b"second", b"2"])
        self.assertNoResult(first)
        self.assertNoResult(second)
        self.assertEqual(push.queuedMessages, 2)
        self.assertEqual(push.queuedBytes, 5 + 7)
        sock = self.rawSocket(zmq.PULL)
        sock.connect(address)
        await self.wait(gatherResults([first, second]))
        self.assertEqual((push.queuedMessages, push.queuedBytes), (0, 0))
        self.assertEqual(
            await self.wait(self.receiveRaw(sock, 2)), [[b"first"], [b"second", b"2"]]
        )

    async def test_queuesWhilePeerDoesNotRead(self) -> None:
        """
        Against a peer that does not read, sends wait in the queue; they
        fire, in order, as the peer reads, and the peer gets everything in
        order.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address)
        messages = [big(i) for i in range(COUNT)]
        ds = [push.sendDeferred(m) for m in messages]
        fired = recordFiring(ds)
        queued = push.queuedMessages
        self.assertGreater(queued, 0)
        self.assertEqual(push.queuedBytes, queued * SIZE)
        self.assertEqual(fired, list(range(COUNT - queued)))
        await within(ds[0], self.reactor)
        await self.quiet()
        self.assertNoResult(ds[-1])
        self.assertGreater(push.queuedMessages, 0)
        received: list[list[bytes]] = []
        await self.wait(self.receiveRaw(sock, 1, received))
        self.assertLess(len(fired), COUNT)
        await self.wait(self.receiveRaw(sock, COUNT, received))
        await self.wait(gatherResults(ds))
        self.assertEqual(fired, list(range(COUNT)))
        self.assertEqual(received, [[m] for m in messages])
        self.assertEqual((push.queuedMessages, push.queuedBytes), (0, 0))

    async def test_boundInMessages(self) -> None:
        """
        Past C{maxQueuedMessages}, C{sendDeferred} raises
        L{ZmqQueueFullError} (a L{BufferError}) at the call and queues
        nothing; the refused message is never sent.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address, maxQueuedMessages=3)
        messages: list[bytes] = []
        ds = self.fill(push, 3, messages)
        e = self.assertRaises(ZmqQueueFullError, push.sendDeferred, b"refused")
        self.assertIsInstance(e, BufferError)
        self.assertRaises(ZmqQueueFullError, push.sendDeferred, b"refused again")
        self.assertEqual(push.queuedMessages, 3)
        self.assertEqual(push.queuedBytes, 3 * SIZE)
        received: list[list[bytes]] = []
        await self.wait(self.receiveRaw(sock, len(messages), received))
        await self.wait(gatherResults(ds))
        after = push.sendDeferred(b"after")
        await self.wait(self.receiveRaw(sock, len(messages) + 1, received))
        await self.wait(after)
        self.assertEqual(received, [[m] for m in messages] + [[b"after"]])

    async def test_boundInBytes(self) -> None:
        """
        Past C{maxQueuedBytes}, C{sendDeferred} raises
        L{ZmqQueueFullError}; a smaller message that fits (up to the bound
        exactly) is still queued.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address, maxQueuedBytes=SIZE * 5 // 2)
        messages: list[bytes] = []
        ds = self.fill(push, 2, messages)
        self.assertEqual(push.queuedBytes, 2 * SIZE)
        self.assertRaises(ZmqQueueFullError, push.sendDeferred, big(999))
        quarter = SIZE // 4
        self.assertRaises(
            ZmqQueueFullError, push.sendDeferred, [b"x" * quarter, b"y" * (quarter + 1)]
        )
        self.assertEqual((push.queuedMessages, push.queuedBytes), (2, 2 * SIZE))
        small = [b"s" * quarter, b"t" * quarter]
        ds.append(push.sendDeferred(small))
        self.assertEqual((push.queuedMessages, push.queuedBytes), (3, SIZE * 5 // 2))
        self.assertRaises(ZmqQueueFullError, push.sendDeferred, b"!")
        received = await self.wait(self.receiveRaw(sock, len(messages) + 1))
        await self.wait(gatherResults(ds))
        self.assertEqual(received, [[m] for m in messages] + [small])

    async def test_cancelQueued(self) -> None:
        """
        Cancelling the Deferred of a queued send takes the message out of
        the queue: it fails with L{CancelledError} and the peer never sees
        it.  Cancelling a send that already fired changes nothing.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address)
        messages: list[bytes] = []
        ds = self.fill(push, 4, messages)
        self.successResultOf(ds[0])
        ds[0].cancel()
        self.successResultOf(ds[0])
        # The oldest queued message and one in the middle.
        first, middle = len(ds) - 4, len(ds) - 2
        for index in (middle, first):
            before = push.queuedMessages
            ds[index].cancel()
            self.failureResultOf(ds[index], CancelledError)
            self.assertEqual(push.queuedMessages, before - 1)
        self.assertEqual(push.queuedBytes, 2 * SIZE)
        # A second cancel is harmless.
        ds[middle].cancel()
        self.assertEqual(push.queuedMessages, 2)
        expected = [m for i, m in enumerate(messages) if i not in (first, middle)]
        fence = push.sendDeferred(b"fence")
        received = await self.wait(self.receiveRaw(sock, len(expected) + 1))
        await self.wait(fence)
        self.assertEqual(received, [[m] for m in expected] + [[b"fence"]])

    async def test_shutdownFailsQueued(self) -> None:
        """
        At shutdown, queued sends fail with L{ZmqConnectionClosedError};
        those that fired stay fired, and later sends raise.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address)
        messages: list[bytes] = []
        ds = self.fill(push, 3, messages)
        accepted = len(ds) - 3
        push.shutdown()
        for d in ds[:accepted]:
            self.assertIsNone(self.successResultOf(d))
        for d in ds[accepted:]:
            self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertEqual((push.queuedMessages, push.queuedBytes), (0, 0))
        self.assertRaises(ZmqConnectionClosedError, push.sendDeferred, b"late")

    async def test_sendRefusedWhileQueued(self) -> None:
        """
        While messages wait in the queue, C{send()} (and C{push()}) raise
        L{ZmqWouldBlockError}, and the peer never gets their message: it
        would overtake the queue.  Once the queue is empty they work
        again.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address)
        messages = [big(i) for i in range(COUNT)]
        ds = [push.sendDeferred(m) for m in messages]
        self.assertGreater(push.queuedMessages, 0)
        self.assertRaises(ZmqWouldBlockError, push.send, b"overtaker")
        self.assertRaises(ZmqWouldBlockError, push.push, [b"overtaker"])
        received: list[list[bytes]] = []
        await self.wait(self.receiveRaw(sock, 1, received))
        self.assertGreater(push.queuedMessages, 0)
        self.assertRaises(ZmqWouldBlockError, push.send, b"overtaker")
        await self.wait(self.receiveRaw(sock, COUNT, received))
        await self.wait(gatherResults(ds))
        self.assertEqual(push.queuedMessages, 0)

        def trySend() -> bool:
            try:
                push.send(b"after")
            except ZmqWouldBlockError:
                return False
            return True

        await self.wait(untilTrue(self.reactor, trySend, interval=0.001))
        await self.wait(self.receiveRaw(sock, COUNT + 1, received))
        self.assertEqual(received, [[m] for m in messages] + [[b"after"]])

    async def test_pushDeferred(self) -> None:
        """
        C{pushDeferred} queues like C{sendDeferred}, in one order with it.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address)
        messages = [big(i) for i in range(COUNT)]
        ds = [
            push.pushDeferred(m) if i % 2 else push.sendDeferred(m)
            for i, m in enumerate(messages)
        ]
        fired = recordFiring(ds)
        self.assertGreater(push.queuedMessages, 0)
        received = await self.wait(self.receiveRaw(sock, COUNT))
        await self.wait(gatherResults(ds))
        self.assertEqual(received, [[m] for m in messages])
        self.assertEqual(fired, list(range(COUNT)))

    async def test_publishDeferred(self) -> None:
        """
        A PUB socket never blocks: C{publishDeferred} fires at once, even
        without subscribers, and subscribers get the message.
        """
        pub, address = self.listen(ZmqPubConnection)
        self.assertIsNone(self.successResultOf(pub.publishDeferred(b"nobody", b"t")))
        sub = Subscriber(self.factory, connect(address))
        sub.subscribe(b"")
        await self.settle([_publisher(pub)], [sub])
        d = pub.publishDeferred(b"hello", b"news")
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(
            await self.wait(sub.received.waitFor(1)), [(b"news", b"hello")]
        )

    async def test_publishDeferredNoDrop(self) -> None:
        """
        An XPUB with C{ZMQ_XPUB_NODROP} refuses to publish past a
        subscriber's high-water mark instead of dropping: the messages of
        C{publishDeferred} wait in the queue, and all arrive, in order.
        """
        xpub, address = self.listenSmall(ZmqXPubConnection, sendHighWaterMark=1)
        xpub.socket.set(zmq.XPUB_NODROP, 1)
        sub = self.rawSocket(zmq.SUB)
        sub.set(zmq.RCVHWM, 1)
        smallBuffers(sub)
        sub.subscribe(b"")
        sub.connect(address)
        self.assertEqual(await self.wait(xpub.receive()), (b"", True))
        messages = [big(i) for i in range(COUNT)]
        ds = [xpub.publishDeferred(m, b"t") for m in messages]
        fired = recordFiring(ds)
        self.assertGreater(xpub.queuedMessages, 0)
        received = await self.wait(self.receiveRaw(sub, COUNT))
        await self.wait(gatherResults(ds))
        self.assertEqual(received, [[b"t\0" + m] for m in messages])
        self.assertEqual(fired, list(range(COUNT)))


# ---------------------------------------------------------------------------
# Connections as consumers


@implementer(IPushProducer)
class StreamingProducer:
    """
    Writes its messages to a consumer as fast as it may: until paused,
    and again when resumed.  Records what the consumer does to it.
    """

    def __init__(self, consumer: ZmqConnection, messages: list[bytes]) -> None:
        self.consumer = consumer
        self.messages = messages
        self.next = 0
        self.paused = False
        self.pauses = 0
        self.resumes = 0
        self.stops = 0
        self.maxQueued = 0
        self.violations: list[str] = []
        self.done: Deferred[None] = Deferred()

    def start(self) -> None:
        self.consumer.registerProducer(self, True)
        self._produce()

    def _produce(self) -> None:
        while not self.paused and not self.stops and self.next < len(self.messages):
            self.consumer.write(self.messages[self.next])
            self.next += 1
            self.maxQueued = max(self.maxQueued, self.consumer.queuedMessages)
        if self.next == len(self.messages) and not self.done.called:
            self.consumer.unregisterProducer()
            self.done.callback(None)

    def pauseProducing(self) -> None:
        if self.paused:
            self.violations.append("paused twice")
        self.paused = True
        self.pauses += 1

    def resumeProducing(self) -> None:
        if not self.paused:
            self.violations.append("resumed while not paused")
        if self.consumer.queuedMessages:
            self.violations.append(
                f"resumed with {self.consumer.queuedMessages} messages queued"
            )
        self.paused = False
        self.resumes += 1
        self._produce()

    def stopProducing(self) -> None:
        self.stops += 1


@implementer(IPullProducer)
class PullProducer:
    """
    Writes one message each time it is asked; unregisters itself when it
    has nothing left.  Records re-entrant calls and calls made while
    messages wait in the consumer's queue.
    """

    def __init__(self, consumer: ZmqConnection, messages: list[bytes]) -> None:
        self.consumer = consumer
        self.messages = messages
        self.next = 0
        self.calls = 0
        self.stops = 0
        self.queuedAfterWrite = 0
        self.inCall = False
        self.violations: list[str] = []
        self.done: Deferred[None] = Deferred()

    def resumeProducing(self) -> None:
        self.calls += 1
        if self.inCall:
            self.violations.append("called re-entrantly")
        if self.consumer.queuedMessages:
            self.violations.append(
                f"asked with {self.consumer.queuedMessages} messages queued"
            )
        self.inCall = True
        try:
            if self.next < len(self.messages):
                self.consumer.write(self.messages[self.next])
                self.next += 1
                if self.consumer.queuedMessages:
                    self.queuedAfterWrite += 1
            elif not self.done.called:
                self.consumer.unregisterProducer()
                self.done.callback(None)
        finally:
            self.inCall = False

    def stopProducing(self) -> None:
        self.stops += 1


class SlowPuller(ZmqPullConnection):
    """
    A PULL that reads C{step} messages, pauses itself for C{rest}
    seconds, and so on; it records any message delivered while paused.
    """

    step = 8
    rest = 0.002

    def __init__(self, factory: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)
        self.isPaused = False
        self.sinceResume = 0
        self.pauses = 0
        self.deliveredWhilePaused: list[Any] = []
        self._wake: IDelayedCall | None = None

    def onPull(self, message: list[bytes]) -> None:
        if self.isPaused:
            self.deliveredWhilePaused.append(message)
        self.sinceResume += 1
        if self.sinceResume >= self.step:
            self.isPaused = True
            self.pauses += 1
            self.pauseProducing()
            self._wake = self.factory.reactor.callLater(self.rest, self.wakeUp)
        # Last: the test may go on (and end) from inside this call.
        self.received(message)

    def shutdown(self) -> None:
        if self._wake is not None and self._wake.active():
            self._wake.cancel()
        super().shutdown()

    def wakeUp(self) -> None:
        self._wake = None
        if not self.closed:
            self.isPaused = False
            self.sinceResume = 0
            self.resumeProducing()


class ConsumerTests(_FlowMixin):
    async def test_streamingProducer(self) -> None:
        """
        A streaming producer writing into a PUSH whose PULL peer reads
        slowly is paused as soon as a message has to wait and resumed
        when the queue is empty: nothing is lost, the order is kept, and
        the queue never holds more than that one message.
        """
        pull, address = self.listenSmall(SlowPuller, receiveHighWaterMark=1)
        push = self.pusher(address)
        self.assertTrue(verifyObject(IConsumer, push))
        messages = [big(i, SIZE // 4) for i in range(4 * COUNT)]
        producer = StreamingProducer(push, messages)
        producer.start()
        received = await self.wait(pull.received.waitFor(len(messages)))
        await self.wait(producer.done)
        self.assertEqual(received, [[m] for m in messages])
        self.assertEqual(producer.violations, [])
        self.assertGreaterEqual(producer.pauses, 1)
        self.assertGreaterEqual(producer.resumes, 1)
        self.assertEqual(producer.maxQueued, 1)
        self.assertGreater(pull.pauses, 1)
        self.assertEqual(pull.deliveredWhilePaused, [])

    async def test_pullProducer(self) -> None:
        """
        A pull producer is asked for one message at a time, only while
        the queue is empty, and never from inside its own call.
        """
        pull, address = self.listenSmall(SlowPuller, receiveHighWaterMark=1)
        push = self.pusher(address)
        messages = [big(i, SIZE // 4) for i in range(2 * COUNT)]
        producer = PullProducer(push, messages)
        push.registerProducer(producer, False)
        received = await self.wait(pull.received.waitFor(len(messages)))
        await self.wait(producer.done)
        self.assertEqual(received, [[m] for m in messages])
        self.assertEqual(producer.violations, [])
        self.assertEqual(producer.calls, len(messages) + 1)
        # The socket did fill up: some writes had to wait.
        self.assertGreater(producer.queuedAfterWrite, 0)
        self.assertEqual(producer.stops, 0)

    async def test_secondProducer(self) -> None:
        """
        Registering a second producer raises L{RuntimeError}; the first
        stays registered (it is the one stopped at shutdown), and after
        unregistering another can be registered.
        """
        push, _ = self.listen(ZmqPushConnection)
        first = StreamingProducer(push, [])
        second = StreamingProducer(push, [])
        push.registerProducer(first, True)
        self.assertRaises(RuntimeError, push.registerProducer, second, True)
        self.assertRaises(RuntimeError, push.registerProducer, second, False)
        push.shutdown()
        self.assertEqual((first.stops, second.stops), (1, 0))

        push2, _ = self.listen(ZmqPushConnection)
        push2.registerProducer(first, True)
        push2.unregisterProducer()
        push2.registerProducer(second, True)
        push2.shutdown()
        self.assertEqual((first.stops, second.stops), (1, 1))

    async def test_shutdownStopsProducer(self) -> None:
        """
        Shutting the connection down calls the producer's
        C{stopProducing}, once, for both kinds of producer.
        """
        sock, address = self.stalledPeer()
        push = self.pusher(address)
        streaming = StreamingProducer(push, [big(i) for i in range(COUNT)])
        streaming.start()
        self.assertEqual(streaming.pauses, 1)
        push.shutdown()
        push.shutdown()
        self.assertEqual(streaming.stops, 1)

        pullPush = self.pusher(address)
        pulling = PullProducer(pullPush, [b"x"] * 10)
        pullPush.registerProducer(pulling, False)
        pullPush.shutdown()
        self.assertEqual(pulling.stops, 1)
        await self.quiet(0.01)
        self.assertEqual(pulling.calls, 0)


# ---------------------------------------------------------------------------
# Receiving connections as producers


if TYPE_CHECKING:
    _ConnectionBase = ZmqConnection
else:
    _ConnectionBase = object


class _PauseTracking(_ConnectionBase):
    """Keeps C{isPaused}; messages delivered while paused are recorded in
    C{deliveredWhilePaused} by L{_deliveredNow}."""

    def __init__(self, factory: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.isPaused = False
        self.deliveredWhilePaused: list[Any] = []

    def pauseProducing(self) -> None:
        self.isPaused = True
        super().pauseProducing()

    def resumeProducing(self) -> None:
        self.isPaused = False
        super().resumeProducing()

    def _deliveredNow(self, message: Any) -> None:
        if self.isPaused:
            self.deliveredWhilePaused.append(message)


class PausingPuller(_PauseTracking, ZmqPullConnection):
    """Records messages, and any delivered while it is paused."""

    def __init__(self, factory: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)

    def onPull(self, message: list[bytes]) -> None:
        self._deliveredNow(message)
        self.received(message)


class PausingSubscriber(_PauseTracking, Subscriber):
    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self._deliveredNow((message, tag))
        super().gotMessage(message, tag)


def isSubsequence(part: list[Any], whole: list[Any]) -> bool:
    remaining = iter(whole)
    return all(any(item == other for other in remaining) for item in part)


class ProducerTests(_FlowMixin):
    def test_interfaces(self) -> None:
        """
        Every connection is a consumer and a push producer.
        """
        for cls in [
            ZmqPullConnection,
            ZmqSubConnection,
            ZmqXSubConnection,
            ZmqPairConnection,
            ZmqDealerConnection,
            ZmqRouterConnection,
            ZmqREPConnection,
            ZmqREQConnection,
            ZmqXPubConnection,
            ZmqPushConnection,
        ]:
            conn = cls(self.factory)
            self.assertTrue(verifyObject(IPushProducer, conn))
            self.assertTrue(verifyObject(IConsumer, conn))

    async def test_pauseStopsDelivery(self) -> None:
        """
        A paused PULL delivers nothing: its socket fills up, then the
        PUSH peer's, and the peer's sends wait.  Resumed, it delivers
        everything in order and the sends complete.
        """
        pull, address = self.listenSmall(PausingPuller, receiveHighWaterMark=1)
        pull.pauseProducing()
        push = self.pusher(address)
        messages = [big(i) for i in range(COUNT)]
        ds = [push.sendDeferred(m) for m in messages]
        await within(ds[0], self.reactor)
        await self.quiet()
        self.assertEqual(pull.received.items, [])
        self.assertNoResult(ds[-1])
        self.assertGreater(push.queuedMessages, 0)
        pull.resumeProducing()
        received = await self.wait(pull.received.waitFor(COUNT))
        await self.wait(gatherResults(ds))
        self.assertEqual(received, [[m] for m in messages])
        self.assertEqual(pull.deliveredWhilePaused, [])

    async def test_resumeAfterEdgeConsumed(self) -> None:
        """
        A message that arrived while the PULL was paused is delivered on
        resume even though nothing signals the descriptor again: here the
        test reads C{EVENTS} itself, consuming the edge, before resuming.
        """
        pull, address = self.listen(PausingPuller)
        pull.pauseProducing()
        push = ZmqPushConnection(self.factory, connect(address))
        push.push([b"only", b"one"])
        await self.wait(
            untilTrue(
                self.reactor,
                lambda: bool(cast(int, pull.socket.get(zmq.EVENTS)) & zmq.POLLIN),
                interval=0.001,
            )
        )
        await self.quiet(0.05)
        self.assertEqual(pull.received.items, [])
        pull.resumeProducing()
        self.assertEqual(await self.wait(pull.received.waitFor(1)), [[b"only", b"one"]])

    async def test_pauseResumeRepeatedly(self) -> None:
        """
        Pausing and resuming from inside the callback, every few messages,
        loses nothing and keeps the order; nothing is delivered while
        paused.
        """
        pull, address = self.listenSmall(SlowPuller, receiveHighWaterMark=1)
        pull.step = 3
        push = self.pusher(address)
        messages = [big(i, 1024) for i in range(300)]
        ds = [push.sendDeferred(m) for m in messages]
        received = await self.wait(pull.received.waitFor(len(messages)))
        await self.wait(gatherResults(ds))
        self.assertEqual(received, [[m] for m in messages])
        self.assertEqual(pull.deliveredWhilePaused, [])
        self.assertEqual(pull.pauses, 100)

    async def test_pauseSubscriber(self) -> None:
        """
        A paused SUB delivers nothing; the PUB drops what does not fit
        (ZeroMQ's rule for slow subscribers).  Resumed, it delivers what
        was kept, in order, starting with the first message, and what is
        published afterwards.
        """
        pub, address = self.listenSmall(ZmqPubConnection, sendHighWaterMark=1)
        sub = self.make(PausingSubscriber, connect(address), receiveHighWaterMark=1)
        sub.subscribe(b"")
        await self.settle([_publisher(pub)], [sub])
        sub.pauseProducing()
        published = [(b"t", big(i)) for i in range(COUNT)]
        for tag, message in published:
            pub.publish(message, tag)
        await self.quiet()
        self.assertEqual(sub.received.items, [])
        sub.resumeProducing()
        await self.settle([_publisher(pub)], [sub])
        received = list(sub.received.items)
        self.assertTrue(received)
        self.assertEqual(received[0], published[0])
        self.assertTrue(isSubsequence(received, published))
        self.assertEqual(sub.deliveredWhilePaused, [])

    async def test_stopProducing(self) -> None:
        """C{stopProducing} shuts the connection down."""
        pull, _ = self.listen(PausingPuller)
        pull.stopProducing()
        self.assertTrue(pull.closed)
        self.assertNotIn(pull, self.factory.connections)


# ---------------------------------------------------------------------------
# receive() and async iteration


class ReceiveTests(_FlowMixin):
    async def test_receivePull(self) -> None:
        """
        A PULL whose C{onPull} is not overridden keeps its messages:
        each C{receive()} fires with the next one, a list of frames,
        whether it was called before or after the message came.
        """
        pull, address = self.listen(ZmqPullConnection)
        early = pull.receive()
        self.assertNoResult(early)
        push = ZmqPushConnection(self.factory, connect(address))
        for message in [[b"a"], [b"b", b"", b"c"], [b"d"]]:
            push.push(message)
        self.assertEqual(await self.wait(early), [b"a"])
        self.assertEqual(await self.wait(pull.receive()), [b"b", b"", b"c"])
        self.assertEqual(await self.wait(pull.receive()), [b"d"])

    async def test_cancelLosesNothing(self) -> None:
        """
        Cancelling a pending C{receive()} fails it with L{CancelledError}
        and takes no message: the next C{receive()} gets it.
        """
        pull, address = self.listen(ZmqPullConnection)
        first, second, third = pull.receive(), pull.receive(), pull.receive()
        second.cancel()
        self.failureResultOf(second, CancelledError)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        push = ZmqPushConnection(self.factory, connect(address))
        push.push(b"1")
        push.push(b"2")
        self.assertEqual(await self.wait(third), [b"1"])
        self.assertEqual(await self.wait(pull.receive()), [b"2"])

    async def test_bufferBoundPausesReading(self) -> None:
        """
        With C{receiveBufferSize} messages kept and not taken, the
        connection stops reading and the PUSH peer's sends back up;
        taking messages resumes reading, and everything arrives in order.
        """
        pull, address = self.listenSmall(
            ZmqPullConnection, receiveHighWaterMark=1, receiveBufferSize=3
        )
        push = self.pusher(address)
        messages = [big(i) for i in range(COUNT)]
        ds = [push.sendDeferred(m) for m in messages]
        await within(ds[0], self.reactor)
        await self.quiet()
        self.assertNoResult(ds[-1])
        self.assertGreater(push.queuedMessages, 0)
        # The three kept are there at once.
        kept = [self.successResultOf(pull.receive()) for _ in range(3)]
        rest = [await self.wait(pull.receive()) for _ in range(COUNT - 3)]
        self.assertEqual(kept + rest, [[m] for m in messages])
        await self.wait(gatherResults(ds))

    async def test_asyncFor(self) -> None:
        """
        C{async for} over a connection, in a coroutine run by
        C{Deferred.fromCoroutine}, yields the messages in order.
        """
        pull, address = self.listen(ZmqPullConnection)

        async def firstThree() -> list[Any]:
            got = []
            async for message in pull:
                got.append(message)
                if len(got) == 3:
                    break
            return got

        d = Deferred.fromCoroutine(firstThree())
        push = ZmqPushConnection(self.factory, connect(address))
        for i in range(4):
            push.push(b"%d" % i)
        self.assertEqual(await self.wait(d), [[b"0"], [b"1"], [b"2"]])
        # The fourth is still there for the next taker.
        self.assertEqual(await self.wait(pull.receive()), [b"3"])

    async def test_asyncForEndsOnShutdown(self) -> None:
        """
        An C{async for} loop ends (normally) when the connection is shut
        down.
        """
        pull, address = self.listen(ZmqPullConnection)
        got = Collector(self.reactor)

        async def consume() -> str:
            async for message in pull:
                got(message)
            return "ended"

        d = Deferred.fromCoroutine(consume())
        push = ZmqPushConnection(self.factory, connect(address))
        push.push(b"1")
        push.push(b"2")
        await self.wait(got.waitFor(2))
        self.assertNoResult(d)
        pull.shutdown()
        self.assertEqual(await self.wait(d), "ended")
        self.assertEqual(got.items, [[b"1"], [b"2"]])

    async def test_receiveSendOnly(self) -> None:
        """
        PUSH and PUB connections have nothing to receive: C{receive()}
        and C{async for} raise L{TypeError}.
        """
        for cls in [ZmqPushConnection, ZmqPubConnection]:
            conn, _ = self.listen(cls)
            self.assertRaises(TypeError, conn.receive)
            self.assertRaises(TypeError, conn.__aiter__)

    async def test_overriddenCallbackKeepsNothing(self) -> None:
        """
        When C{onPull} is overridden, messages go to it and C{receive()}
        gets none of them.
        """

        pull, address = self.listen(Puller)  # Puller overrides onPull
        d = pull.receive()
        push = ZmqPushConnection(self.factory, connect(address))
        for i in range(3):
            push.push(b"%d" % i)
        self.assertEqual(
            await self.wait(pull.received.waitFor(3)), [[b"0"], [b"1"], [b"2"]]
        )
        self.assertNoResult(d)
        d.cancel()
        self.failureResultOf(d, CancelledError)

    async def test_receivePair(self) -> None:
        """PAIR: a tuple of the frames."""
        a, address = self.listen(ZmqPairConnection)
        b = ZmqPairConnection(self.factory, connect(address))
        b.sendMultipart([b"x", b"", b"y"])
        b.sendMsg(b"z")
        self.assertEqual(await self.wait(a.receive()), (b"x", b"", b"y"))
        self.assertEqual(await self.wait(a.receive()), (b"z",))
        a.sendMsg(b"back")
        self.assertEqual(await self.wait(b.receive()), (b"back",))

    async def test_receiveRouterDealer(self) -> None:
        """ROUTER: C{(senderId, *frames)}; DEALER: a tuple of the frames."""
        router, address = self.listen(ZmqRouterConnection)
        dealer = ZmqDealerConnection(self.factory, connect(address), identity=b"dealer")
        dealer.sendMultipart([b"hi", b"there"])
        self.assertEqual(
            await self.wait(router.receive()), (b"dealer", b"hi", b"there")
        )
        router.sendMultipart(b"dealer", [b"back", b"2"])
        self.assertEqual(await self.wait(dealer.receive()), (b"back", b"2"))

    async def test_receiveSub(self) -> None:
        """SUB: C{(message, tag)}."""
        pub, address = self.listen(ZmqPubConnection)
        sub = ZmqSubConnection(self.factory, connect(address))
        sub.subscribe(b"probe")
        sub.subscribe(b"data")
        first = sub.receive()

        def probe() -> bool:
            if first.called:
                return True
            pub.publish(b"", b"probe")
            return False

        await self.wait(untilTrue(self.reactor, probe))
        self.assertEqual(self.successResultOf(first), (b"", b"probe"))
        for i in range(3):
            pub.publish(b"%d" % i, b"data")
        data = []
        while len(data) < 3:
            message, tag = await self.wait(sub.receive())
            if tag == b"data":
                data.append((message, tag))
        self.assertEqual(data, [(b"0", b"data"), (b"1", b"data"), (b"2", b"data")])

    async def test_receiveXPub(self) -> None:
        """XPUB: C{(tag, subscribed)} for each subscription."""
        xpub, address = self.listen(ZmqXPubConnection)
        sub = ZmqSubConnection(self.factory, connect(address))
        sub.subscribe(b"foo")
        self.assertEqual(await self.wait(xpub.receive()), (b"foo", True))
        sub.unsubscribe(b"foo")
        self.assertEqual(await self.wait(xpub.receive()), (b"foo", False))

    async def test_receiveRep(self) -> None:
        """
        REP: C{(messageId, *parts)}, and the id answers the request.
        """
        rep, address = self.listen(ZmqREPConnection)
        req = ZmqREQConnection(self.factory, connect(address))
        d = req.sendMsg(b"a", b"b")
        request = await self.wait(rep.receive())
        self.assertIsInstance(request, tuple)
        messageId, *parts = request
        self.assertEqual(parts, [b"a", b"b"])
        rep.reply(messageId, b"answer")
        self.assertEqual(await self.wait(d), [b"answer"])


addTransportCases(
    globals(), [SendDeferredTests, ConsumerTests, ProducerTests, ReceiveTests]
)


class BridgeTests(_FlowMixin, unittest.TestCase):
    """A receiving connection as the producer of a Twisted TCP transport."""

    transport = "tcp"

    async def test_bridgeToTcp(self) -> None:
        """
        A PULL registered as the producer of a TCP transport is paused
        when the transport's buffer fills (the TCP reader is slow) and
        resumed when it drains: the bytes arrive in order, and the PUSH
        source is held back meanwhile.
        """
        received = bytearray()
        server: list[Protocol] = []
        serverLost: Deferred[None] = Deferred()

        class Sink(Protocol):
            def connectionMade(self) -> None:
                transport: Any = self.transport
                transport.pauseProducing()
                server.append(self)

            def dataReceived(self, data: bytes) -> None:
                received.extend(data)

            def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
                serverLost.callback(None)

        port = self.reactor.listenTCP(
            0, Factory.forProtocol(Sink), interface="127.0.0.1"
        )
        self.addCleanup(port.stopListening)
        port.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)

        pull, address = self.listenSmall(PausingPuller, receiveHighWaterMark=1)
        pauses: list[int] = []
        original = pull.pauseProducing

        def pauseProducing() -> None:
            pauses.append(len(received))
            original()

        pull.pauseProducing = pauseProducing  # type: ignore[method-assign]

        clientLost: Deferred[None] = Deferred()

        class Bridge(Protocol):
            def connectionMade(self) -> None:
                transport: Any = self.transport
                handle = transport.getHandle()
                handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
                transport.registerProducer(pull, True)
                pull.onPull = self.forward  # type: ignore[method-assign]

            def forward(self, message: list[bytes]) -> None:
                assert self.transport is not None
                if pull.isPaused:
                    pull.deliveredWhilePaused.append(message)
                self.transport.write(message[0])
                pull.received(message)

            def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
                clientLost.callback(None)

        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

        bridge = Bridge()
        await self.wait(
            connectProtocol(
                TCP4ClientEndpoint(self.reactor, "127.0.0.1", port.getHost().port),
                bridge,
            )
        )
        push = self.pusher(address)
        messages = [big(i, SIZE // 4) for i in range(4 * COUNT)]
        ds = [push.sendDeferred(m) for m in messages]
        await self.wait(untilTrue(self.reactor, lambda: bool(pauses), interval=0.001))
        await self.quiet(0.05)
        self.assertNoResult(ds[-1])
        self.assertLess(len(pull.received.items), len(messages))
        await self.wait(untilTrue(self.reactor, lambda: bool(server), interval=0.001))
        serverTransport: Any = server[0].transport
        serverTransport.resumeProducing()
        await self.wait(pull.received.waitFor(len(messages)))
        await self.wait(gatherResults(ds))
        total = b"".join(messages)
        await self.wait(
            untilTrue(self.reactor, lambda: len(received) >= len(total), interval=0.001)
        )
        self.assertEqual(bytes(received), total)
        self.assertEqual(pull.deliveredWhilePaused, [])
        bridgeTransport: Any = bridge.transport
        bridgeTransport.unregisterProducer()
        bridgeTransport.loseConnection()
        await self.wait(gatherResults([clientLost, serverLost]))


# ---------------------------------------------------------------------------
# The same on a fake reactor: what happens on which turn


class _ReactorCase(_FakeReactorCase):
    """
    Real inproc sockets, fake reactor.  The test plays the reactor: it
    calls L{signal} where the descriptor would signal, and runs turns.
    """

    reactor: FakeReactor

    def signal(self, conn: ZmqConnection) -> None:
        """The descriptor signalled: the reactor calls C{doRead}."""
        if conn in self.reactor.getReaders():
            conn.doRead()

    def discard(self, ds: list[Deferred[None]]) -> None:
        """Sends still queued when the factory shuts down fail: expected."""
        for d in ds:
            d.addErrback(lambda f: f.trap(ZmqConnectionClosedError))

    def stalled(self) -> tuple[zmq.Socket[Any], ZmqPushConnection]:
        """
        A raw PULL that reads nothing yet and a PUSH to it; over inproc
        the pipe between them holds two messages.
        """
        address = inprocAddress()
        sock = self.raw(zmq.PULL)
        sock.set(zmq.RCVHWM, 1)
        sock.bind(address)
        push = ZmqPushConnection(self.factory, connect(address), sendHighWaterMark=1)
        self.reactor.advance(0)
        return sock, push

    def settle(self, turns: int = 10) -> None:
        """Run turns until no call is due (fails on an endless loop)."""
        for _ in range(turns):
            if not self.pending():
                return
            self.reactor.runTurn()
        self.fail(f"calls still pending after {turns} turns: {self.pending()!r}")


class SendQueueReactorTests(_ReactorCase):
    def test_firesAtOnce(self) -> None:
        """
        A message libzmq takes is sent within C{sendDeferred}: the
        Deferred has fired and the peer has it, with no pass needed.
        """
        sock, push = self.stalled()
        d = push.sendDeferred([b"a", b"b"])
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(recvNow(sock), [b"a", b"b"])
        self.assertEqual(self.pending(), [])

    def test_queuedUntilRoom(self) -> None:
        """
        The inproc pipe holds two messages; the rest wait.  An idle
        connection with a full queue does not poll (no pass keeps coming
        back); when the peer reads and the descriptor signals, the queue
        is flushed in order.
        """
        sock, push = self.stalled()
        ds = [push.sendDeferred(b"%d" % i) for i in range(6)]
        fired = recordFiring(ds)
        self.assertEqual(fired, [0, 1])
        self.assertEqual((push.queuedMessages, push.queuedBytes), (4, 4))
        self.settle()
        self.assertEqual(fired, [0, 1])
        received = []
        while len(received) < 6:
            received.append(recvNow(sock))
            self.signal(push)
            self.settle()
            self.assertEqual(fired, list(range(len(fired))))
            self.assertGreaterEqual(len(fired), len(received))
        self.assertEqual(fired, list(range(6)))
        self.assertEqual(received, [[b"%d" % i] for i in range(6)])
        self.assertEqual(push.queuedMessages, 0)
        self.assertTrue(nothingToReceive(sock))

    def test_queuedWithoutPeer(self) -> None:
        """
        With no peer, every send waits; connecting one and signalling
        sends them all.
        """
        address = inprocAddress()
        push = ZmqPushConnection(self.factory, bind(address))
        self.reactor.advance(0)
        ds = [push.sendDeferred(b"%d" % i) for i in range(3)]
        self.assertEqual(push.queuedMessages, 3)
        self.settle()
        for d in ds:
            self.assertNoResult(d)
        sock = self.raw(zmq.PULL, connectTo=address)
        self.signal(push)
        self.settle()
        for d in ds:
            self.successResultOf(d)
        self.assertEqual([recvNow(sock) for _ in range(3)], [[b"0"], [b"1"], [b"2"]])

    def test_cancelHead(self) -> None:
        """
        Cancelling the oldest queued send lets the next one go first.
        """
        sock, push = self.stalled()
        ds = [push.sendDeferred(b"%d" % i) for i in range(4)]
        ds[2].cancel()
        self.failureResultOf(ds[2], CancelledError)
        self.assertEqual(push.queuedMessages, 1)
        received = [recvNow(sock), recvNow(sock)]
        self.signal(push)
        self.settle()
        self.successResultOf(ds[3])
        received.append(recvNow(sock))
        self.assertEqual(received, [[b"0"], [b"1"], [b"3"]])
        self.assertTrue(nothingToReceive(sock))

    def test_boundsChangedBySetSocketOptions(self) -> None:
        sock, push = self.stalled()
        push.setSocketOptions(maxQueuedMessages=2)
        ds = [push.sendDeferred(b"%d" % i) for i in range(4)]
        self.addCleanup(self.discard, ds)
        self.assertEqual(push.queuedMessages, 2)
        self.assertRaises(ZmqQueueFullError, push.sendDeferred, b"no")
        push.setSocketOptions(maxQueuedMessages=3)
        ds.append(push.sendDeferred(b"4"))
        self.assertEqual(push.queuedMessages, 3)
        push.setSocketOptions(maxQueuedBytes=3)
        self.assertRaises(ZmqQueueFullError, push.sendDeferred, b"5")
        self.assertEqual(push.queuedMessages, 3)

    def test_settingsChecked(self) -> None:
        for name in ["maxQueuedMessages", "maxQueuedBytes", "receiveBufferSize"]:
            self.assertRaises(ValueError, ZmqPullConnection, self.factory, **{name: 0})
            self.assertRaises(TypeError, ZmqPullConnection, self.factory, **{name: "1"})
            self.assertRaises(TypeError, ZmqPullConnection, self.factory, **{name: 1.5})
        conn = ZmqPullConnection(self.factory)
        self.assertRaises(ValueError, conn.setSocketOptions, receiveBufferSize=-1)
        self.assertEqual(
            (conn.maxQueuedMessages, conn.maxQueuedBytes, conn.receiveBufferSize),
            (1000, 64 * 1024 * 1024, 1000),
        )

    def test_sendAfterQueueDrained(self) -> None:
        """
        C{send()} raises while the queue is not empty, even with room in
        the socket, and works once the queue has been flushed.
        """
        sock, push = self.stalled()
        ds = [push.sendDeferred(b"%d" % i) for i in range(3)]
        recvNow(sock)
        recvNow(sock)
        # Room in the pipe (reading EVENTS makes libzmq see it), but the
        # queue has not been flushed yet: send() must not overtake it.
        self.assertTrue(cast(int, push.socket.get(zmq.EVENTS)) & zmq.POLLOUT)
        self.assertRaises(ZmqWouldBlockError, push.send, b"overtaker")
        self.assertRaises(ZmqWouldBlockError, push.push, b"overtaker")
        self.signal(push)
        self.settle()
        self.successResultOf(ds[2])
        push.send(b"after")
        self.assertEqual([recvNow(sock), recvNow(sock)], [[b"2"], [b"after"]])


class ConsumerReactorTests(_ReactorCase):
    def test_pullProducerAskedOnLaterTurn(self) -> None:
        """
        A pull producer is asked on the turn after it is registered, and
        after each write on the next turn: never inside C{registerProducer}
        or C{write}.
        """
        sock, push = self.stalled()
        producer = PullProducer(push, [b"a", b"b"])
        push.registerProducer(producer, False)
        self.assertEqual(producer.calls, 0)
        self.reactor.runTurn()
        self.assertEqual(producer.calls, 1)
        self.assertEqual(recvNow(sock), [b"a"])
        self.reactor.runTurn()
        self.assertEqual(producer.calls, 2)
        self.reactor.runTurn()
        self.assertEqual(producer.calls, 3)
        self.successResultOf(producer.done)
        self.settle()
        self.assertEqual(producer.calls, 3)
        self.assertEqual(producer.violations, [])

    def test_pullProducerWaitsForQueue(self) -> None:
        """
        While a written message waits in the queue, the pull producer is
        not asked; it is asked on the turn after the queue empties.
        """
        sock, push = self.stalled()
        push.sendDeferred(b"0")
        push.sendDeferred(b"1")
        producer = PullProducer(push, [b"2", b"3"])
        push.registerProducer(producer, False)
        self.reactor.runTurn()
        self.assertEqual(producer.calls, 1)
        self.assertEqual(push.queuedMessages, 1)
        self.settle()
        self.assertEqual(producer.calls, 1)
        recvNow(sock)
        self.signal(push)
        self.assertEqual(push.queuedMessages, 0)
        # Not from inside the pass that flushed the queue.
        self.assertEqual(producer.calls, 1)
        self.reactor.runTurn()
        self.assertEqual(producer.calls, 2)
        self.assertEqual(producer.violations, [])

    def test_streamingProducerPausedInWrite(self) -> None:
        """
        A streaming producer is paused inside the C{write} whose message
        had to wait, and resumed inside the pass that empties the queue.
        """
        sock, push = self.stalled()
        producer = StreamingProducer(push, [b"%d" % i for i in range(8)])
        producer.start()
        self.assertEqual((producer.next, producer.pauses, producer.resumes), (3, 1, 0))
        self.assertEqual(push.queuedMessages, 1)
        received = []
        while len(received) < 8:
            try:
                received.append(sock.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                self.signal(push)
                self.settle()
        self.successResultOf(producer.done)
        self.assertEqual(received, [[b"%d" % i] for i in range(8)])
        self.assertGreaterEqual(producer.resumes, 2)
        self.assertEqual(producer.maxQueued, 1)
        self.assertEqual(producer.violations, [])

    def test_registerWhileQueued(self) -> None:
        """
        A streaming producer registered while messages wait is paused at
        once.
        """
        sock, push = self.stalled()
        for i in range(3):
            push.sendDeferred(b"%d" % i)
        producer = StreamingProducer(push, [b"p"])
        push.registerProducer(producer, True)
        self.assertEqual(producer.pauses, 1)
        recvNow(sock)
        recvNow(sock)
        self.signal(push)
        self.settle()
        self.assertEqual(push.queuedMessages, 0)
        self.assertEqual(producer.resumes, 1)
        self.successResultOf(producer.done)

    def test_unregisterStopsAsking(self) -> None:
        sock, push = self.stalled()
        producer = PullProducer(push, [b"a"])
        push.registerProducer(producer, False)
        push.unregisterProducer()
        self.settle()
        self.assertEqual(producer.calls, 0)
        # Another producer may now register.
        push.registerProducer(PullProducer(push, []), False)

    def test_shutdownStopsPullProducer(self) -> None:
        """
        Shutdown stops the producer and cancels the call asking it for
        more.
        """
        sock, push = self.stalled()
        producer = PullProducer(push, [b"a"])
        push.registerProducer(producer, False)
        push.shutdown()
        self.assertEqual(producer.stops, 1)
        self.settle()
        self.assertEqual(producer.calls, 0)

    def test_writeQueueFull(self) -> None:
        """
        C{write} past the bound raises L{ZmqQueueFullError} (the producer
        did not pause).
        """
        sock, push = self.stalled()
        push.setSocketOptions(maxQueuedMessages=1)
        push.write(b"0")
        push.write(b"1")
        push.write(b"2")
        self.assertRaises(ZmqQueueFullError, push.write, b"3")
        self.assertEqual(push.queuedMessages, 1)


class ProducerReactorTests(_ReactorCase):
    def pull(self, **kwargs: Any) -> tuple[ZmqPullConnection, zmq.Socket[Any]]:
        address = inprocAddress()
        pull = ZmqPullConnection(self.factory, bind(address), **kwargs)
        sock = self.raw(zmq.PUSH, connectTo=address)
        return pull, sock

    def test_plainConnectionKeepsLists(self) -> None:
        """
        A bare L{ZmqConnection} subclass that does not override
        C{messageReceived} keeps each message, a list of frames, for
        C{receive()}.
        """

        class Bare(ZmqConnection):
            socketType = zmq.PULL

        address = inprocAddress()
        conn = Bare(self.factory, bind(address))
        sock = self.raw(zmq.PUSH, connectTo=address)
        sock.send_multipart([b"a", b"b"])
        self.signal(conn)
        self.assertEqual(self.successResultOf(conn.receive()), [b"a", b"b"])
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_pauseOverridesBufferRoom(self) -> None:
        """
        Taking messages resumes reading only if the connection is not
        paused as a producer.
        """
        address = inprocAddress()
        pull = ZmqPullConnection(self.factory, bind(address), receiveBufferSize=1)
        sock = self.raw(zmq.PUSH, connectTo=address)
        for i in range(3):
            sock.send(b"%d" % i)
        self.settle()
        pull.pauseProducing()
        self.assertEqual(self.successResultOf(pull.receive()), [b"0"])
        d = pull.receive()
        self.settle()
        self.signal(pull)
        self.settle()
        self.assertNoResult(d)
        pull.resumeProducing()
        self.settle()
        self.assertEqual(self.successResultOf(d), [b"1"])

    def test_pausedReadsNothing(self) -> None:
        """
        A paused connection reads nothing, however often it is signalled;
        resuming schedules a pass that delivers what waited.
        """
        pull, sock = self.pull()
        pull.pauseProducing()
        for i in range(3):
            sock.send(b"%d" % i)
        d = pull.receive()
        self.settle()
        self.signal(pull)
        self.settle()
        self.assertNoResult(d)
        pull.resumeProducing()
        self.assertNoResult(d)
        self.assertEqual(len(self.pending()), 1)
        self.settle()
        self.assertEqual(self.successResultOf(d), [b"0"])
        self.assertEqual(self.successResultOf(pull.receive()), [b"1"])
        self.assertEqual(self.successResultOf(pull.receive()), [b"2"])

    def test_pauseInsideCallback(self) -> None:
        """
        Pausing from inside C{onPull} stops the batch after that message.
        """

        class PauseAfterOne(ZmqPullConnection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.pulled: list[list[bytes]] = []
                super().__init__(*args, **kwargs)

            def onPull(self, message: list[bytes]) -> None:
                self.pulled.append(message)
                self.pauseProducing()

        address = inprocAddress()
        pull = PauseAfterOne(self.factory, bind(address))
        sock = self.raw(zmq.PUSH, connectTo=address)
        for i in range(4):
            sock.send(b"%d" % i)
        self.signal(pull)
        self.assertEqual(pull.pulled, [[b"0"]])
        self.settle()
        self.signal(pull)
        self.assertEqual(pull.pulled, [[b"0"]])
        for expected in range(1, 4):
            pull.resumeProducing()
            self.settle()
            self.assertEqual(len(pull.pulled), expected + 1)
        self.assertEqual(pull.pulled, [[b"%d" % i] for i in range(4)])

    def test_bufferBoundStopsReading(self) -> None:
        """
        Once C{receiveBufferSize} messages are kept, the connection stops
        reading: the peer's sends back up (over inproc with high-water
        marks of 1, the pipe holds two).  Taking a message resumes
        reading.
        """
        address = inprocAddress()
        pull = ZmqPullConnection(
            self.factory, bind(address), receiveBufferSize=2, receiveHighWaterMark=1
        )
        sock = self.raw(zmq.PUSH)
        sock.set(zmq.SNDHWM, 1)
        sock.connect(address)
        self.settle()
        sent = 0

        def sendAll() -> int:
            nonlocal sent
            count = 0
            # Let libzmq process the reader's commands (a NOBLOCK send
            # only does so now and then), as polling the socket would.
            sock.get(zmq.EVENTS)
            while True:
                try:
                    sock.send(b"%d" % sent, zmq.NOBLOCK)
                except zmq.Again:
                    return count
                sent += 1
                count += 1

        self.assertEqual(sendAll(), 2)
        self.signal(pull)
        self.settle()
        # The connection read two and kept them: room for two more.
        self.assertEqual(sendAll(), 2)
        self.signal(pull)
        self.settle()
        # It did not read those: the pipe is full.
        self.assertEqual(sendAll(), 0)
        self.assertEqual(self.successResultOf(pull.receive()), [b"0"])
        self.settle()
        received = [[b"0"]]
        for _ in range(sent - 1):
            d = pull.receive()
            self.settle()
            received.append(self.successResultOf(d))
        self.assertEqual(received, [[b"%d" % i] for i in range(sent)])

    def test_receiveAfterShutdown(self) -> None:
        """
        After shutdown, kept messages are still returned; then
        C{receive()} fails with L{ZmqConnectionClosedError}.  A pending
        C{receive()} fails at shutdown.
        """
        pull, sock = self.pull()
        for i in range(2):
            sock.send(b"%d" % i)
        self.settle()
        pull.shutdown()
        self.assertEqual(self.successResultOf(pull.receive()), [b"0"])
        self.assertEqual(self.successResultOf(pull.receive()), [b"1"])
        self.failureResultOf(pull.receive(), ZmqConnectionClosedError)

        other, _ = self.pull()
        pending = other.receive()
        other.shutdown()
        self.failureResultOf(pending, ZmqConnectionClosedError)

    def test_asyncForAfterShutdown(self) -> None:
        """
        C{async for} over a shut-down connection yields the kept messages,
        then ends.
        """
        pull, sock = self.pull()
        for i in range(3):
            sock.send(b"%d" % i)
        self.settle()
        pull.shutdown()

        async def consume() -> list[Any]:
            return [message async for message in pull]

        d = Deferred.fromCoroutine(consume())
        self.assertEqual(self.successResultOf(d), [[b"0"], [b"1"], [b"2"]])

    def test_cancelAsyncForLosesNothing(self) -> None:
        """
        Cancelling a coroutine waiting in C{async for} cancels its pending
        C{receive()}: the next message is kept for the next taker.
        """
        pull, sock = self.pull()
        got: list[Any] = []

        async def consume() -> None:
            async for message in pull:
                got.append(message)

        d = Deferred.fromCoroutine(consume())
        self.settle()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        sock.send(b"a")
        self.signal(pull)
        self.settle()
        self.assertEqual(self.successResultOf(pull.receive()), [b"a"])
        self.assertEqual(got, [])

    def test_asyncForWaits(self) -> None:
        """
        C{async for} waits for messages as they come, turn by turn.
        """
        pull, sock = self.pull()
        got: list[Any] = []

        async def consume() -> int:
            async for message in pull:
                got.append(message)
            return len(got)

        d = Deferred.fromCoroutine(consume())
        self.settle()
        self.assertEqual(got, [])
        sock.send(b"a")
        self.signal(pull)
        self.assertEqual(got, [[b"a"]])
        sock.send(b"b")
        self.signal(pull)
        self.assertEqual(got, [[b"a"], [b"b"]])
        pull.shutdown()
        self.assertEqual(self.successResultOf(d), 2)

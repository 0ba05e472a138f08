"""
Integration tests: every socket pattern on real ZeroMQ sockets, driven by
the reactor trial runs, over inproc, ipc and tcp.

Each C{*Tests} mixin below is run once per transport (see the bottom of
the module).  Publishers and subscribers meet with L{settle}: control
messages are published until every subscriber has seen one, which both
waits out ZeroMQ's slow-joiner window and, later, acts as a fence proving
that everything published before it has been delivered.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import zmq
from twisted.internet.defer import Deferred, gatherResults
from twisted.trial import unittest

from txzmq import (
    ZmqConnection,
    ZmqDealerConnection,
    ZmqFactory,
    ZmqPairConnection,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqWouldBlockError,
    ZmqXPubConnection,
    ZmqXSubConnection,
)
from txzmq.test._helpers import (
    TIMEOUT,
    Collector,
    TransportMixin,
    addTransportCases,
    bind,
    boundAddress,
    connect,
    untilTrue,
)

if TYPE_CHECKING:
    _Base = unittest.TestCase
else:
    _Base = object

_C = TypeVar("_C", bound=ZmqConnection)
_T = TypeVar("_T")

CONTROL = b"\xffcontrol-"
"""Tag prefix of the control messages L{settle} publishes."""

_tokens = itertools.count()


def within(d: Deferred[_T], reactor: Any, seconds: float = TIMEOUT) -> Deferred[_T]:
    """Fail C{d} with a timeout instead of letting a lost message hang."""
    return d.addTimeout(seconds, reactor)


class _Receiver:
    """
    Shared by the subscriber classes: test messages go to C{received},
    control tags to C{control}.
    """

    received: Collector
    control: set[bytes]

    def _record(self, message: bytes, tag: bytes) -> None:
        if tag.startswith(CONTROL):
            self.control.add(tag)
        else:
            self.received((tag, message))


class Subscriber(_Receiver, ZmqSubConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)
        self.control = set()

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self._record(message, tag)


class XSubscriber(_Receiver, ZmqXSubConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)
        self.control = set()

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self._record(message, tag)


class XPublisher(ZmqXPubConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.subscriptions = Collector(factory.reactor)

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        if not tag.startswith(CONTROL):
            self.subscriptions((tag, subscribed))


class Puller(ZmqPullConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)

    def onPull(self, message: list[bytes]) -> None:
        self.received(message)


class FrameRecorder(ZmqPairConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)

    def gotMessage(self, *frames: bytes) -> None:
        self.received(list(frames))


class Dealer(ZmqDealerConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)

    def gotMessage(self, *frames: bytes) -> None:
        self.received(list(frames))


class Router(ZmqRouterConnection):
    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)

    def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
        self.received((senderId, list(frames)))


class EchoREP(ZmqREPConnection):
    """Answers every request with C{[b"echo", *parts]}."""

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.reply(messageId, b"echo", *messageParts)


class HoldingREP(ZmqREPConnection):
    """Records requests and answers none: the test replies."""

    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.requests = Collector(factory.reactor)

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.requests((messageId, list(messageParts)))


class DelayedREP(ZmqREPConnection):
    """Answers each request C{delay} seconds after it came."""

    delay = 0.05

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.factory.reactor.callLater(
            self.delay, self.reply, messageId, b"later", *messageParts
        )


class PlainREQ(ZmqConnection):
    """A plain ZeroMQ REQ socket: it adds and strips the delimiter itself."""

    socketType = zmq.REQ

    def __init__(self, factory: ZmqFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(factory, *args, **kwargs)
        self.received = Collector(factory.reactor)

    def messageReceived(self, message: list[bytes]) -> None:
        self.received(message)


class _TransportMixin(TransportMixin):
    """
    A factory on trial's reactor, addresses for the transport named by
    C{transport}, and ways to meet peers on them.
    """

    timeout = 30

    def listen(self, cls: Callable[..., _C], **kwargs: Any) -> tuple[_C, str]:
        """Create a connection bound to a new address; return it and the
        address peers connect to."""
        connection = cls(self.factory, bind(self.newAddress()), **kwargs)
        return connection, boundAddress(connection)

    def listenWithRawPeer(
        self, cls: Callable[..., _C], socketType: int, **kwargs: Any
    ) -> tuple[_C, zmq.Socket[bytes]]:
        """A connection bound to a new address, and a raw socket of
        C{socketType} connected to it."""
        connection, address = self.listen(cls, **kwargs)
        raw = self.rawSocket(socketType)
        raw.connect(address)
        return connection, raw

    def rawListen(self, socketType: int) -> tuple[zmq.Socket[bytes], str]:
        sock = self.rawSocket(socketType)
        sock.bind(self.newAddress())
        return sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def settle(
        self,
        senders: Iterable[Callable[[bytes], object]],
        receivers: Iterable[_Receiver],
    ) -> Deferred[None]:
        """
        Publish a control message from every sender until every receiver
        has seen all of them.  Everything a sender published before is
        then delivered (ZeroMQ keeps order per pipe).
        """
        senders = list(senders)
        receivers = list(receivers)
        token = next(_tokens)
        tags = [CONTROL + b"%d-%d" % (token, i) for i in range(len(senders))]

        def step() -> bool:
            if all(tag in r.control for r in receivers for tag in tags):
                return True
            for send, tag in zip(senders, tags, strict=True):
                send(tag)
            return False

        return untilTrue(self.reactor, step)


def _publisher(pub: ZmqPubConnection) -> Callable[[bytes], None]:
    return lambda tag: pub.publish(b"", tag)


class PubSubTests(_TransportMixin):
    async def _pubAndSub(self, *tags: bytes) -> tuple[ZmqPubConnection, Subscriber]:
        pub, address = self.listen(ZmqPubConnection)
        sub = Subscriber(self.factory, connect(address))
        for tag in tags:
            sub.subscribe(tag)
        sub.subscribe(CONTROL)
        await self.settle([_publisher(pub)], [sub])
        return pub, sub

    async def test_topics(self) -> None:
        """
        Only messages whose tag starts with a subscribed prefix arrive,
        in order, as C{(message, tag)}.
        """
        pub, sub = await self._pubAndSub(b"tag")
        pub.publish(b"xyz", b"different-tag")
        pub.publish(b"abcd", b"tag1")
        pub.publish(b"no", b"ta")
        pub.publish(b"efgh", b"tag2")
        pub.publish(b"", b"tag")
        await self.settle([_publisher(pub)], [sub])
        self.assertEqual(
            sub.received.items,
            [(b"tag1", b"abcd"), (b"tag2", b"efgh"), (b"tag", b"")],
        )

    async def test_prefixMatching(self) -> None:
        """
        A subscription is a prefix of C{tag + separator + message}:
        b"news" matches b"newsletter" but not b"new" or b"nEws".
        """
        pub, sub = await self._pubAndSub(b"news")
        for tag in [b"news", b"new", b"newsletter", b"nEws", b"sports", b"news/uk"]:
            pub.publish(b"body-" + tag, tag)
        await self.settle([_publisher(pub)], [sub])
        self.assertEqual(
            sub.received.items,
            [
                (b"news", b"body-news"),
                (b"newsletter", b"body-newsletter"),
                (b"news/uk", b"body-news/uk"),
            ],
        )

    async def test_subscribeEverything(self) -> None:
        """An empty subscription receives every tag, the empty one too."""
        pub, sub = await self._pubAndSub(b"")
        pub.publish(b"one", b"a")
        pub.publish(b"two", b"")
        pub.publish(b"with\0nul", b"b")
        await self.settle([_publisher(pub)], [sub])
        self.assertEqual(
            sub.received.items, [(b"a", b"one"), (b"", b"two"), (b"b", b"with\0nul")]
        )

    async def test_unsubscribe(self) -> None:
        """After unsubscribe, the tag no longer arrives; others still do."""
        pub, sub = await self._pubAndSub(b"a", b"b")
        pub.publish(b"1", b"a")
        pub.publish(b"1", b"b")
        await self.wait(sub.received.waitFor(2))
        sub.unsubscribe(b"a")
        pub.publish(b"2", b"a")
        pub.publish(b"2", b"b")
        await self.settle([_publisher(pub)], [sub])
        self.assertEqual(sub.received.items, [(b"a", b"1"), (b"b", b"1"), (b"b", b"2")])

    async def test_severalSubscribers(self) -> None:
        """Each subscriber of one publisher gets what it subscribed to."""
        pub, address = self.listen(ZmqPubConnection)
        subs = [Subscriber(self.factory, connect(address)) for _ in range(3)]
        for sub, tag in zip(subs, [b"a", b"b", b""], strict=True):
            sub.subscribe(tag)
            sub.subscribe(CONTROL)
        await self.settle([_publisher(pub)], subs)
        pub.publish(b"1", b"a")
        pub.publish(b"2", b"b")
        pub.publish(b"3", b"c")
        await self.settle([_publisher(pub)], subs)
        self.assertEqual(
            [sub.received.items for sub in subs],
            [
                [(b"a", b"1")],
                [(b"b", b"2")],
                [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")],
            ],
        )

    async def test_severalPublishers(self) -> None:
        """
        One subscriber connected to several publishers gets the messages of
        all of them, each publisher's in order.
        """
        pubs, addresses = zip(
            *(self.listen(ZmqPubConnection) for _ in range(3)), strict=True
        )
        sub = Subscriber(self.factory, connect(addresses[0]))
        sub.addEndpoints([connect(address) for address in addresses[1:]])
        sub.subscribe(b"")
        await self.settle([_publisher(pub) for pub in pubs], [sub])
        for n in range(5):
            for i, pub in enumerate(pubs):
                pub.publish(b"%d" % n, b"pub%d" % i)
        await self.settle([_publisher(pub) for pub in pubs], [sub])
        for i in range(3):
            self.assertEqual(
                [m for t, m in sub.received.items if t == b"pub%d" % i],
                [b"0", b"1", b"2", b"3", b"4"],
            )
        self.assertEqual(len(sub.received.items), 15)

    async def test_twoFrameTopics(self) -> None:
        """
        Messages published as two frames C{[tag, message]} by a plain
        pyzmq PUB socket arrive as C{(message, tag)}, like one-frame ones.
        """
        raw, address = self.rawListen(zmq.PUB)
        sub = Subscriber(self.factory, connect(address))
        sub.subscribe(b"weather")
        sub.subscribe(CONTROL)

        def send(tag: bytes) -> None:
            raw.send_multipart([tag, b""], zmq.NOBLOCK)

        await self.settle([send], [sub])
        raw.send_multipart([b"weather", b"sunny"], zmq.NOBLOCK)
        raw.send_multipart([b"sports", b"won"], zmq.NOBLOCK)
        raw.send(b"weather\0rain", zmq.NOBLOCK)
        raw.send_multipart([b"weather/uk", b""], zmq.NOBLOCK)
        await self.settle([send], [sub])
        self.assertEqual(
            sub.received.items,
            [(b"weather", b"sunny"), (b"weather", b"rain"), (b"weather/uk", b"")],
        )

    async def test_topicSeparator(self) -> None:
        """A custom C{topicSep} is used on both sides."""
        pub, address = self.listen(ZmqPubConnection, topicSep=b" | ")
        sub = Subscriber(self.factory, connect(address), topicSep=b" | ")
        sub.subscribe(b"")
        await self.settle([_publisher(pub)], [sub])
        pub.publish(b"a | b", b"t")
        await self.settle([_publisher(pub)], [sub])
        self.assertEqual(sub.received.items, [(b"t", b"a | b")])


class XPubXSubTests(_TransportMixin):
    async def test_xpubSeesSubscriptions(self) -> None:
        """
        XPUB's gotSubscription is called for a subscription and for the
        matching unsubscription.
        """
        xpub, address = self.listen(XPublisher)
        sub = Subscriber(self.factory, connect(address))
        sub.subscribe(b"foo")
        self.assertEqual(
            await self.wait(xpub.subscriptions.waitFor(1)), [(b"foo", True)]
        )
        sub.unsubscribe(b"foo")
        self.assertEqual(
            await self.wait(xpub.subscriptions.waitFor(2)),
            [(b"foo", True), (b"foo", False)],
        )

    async def test_xpubDuplicateSubscriptions(self) -> None:
        """
        Without verboseSubscriptions, a second subscriber's subscription to
        the same tag is not passed on; with it, it is.
        """
        for verbose, expected in [
            (False, [(b"foo", True), (b"bar", True)]),
            (True, [(b"foo", True), (b"foo", True), (b"bar", True)]),
        ]:
            xpub, address = self.listen(XPublisher, verboseSubscriptions=verbose)
            first = Subscriber(self.factory, connect(address))
            first.subscribe(b"foo")
            await self.wait(xpub.subscriptions.waitFor(1))
            second = Subscriber(self.factory, connect(address))
            second.subscribe(b"foo")
            second.subscribe(b"bar")
            await self.wait(xpub.subscriptions.waitFor(len(expected)))
            self.assertEqual(xpub.subscriptions.items, expected)

    async def test_xsubThroughXpub(self) -> None:
        """
        XSUB's subscribe and unsubscribe reach an XPUB, which then
        publishes to it only what it subscribed to.
        """
        xpub, address = self.listen(XPublisher)
        xsub = XSubscriber(self.factory, connect(address))
        xsub.subscribe(CONTROL)
        xsub.subscribe(b"foo")
        self.assertEqual(
            await self.wait(xpub.subscriptions.waitFor(1)), [(b"foo", True)]
        )
        xpub.publish(b"hello", b"foo")
        xpub.publish(b"nope", b"bar")
        await self.settle([_publisher(xpub)], [xsub])
        self.assertEqual(xsub.received.items, [(b"foo", b"hello")])

        xsub.unsubscribe(b"foo")
        self.assertEqual(
            await self.wait(xpub.subscriptions.waitFor(2)),
            [(b"foo", True), (b"foo", False)],
        )
        xpub.publish(b"gone", b"foo")
        await self.settle([_publisher(xpub)], [xsub])
        self.assertEqual(xsub.received.items, [(b"foo", b"hello")])


def pump(
    reactor: Any, send: Callable[[Any], None], messages: Iterable[Any]
) -> Deferred[None]:
    """
    Send C{messages} in order as fast as libzmq takes them: when
    C{send} raises L{ZmqWouldBlockError} (high-water mark, or no peer
    yet), try the same message again a little later.
    """
    pending = iter(messages)
    done: Deferred[None] = Deferred()
    current: list[Any] = []

    def run() -> None:
        while True:
            if not current:
                try:
                    current.append(next(pending))
                except StopIteration:
                    done.callback(None)
                    return
            try:
                send(current[0])
            except ZmqWouldBlockError:
                reactor.callLater(0.001, run)
                return
            except BaseException:
                done.errback()
                return
            current.clear()

    run()
    return done


class PushPullTests(_TransportMixin):
    async def test_multipart(self) -> None:
        """Multipart messages, empty and large frames included, arrive whole."""
        pull, address = self.listen(Puller)
        push = ZmqPushConnection(self.factory, connect(address))
        messages = [
            [b"a"],
            [b"a", b"", b"c"],
            [b"", b""],
            [b"x" * 100000, b"y" * 10],
            [b"\0"] * 20,
        ]
        await self.wait(pump(self.reactor, push.push, messages))
        self.assertEqual(await self.wait(pull.received.waitFor(5)), messages)

    async def test_manyInOrder(self) -> None:
        """5000 messages pushed against the high-water mark arrive in order."""
        pull, address = self.listen(Puller)
        push = ZmqPushConnection(self.factory, connect(address))
        messages = [[b"%d" % i] for i in range(5000)]
        await self.wait(pump(self.reactor, push.push, messages))
        self.assertEqual(await self.wait(pull.received.waitFor(5000)), messages)

    async def test_pushBindsPullConnects(self) -> None:
        """
        A bound PUSH with no peer yet refuses to send (ZmqWouldBlockError),
        then delivers once a PULL has connected.
        """
        push, address = self.listen(ZmqPushConnection)
        self.assertRaises(ZmqWouldBlockError, push.push, b"too early")
        pull = Puller(self.factory, connect(address))
        messages = [[b"%d" % i, b"part"] for i in range(100)]
        await self.wait(pump(self.reactor, push.push, messages))
        self.assertEqual(await self.wait(pull.received.waitFor(100)), messages)

    async def test_fanIn(self) -> None:
        """One PULL gets every message of several PUSHes, each in order."""
        pull, address = self.listen(Puller)
        pushes = [ZmqPushConnection(self.factory, connect(address)) for _ in range(3)]
        await self.wait(
            gatherResults(
                [
                    pump(
                        self.reactor,
                        push.push,
                        [[b"%d" % i, b"%d" % n] for n in range(300)],
                    )
                    for i, push in enumerate(pushes)
                ]
            )
        )
        received = await self.wait(pull.received.waitFor(900))
        for i in range(3):
            self.assertEqual(
                [n for p, n in received if p == b"%d" % i],
                [b"%d" % n for n in range(300)],
            )


class PairTests(_TransportMixin):
    async def test_bothWays(self) -> None:
        """PAIR sockets talk both ways, one- and multi-frame."""
        a, address = self.listen(FrameRecorder)
        b = FrameRecorder(self.factory, connect(address))
        b.sendMsg(b"hello")
        self.assertEqual(await self.wait(a.received.waitFor(1)), [[b"hello"]])
        a.sendMultipart([b"hi", b"", b"there"])
        a.sendMsg(b"again")
        self.assertEqual(
            await self.wait(b.received.waitFor(2)), [[b"hi", b"", b"there"], [b"again"]]
        )

    async def test_echoInOrder(self) -> None:
        """Messages echoed from the callback come back in order."""

        class Echo(ZmqPairConnection):
            def gotMessage(self, *frames: bytes) -> None:
                self.sendMultipart([b"re", *frames])

        echo, address = self.listen(Echo)
        client = FrameRecorder(self.factory, connect(address))
        messages = [[b"%d" % i] for i in range(200)]
        await self.wait(pump(self.reactor, client.sendMultipart, messages))
        self.assertEqual(
            await self.wait(client.received.waitFor(200)),
            [[b"re", *m] for m in messages],
        )


class RouterDealerTests(_TransportMixin):
    async def test_identityRouting(self) -> None:
        """
        A ROUTER sees each DEALER's identity, and replies addressed with it
        reach that DEALER only.
        """
        router, address = self.listen(Router)
        names = [b"dealer-1", b"dealer-2", b"dealer-3"]
        dealers = [Dealer(self.factory, connect(address), identity=n) for n in names]
        for name, dealer in zip(names, dealers, strict=True):
            dealer.sendMultipart([b"hello from", name])
        received = await self.wait(router.received.waitFor(3))
        self.assertEqual(sorted(received), [(n, [b"hello from", n]) for n in names])
        for name in reversed(names):
            router.sendMultipart(name, [b"for", name])
            router.sendMsg(name, b"single")
        for name, dealer in zip(names, dealers, strict=True):
            self.assertEqual(
                await self.wait(dealer.received.waitFor(2)),
                [[b"for", name], [b"single"]],
            )

    async def test_generatedIdentity(self) -> None:
        """A DEALER without identity gets one from the ROUTER, usable to reply."""
        router, address = self.listen(Router)
        dealer = Dealer(self.factory, connect(address))
        dealer.sendMsg(b"anonymous")
        [(senderId, frames)] = await self.wait(router.received.waitFor(1))
        self.assertEqual(frames, [b"anonymous"])
        self.assertTrue(senderId)
        router.sendMsg(senderId, b"found you")
        self.assertEqual(await self.wait(dealer.received.waitFor(1)), [[b"found you"]])

    async def test_dealerRoundRobin(self) -> None:
        """A DEALER connected to two ROUTERs spreads messages over both."""
        (r1, a1), (r2, a2) = self.listen(Router), self.listen(Router)
        dealer = Dealer(self.factory, connect(a1), identity=b"d")
        dealer.addEndpoints([connect(a2)])
        # Connecting DEALERs queue on both pipes at once: no slow joiner.
        for i in range(10):
            dealer.sendMsg(b"%d" % i)
        first = await self.wait(r1.received.waitFor(5))
        second = await self.wait(r2.received.waitFor(5))
        self.assertEqual(sorted(int(f[0]) for _, f in first + second), list(range(10)))


class ReqRepTests(_TransportMixin):
    async def test_single(self) -> None:
        """A request gets its reply, multipart both ways."""
        rep, address = self.listen(EchoREP)
        req = ZmqREQConnection(self.factory, connect(address))
        reply = await self.wait(req.sendMsg(b"a", b"", b"c"))
        self.assertEqual(reply, [b"echo", b"a", b"", b"c"])

    async def test_pipelined(self) -> None:
        """
        200 requests in flight at once, answered in reverse order, each get
        their own reply.
        """
        rep, address = self.listen(HoldingREP)
        req = ZmqREQConnection(self.factory, connect(address))
        ds = [req.sendMsg(b"%d" % i) for i in range(200)]
        requests = await self.wait(rep.requests.waitFor(200))
        for messageId, parts in reversed(requests):
            rep.reply(messageId, b"re", *parts)
        replies = await self.wait(gatherResults(ds))
        self.assertEqual(replies, [[b"re", b"%d" % i] for i in range(200)])

    async def test_severalClients(self) -> None:
        """Interleaved requests of several REQ connections are told apart."""
        rep, address = self.listen(EchoREP)
        reqs = [ZmqREQConnection(self.factory, connect(address)) for _ in range(3)]
        ds = [
            req.sendMsg(b"client%d" % c, b"%d" % i)
            for i in range(20)
            for c, req in enumerate(reqs)
        ]
        replies = await self.wait(gatherResults(ds))
        self.assertEqual(
            replies,
            [
                [b"echo", b"client%d" % c, b"%d" % i]
                for i in range(20)
                for c in range(3)
            ],
        )

    async def test_delayedReply(self) -> None:
        """A reply sent later, from a timer, still reaches its request."""
        rep, address = self.listen(DelayedREP)
        req = ZmqREQConnection(self.factory, connect(address))
        d1 = req.sendMsg(b"1")
        d2 = req.sendMsg(b"2", timeout=5)
        self.assertEqual(
            await self.wait(gatherResults([d1, d2])),
            [[b"later", b"1"], [b"later", b"2"]],
        )

    async def test_plainReqSocket(self) -> None:
        """
        A plain ZeroMQ REQ socket is a client too: its identity serves as
        the request id.
        """
        rep, address = self.listen(HoldingREP)
        plain = PlainREQ(self.factory, connect(address), identity=b"plain")
        plain.send(b"hello")
        [(messageId, parts)] = await self.wait(rep.requests.waitFor(1))
        self.assertEqual((messageId, parts), (b"plain", [b"hello"]))
        rep.reply(messageId, b"world", b"!")
        self.assertEqual(await self.wait(plain.received.waitFor(1)), [[b"world", b"!"]])
        # REQ's lock-step: a second round works too.
        plain.send([b"again", b"2"])
        [_, (messageId, parts)] = await self.wait(rep.requests.waitFor(2))
        self.assertEqual(parts, [b"again", b"2"])
        rep.reply(messageId, b"ok")
        self.assertEqual(
            await self.wait(plain.received.waitFor(2)), [[b"world", b"!"], [b"ok"]]
        )

    async def test_timeoutThenLateReply(self) -> None:
        """
        A request that times out fails with ZmqRequestTimeoutError; its
        reply, arriving late just before the reply to a newer request, is
        dropped rather than given to the newer one.
        """
        rep, address = self.listen(HoldingREP)
        req = ZmqREQConnection(self.factory, connect(address))
        d1 = req.sendMsg(b"first", timeout=0.2)
        await self.wait(self.assertFailure(d1, ZmqRequestTimeoutError))
        d2 = req.sendMsg(b"second", timeout=5)
        [(firstId, first), (secondId, second)] = await self.wait(
            rep.requests.waitFor(2)
        )
        self.assertEqual((first, second), ([b"first"], [b"second"]))
        rep.reply(firstId, b"late reply to first")
        rep.reply(secondId, b"reply to second")
        self.assertEqual(await self.wait(d2), [b"reply to second"])


addTransportCases(
    globals(),
    [
        PubSubTests,
        XPubXSubTests,
        PushPullTests,
        PairTests,
        RouterDealerTests,
        ReqRepTests,
    ],
)

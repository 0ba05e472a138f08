"""
txZMQ 1.0 programs run unchanged.

The little programs below are written the way txZMQ 1.0 code was: module
paths such as C{txzmq.req_rep}, settings as class attributes,
C{factory.reactor = reactor}, C{registerForShutdown()}, the deprecated
XREQ/XREP classes.  They talk over real sockets on trial's reactor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet.defer import CancelledError, Deferred, gatherResults
from twisted.internet.interfaces import IReactorCore, IReactorFDSet
from twisted.internet.test.reactormixins import ReactorBuilder
from twisted.trial import unittest

import txzmq
from txzmq.test._helpers import (
    TIMEOUT,
    Collector,
    boundAddress,
    inprocAddress,
    untilTrue,
)

TXZMQ_10_ALL = [
    "ZmqConnection",
    "ZmqEndpoint",
    "ZmqEndpointType",
    "ZmqFactory",
    "ZmqPushConnection",
    "ZmqPullConnection",
    "ZmqPubConnection",
    "ZmqSubConnection",
    "ZmqREQConnection",
    "ZmqREPConnection",
    "ZmqRouterConnection",
    "ZmqDealerConnection",
    "ZmqRequestTimeoutError",
]
"""C{txzmq.__all__} of txZMQ 1.0."""

TXZMQ_10_MODULES = {
    "txzmq.connection": ["ZmqConnection", "ZmqEndpoint", "ZmqEndpointType"],
    "txzmq.factory": ["ZmqFactory"],
    "txzmq.pubsub": ["ZmqPubConnection", "ZmqSubConnection"],
    "txzmq.pushpull": ["ZmqPushConnection", "ZmqPullConnection"],
    "txzmq.req_rep": [
        "ZmqREQConnection",
        "ZmqREPConnection",
        "ZmqRequestTimeoutError",
        "ZmqXREQConnection",
        "ZmqXREPConnection",
    ],
    "txzmq.router_dealer": ["ZmqBase", "ZmqRouterConnection", "ZmqDealerConnection"],
}
"""Where txZMQ 1.0 programs import names from."""

if TYPE_CHECKING:
    from txzmq.factory import ZmqFactory

    _SyncBase = unittest.SynchronousTestCase
else:
    _SyncBase = object


def _oldStyleFactory(reactor: Any) -> ZmqFactory:
    """A factory made the txZMQ 1.0 way: C{reactor} set after
    construction, then registered for shutdown."""
    from txzmq.factory import ZmqFactory

    factory = ZmqFactory()
    factory.reactor = reactor
    factory.registerForShutdown()
    return factory


class NamesTests(unittest.SynchronousTestCase):
    def test_all(self) -> None:
        """Every name of txZMQ 1.0's C{__all__} is still exported."""
        missing = [name for name in TXZMQ_10_ALL if name not in txzmq.__all__]
        self.assertEqual(missing, [])
        for name in TXZMQ_10_ALL:
            self.assertTrue(hasattr(txzmq, name), name)

    def test_modulePaths(self) -> None:
        """
        txZMQ 1.0's modules exist and hold the same classes as the package.
        """
        for moduleName, names in TXZMQ_10_MODULES.items():
            module = importlib.import_module(moduleName)
            for name in names:
                value = getattr(module, name)
                if name in TXZMQ_10_ALL:
                    self.assertIs(value, getattr(txzmq, name), f"{moduleName}.{name}")

    def test_endpoint(self) -> None:
        """ZmqEndpoint is still a (type, address) named tuple."""
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType

        endpoint = ZmqEndpoint(ZmqEndpointType.bind, "inproc://x")
        self.assertEqual(endpoint, ("bind", "inproc://x"))
        self.assertEqual((endpoint.type, endpoint.address), ("bind", "inproc://x"))
        self.assertEqual(ZmqEndpointType.connect, "connect")

    def test_timeoutErrorIsAnException(self) -> None:
        """Code catching Exception (txZMQ 1.0's base) still catches it."""
        from txzmq.req_rep import ZmqRequestTimeoutError

        self.assertTrue(issubclass(ZmqRequestTimeoutError, Exception))


class _OldStyleCase(unittest.TestCase):
    """
    A test whose factory is made the txZMQ 1.0 way.
    """

    timeout = 30

    def setUp(self) -> None:
        from twisted.internet import reactor

        self.reactor: Any = reactor
        factory = _oldStyleFactory(reactor)
        self.addCleanup(factory.shutdown)
        self.factory = factory

    def tcp(self) -> str:
        return "tcp://127.0.0.1:*"

    def wait(self, d: Deferred[Any]) -> Deferred[Any]:
        return d.addTimeout(TIMEOUT, self.reactor)


class PushPullProgramTests(_OldStyleCase):
    async def test_unlimitedHighWaterMark(self) -> None:
        """
        A txZMQ 1.0 program relying on C{highWaterMark = 0} (1.0's default:
        no limit) may send thousands of messages in a tight loop.
        """
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.pushpull import ZmqPullConnection, ZmqPushConnection

        received = Collector(self.reactor)

        class Sender(ZmqPushConnection):
            highWaterMark = 0

        class Receiver(ZmqPullConnection):
            highWaterMark = 0

            def onPull(self, message: list[bytes]) -> None:
                received(message)

        receiver = Receiver(self.factory, ZmqEndpoint(ZmqEndpointType.bind, self.tcp()))
        sender = Sender(
            self.factory, ZmqEndpoint(ZmqEndpointType.connect, boundAddress(receiver))
        )
        for i in range(5000):
            sender.push(str(i).encode())
        sender.push([b"0" * 10000, b"1" * 10000])
        messages = await self.wait(received.waitFor(5001))
        self.assertEqual(messages[:5000], [[str(i).encode()] for i in range(5000)])
        self.assertEqual(messages[5000], [b"0" * 10000, b"1" * 10000])

    async def test_rawConnectionSubclass(self) -> None:
        """
        A 1.0-style subclass of ZmqConnection with a socketType and
        messageReceived, several endpoints, identity given positionally.
        """
        from zmq import constants

        from txzmq.connection import ZmqConnection, ZmqEndpoint, ZmqEndpointType

        class ZmqTestSender(ZmqConnection):
            socketType = constants.PUSH

        class ZmqTestReceiver(ZmqConnection):
            socketType = constants.PULL

            def messageReceived(self, message: list[bytes]) -> None:
                if not hasattr(self, "messages"):
                    self.messages = Collector(self.factory.reactor)
                self.messages(message)

        first, second, third = inprocAddress(), inprocAddress(), inprocAddress()
        r = ZmqTestReceiver(self.factory, ZmqEndpoint(ZmqEndpointType.bind, first))
        r.addEndpoints(
            [
                ZmqEndpoint(ZmqEndpointType.bind, second),
                ZmqEndpoint(ZmqEndpointType.bind, third),
            ]
        )
        self.assertEqual(
            repr(r),
            "ZmqTestReceiver(ZmqFactory(), ["
            f"ZmqEndpoint(type='bind', address='{first}'), "
            f"ZmqEndpoint(type='bind', address='{second}'), "
            f"ZmqEndpoint(type='bind', address='{third}')])",
        )
        s = ZmqTestSender(
            self.factory, ZmqEndpoint(ZmqEndpointType.connect, third), b"sender"
        )
        self.assertEqual(s.socket.get(zmq.IDENTITY), b"sender")
        s.send(b"abcd")
        s.send([b"a", b"b"])
        await untilTrue(self.reactor, lambda: hasattr(r, "messages"))
        self.assertEqual(
            await self.wait(r.messages.waitFor(2)), [[b"abcd"], [b"a", b"b"]]
        )

    def test_factorySubclass(self) -> None:
        """Factory settings given as class attributes, as in 1.0, apply."""
        from txzmq.factory import ZmqFactory
        from txzmq.pushpull import ZmqPushConnection

        class MyFactory(ZmqFactory):
            ioThreads = 2
            lingerPeriod = 7

        factory = MyFactory()
        factory.reactor = self.reactor
        self.addCleanup(factory.shutdown)
        self.assertEqual(factory.context.get(zmq.IO_THREADS), 2)
        push = ZmqPushConnection(factory)
        self.assertEqual(push.socket.get(zmq.LINGER), 7)

    def test_registerForShutdown(self) -> None:
        """
        registerForShutdown adds a reactor trigger, which shutdown removes
        again (so a factory shut down by hand is not shut down twice).
        """
        self.assertIsNotNone(self.factory.trigger)
        self.factory.shutdown()
        self.assertIsNone(self.factory.trigger)
        self.assertTrue(self.factory.closed)


class DefaultHighWaterMarkTests(_OldStyleCase):
    """
    The one deliberate change from txZMQ 1.0: the default high-water mark
    is 1000 messages, not 0 (unlimited memory).  A burst past it fails
    loudly at the call site; a 1.0 program that relies on unlimited
    queues restores them with the class attribute it already knew.
    """

    def _burst(self, highWaterMark: int | None) -> tuple[Collector, Any]:
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.pushpull import ZmqPullConnection, ZmqPushConnection

        received = Collector(self.reactor)

        class Receiver(ZmqPullConnection):
            def onPull(self, message: list[bytes]) -> None:
                received(message)

        class Sender(ZmqPushConnection):
            pass

        if highWaterMark is not None:
            Receiver.highWaterMark = highWaterMark
            Sender.highWaterMark = highWaterMark
        address = inprocAddress()
        Receiver(self.factory, ZmqEndpoint(ZmqEndpointType.bind, address))
        sender = Sender(self.factory, ZmqEndpoint(ZmqEndpointType.connect, address))
        return received, sender

    def test_burstPastDefaultRaises(self) -> None:
        """
        With the default, a tight loop of 5000 pushes with nobody reading
        meanwhile hits the high-water mark and gets ZmqWouldBlockError (a
        zmq.Again) instead of growing memory without bound.
        """
        received, sender = self._burst(None)
        self.assertEqual(sender.highWaterMark, 1000)
        with self.assertRaises(zmq.Again):
            for i in range(5000):
                sender.push(str(i).encode())
        self.assertGreaterEqual(i, 1000)

    async def test_burstWithUnlimitedHighWaterMark(self) -> None:
        """
        C{highWaterMark = 0} in the subclass, as txZMQ 1.0 spelled it,
        gives back its unlimited queues: the burst goes through.
        """
        received, sender = self._burst(0)
        for i in range(5000):
            sender.push(str(i).encode())
        messages = await self.wait(received.waitFor(5000))
        self.assertEqual(messages, [[str(i).encode()] for i in range(5000)])


class ReqRepProgramTests(_OldStyleCase):
    def setUp(self) -> None:
        super().setUp()
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.req_rep import ZmqREPConnection, ZmqREQConnection

        test = self
        self.requests: list[tuple[bytes, tuple[bytes, ...]]] = []

        class ZmqTestREPConnection(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
                test.requests.append((messageId, messageParts))
                self.reply(messageId, *messageParts)

        self.r = ZmqTestREPConnection(
            self.factory, ZmqEndpoint(ZmqEndpointType.bind, self.tcp())
        )
        c = ZmqEndpoint(ZmqEndpointType.connect, boundAddress(self.r))
        self.s = ZmqREQConnection(self.factory, c, identity=b"client")
        self.connect = c

    async def test_sendRecvReply(self) -> None:
        """sendMsg's Deferred fires with the reply's parts."""
        self.assertEqual(
            await self.wait(self.s.sendMsg(b"aaa", b"aab")), [b"aaa", b"aab"]
        )

    async def test_manyWithTimeout(self) -> None:
        """Requests with a timeout that are answered in time succeed."""
        ds = [self.s.sendMsg(b"%d" % i, timeout=5.0) for i in range(10)]
        self.assertEqual(
            await self.wait(gatherResults(ds)), [[b"%d" % i] for i in range(10)]
        )

    async def test_customIds(self) -> None:
        """A subclass can supply its own request ids through _getNextId."""
        from txzmq.req_rep import ZmqREQConnection

        class Numbered(ZmqREQConnection):
            count = 0

            def _getNextId(self) -> bytes:
                self.count += 1
                return b"msg_id_" + str(self.count).encode()

        s = Numbered(self.factory, self.connect)
        await self.wait(gatherResults([s.sendMsg(b"aaa", b"aab"), s.sendMsg(b"bbb")]))
        self.assertEqual(
            self.requests,
            [(b"msg_id_1", (b"aaa", b"aab")), (b"msg_id_2", (b"bbb",))],
        )

    async def test_cancel(self) -> None:
        """
        Cancelling a request errbacks with CancelledError (its timeout
        timer is cancelled too) and later requests still work.
        """
        d1 = self.s.sendMsg(b"aaa")
        d1.cancel()
        d2 = self.s.sendMsg(b"bbb", timeout=10.0)
        d2.cancel()
        await self.assertFailure(d1, CancelledError)
        await self.assertFailure(d2, CancelledError)
        self.assertEqual(await self.wait(self.s.sendMsg(b"ccc")), [b"ccc"])
        self.assertEqual([parts for _, parts in self.requests][-1], (b"ccc",))

    async def test_timeout(self) -> None:
        """
        A slow REP makes a request with a short timeout fail with
        ZmqRequestTimeoutError; its late reply is dropped and the next
        request gets its own reply.
        """
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.req_rep import (
            ZmqREPConnection,
            ZmqREQConnection,
            ZmqRequestTimeoutError,
        )

        replied = Collector(self.reactor)

        class ZmqSlowREPConnection(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
                def reply() -> None:
                    self.reply(messageId, *messageParts)
                    replied(messageParts)

                self.factory.reactor.callLater(0.1, reply)

        slow = ZmqSlowREPConnection(
            self.factory, ZmqEndpoint(ZmqEndpointType.bind, self.tcp())
        )
        s = ZmqREQConnection(
            self.factory,
            ZmqEndpoint(ZmqEndpointType.connect, boundAddress(slow)),
            identity=b"client2",
        )
        await self.wait(
            self.assertFailure(s.sendMsg(b"aaa", timeout=0.05), ZmqRequestTimeoutError)
        )
        await self.wait(replied.waitFor(1))
        self.assertEqual(await self.wait(s.sendMsg(b"bbb", timeout=5)), [b"bbb"])

    async def test_defaultRequestTimeout(self) -> None:
        """The defaultRequestTimeout class attribute applies."""
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.req_rep import (
            ZmqREPConnection,
            ZmqREQConnection,
            ZmqRequestTimeoutError,
        )

        class Mute(ZmqREPConnection):
            def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
                pass

        class Impatient(ZmqREQConnection):
            defaultRequestTimeout = 0.05

        mute = Mute(self.factory, ZmqEndpoint(ZmqEndpointType.bind, self.tcp()))
        s = Impatient(
            self.factory, ZmqEndpoint(ZmqEndpointType.connect, boundAddress(mute))
        )
        await self.wait(self.assertFailure(s.sendMsg(b"x"), ZmqRequestTimeoutError))

    async def test_deprecatedXREQXREP(self) -> None:
        """
        ZmqXREQConnection and ZmqXREPConnection warn that they are
        deprecated, take endpoints as extra arguments, and still work.
        """
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.req_rep import ZmqXREPConnection, ZmqXREQConnection

        class Echo(ZmqXREPConnection):
            def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
                self.reply(messageId, b"x", *messageParts)

        address = inprocAddress()
        rep = Echo(self.factory, ZmqEndpoint(ZmqEndpointType.bind, address))
        req = ZmqXREQConnection(
            self.factory, ZmqEndpoint(ZmqEndpointType.connect, address)
        )
        warnings = self.flushWarnings()
        self.assertEqual(
            sorted((w["category"], w["message"].split(" ")[0]) for w in warnings),
            [
                (DeprecationWarning, "ZmqXREPConnection"),
                (DeprecationWarning, "ZmqXREQConnection"),
            ],
        )
        self.assertEqual(rep.endpoints, [ZmqEndpoint(ZmqEndpointType.bind, address)])
        self.assertEqual(await self.wait(req.sendMsg(b"hi")), [b"x", b"hi"])


class PubSubProgramTests(_OldStyleCase):
    async def test_sendRecv(self) -> None:
        """txZMQ 1.0's pub/sub test, with a probe instead of a sleep."""
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.pubsub import ZmqPubConnection, ZmqSubConnection

        class Publisher(ZmqPubConnection):
            allowLoopbackMulticast = True
            multicastRate = 100
            highWaterMark = 0

        class ZmqTestSubConnection(ZmqSubConnection):
            def gotMessage(self, message: bytes, tag: bytes) -> None:
                if not hasattr(self, "messages"):
                    self.messages: list[list[bytes]] = []
                self.messages.append([tag, message])

        r = ZmqTestSubConnection(
            self.factory, ZmqEndpoint(ZmqEndpointType.bind, self.tcp())
        )
        s = Publisher(
            self.factory, ZmqEndpoint(ZmqEndpointType.connect, boundAddress(r))
        )
        r.subscribe(b"tag")
        r.subscribe(b"probe")

        def probed() -> bool:
            if any(tag == b"probe" for tag, _ in getattr(r, "messages", [])):
                return True
            s.publish(b"", b"probe")
            return False

        await untilTrue(self.reactor, probed)
        r.messages = []
        s.publish(b"xyz", b"different-tag")
        s.publish(b"abcd", b"tag1")
        s.publish(b"efgh", b"tag2")
        s.publish(b"end", b"probe")
        await untilTrue(self.reactor, lambda: [b"probe", b"end"] in r.messages)
        self.assertEqual(
            r.messages, [[b"tag1", b"abcd"], [b"tag2", b"efgh"], [b"probe", b"end"]]
        )

    async def test_wireFormat(self) -> None:
        """
        A plain ZeroMQ SUB socket (such as a txZMQ 1.0 peer's) receives
        C{tag + NUL + message} in one frame.
        """
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.pubsub import ZmqPubConnection

        pub = ZmqPubConnection(
            self.factory, ZmqEndpoint(ZmqEndpointType.bind, self.tcp())
        )
        raw = self.factory.context.socket(zmq.SUB)
        self.addCleanup(raw.close, 0)
        raw.setsockopt(zmq.SUBSCRIBE, b"")
        raw.connect(boundAddress(pub))
        frames: list[list[bytes]] = []

        def received() -> bool:
            try:
                frames.append(raw.recv_multipart(zmq.NOBLOCK))
                return True
            except zmq.Again:
                pub.publish(b"message", b"tag")
                return False

        await untilTrue(self.reactor, received)
        self.assertEqual(frames, [[b"tag\0message"]])


class RouterDealerProgramTests(_OldStyleCase):
    REQUEST_COUNT = 1000

    async def test_twoFactories(self) -> None:
        """
        txZMQ 1.0's ROUTER/DEALER test between two factories over ipc,
        the DEALER connecting before the ROUTER binds, sends scheduled with
        reactor.callLater.
        """
        from twisted.internet import reactor

        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.factory import ZmqFactory
        from txzmq.router_dealer import ZmqDealerConnection, ZmqRouterConnection
        from txzmq.test._helpers import ipcAddress

        class ZmqTestRouterConnection(ZmqRouterConnection):
            highWaterMark = 0
            message_count = 0

            def gotMessage(self, senderId: bytes, message: bytes) -> None:
                assert senderId == b"dealer"
                if message == b"stop":
                    reactor.callLater(0, self.sendMsg, b"dealer", b"exit")
                else:
                    self.message_count += 1
                    self.sendMsg(b"dealer", b"event")
                    for _ in range(2):
                        reactor.callLater(0, self.sendMsg, b"dealer", b"event")

        class ZmqTestDealerConnection(ZmqDealerConnection):
            highWaterMark = 0
            message_count = 0
            d: Deferred[None]

            def gotMessage(self, message: bytes) -> None:
                if message == b"event":
                    self.message_count += 1
                elif message == b"exit":
                    self.d.callback(None)
                else:
                    raise AssertionError(f"received unexpected message: {message!r}")

        factory2 = ZmqFactory()
        factory2.reactor = self.reactor
        self.addCleanup(factory2.shutdown)
        address = ipcAddress(self)
        dealer = ZmqTestDealerConnection(
            self.factory,
            ZmqEndpoint(ZmqEndpointType.connect, address),
            identity=b"dealer",
        )
        dealer.d = Deferred()
        router = ZmqTestRouterConnection(
            factory2, ZmqEndpoint(ZmqEndpointType.bind, address), identity=b"router"
        )
        for _ in range(self.REQUEST_COUNT):
            reactor.callLater(0, dealer.sendMsg, b"req")
        reactor.callLater(0, dealer.sendMsg, b"stop")
        await self.wait(dealer.d)
        self.assertEqual(dealer.message_count, 3 * self.REQUEST_COUNT)
        self.assertEqual(router.message_count, self.REQUEST_COUNT)


class ZmqReactorShutdownTestCase(ReactorBuilder, _SyncBase):
    """
    txZMQ 1.0's test_reactor_shutdown: a factory registered for shutdown
    is shut down with the reactor it was given.
    """

    requiredInterfaces = (IReactorCore,)

    def _runWithFactory(self, shutDownFirst: bool) -> ZmqFactory:
        """
        Run a reactor that makes a factory the 1.0 way, shuts the factory
        down first if told to, then stops; return the factory.
        """
        reactor = self.buildReactor()
        factories: list[ZmqFactory] = []

        def _test() -> None:
            factory = _oldStyleFactory(reactor)
            factories.append(factory)
            if shutDownFirst:
                factory.shutdown()
            reactor.stop()

        reactor.callWhenRunning(_test)
        self.runReactor(reactor)
        return factories[0]

    def test_reactor_and_factory_shutdown(self) -> None:
        factory = self._runWithFactory(shutDownFirst=True)
        self.assertTrue(factory.closed)

    def test_reactor_shutdown(self) -> None:
        factory = self._runWithFactory(shutDownFirst=False)
        self.assertTrue(factory.closed)

    def test_reactorShutdownClosesConnections(self) -> None:
        """
        Stopping the reactor shuts down the factory and its connections,
        after they have exchanged messages on it.
        """
        from txzmq.connection import ZmqEndpoint, ZmqEndpointType
        from txzmq.pushpull import ZmqPullConnection, ZmqPushConnection

        reactor: Any = self.buildReactor()
        canWatchDescriptors = IReactorFDSet.providedBy(reactor)
        if not canWatchDescriptors:
            raise unittest.SkipTest("the reactor cannot watch file descriptors")
        state: dict[str, Any] = {"received": []}

        class Receiver(ZmqPullConnection):
            def onPull(self, message: list[bytes]) -> None:
                state["received"].append(message)
                reactor.stop()

        def _test() -> None:
            factory = _oldStyleFactory(reactor)
            address = inprocAddress()
            pull = Receiver(factory, ZmqEndpoint(ZmqEndpointType.bind, address))
            push = ZmqPushConnection(
                factory, ZmqEndpoint(ZmqEndpointType.connect, address)
            )
            push.push(b"bye")
            state.update(factory=factory, connections=[pull, push])

        reactor.callWhenRunning(_test)
        self.runReactor(reactor)
        self.assertEqual(state["received"], [[b"bye"]])
        self.assertTrue(state["factory"].closed)
        self.assertEqual(state["factory"].connections, set())
        self.assertTrue(all(c.closed for c in state["connections"]))


globals().update(ZmqReactorShutdownTestCase.makeTestCaseClasses())

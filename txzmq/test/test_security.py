"""
Security on real tcp sockets: CURVE and PLAIN connections, and the ZAP
authenticator deciding who gets in.

Each test runs on trial's reactor with a fresh factory, binds to
C{tcp://127.0.0.1:*} (never a fixed port) and shows one promise of
L{txzmq.security}:

  - a client the authenticator allows exchanges messages on every
    pattern (pub/sub, push/pull, REQ/REP, router/dealer);
  - a client with an unknown key, no key, the wrong server key, a denied
    address or a wrong password gets nothing delivered in either
    direction, and the server reports the failed handshake (a monitor
    event and a log line);
  - the bytes on the wire are encrypted: a TCP relay between client and
    server records them, and a distinctive payload shows up in a NULL
    run but not in a CURVE run;
  - the checker is asked what the rules leave open, and a checker that
    fails denies the peer;
  - malformed ZAP requests get an error reply, not a crash;
  - the authenticator is an C{IService}, one per factory.

Refusals are synchronised on the server's handshake-failure event; after
it, the server keeps sending for a short, bounded while (L{WINDOW}) to
show that nothing gets through.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import zmq
from twisted.application.service import IService, MultiService
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import connectionDone
from twisted.internet.task import deferLater
from twisted.logger import (
    LogEvent,
    LogLevel,
    formatEvent,
)
from twisted.protocols import portforward
from twisted.python.failure import Failure
from twisted.trial import unittest
from zope.interface.verify import verifyObject

from txzmq import (
    ZmqConnection,
    ZmqDealerConnection,
    ZmqEndpointError,
    ZmqEvent,
    ZmqFactory,
    ZmqPairConnection,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
)
from txzmq._zap import ZAP_ENDPOINT
from txzmq.monitor import HANDSHAKE_FAILURES
from txzmq.security import (
    CurveClient,
    CurveServer,
    PlainClient,
    PlainServer,
    Security,
    ZapAuthenticator,
    ZapPolicy,
    ZapRequest,
    createCertificates,
    generateKeypair,
    loadCertificate,
)
from txzmq.test._helpers import (
    TIMEOUT,
    Collector,
    FactoryMixin,
    bind,
    boundAddress,
    connect,
    ipcAddress,
    shutDownOwnersFirst,
    untilTrue,
)

WINDOW = 0.2
"""
Seconds a refused peer is given, after the server reported its failed
handshake, to receive or deliver anything (it must not).
"""

PROBE = b"\xffprobe"
"""Published until subscribers receive it, to wait out slow joiners."""

Keypair = tuple[bytes, bytes]

# ---------------------------------------------------------------------------
# Connections that record what they receive


class Pull(ZmqPullConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = Collector(self.factory.reactor)

    def onPull(self, message: list[bytes]) -> None:
        self.received(message)


class Sub(ZmqSubConnection):
    """Counts probes (see L{_SecurityCase.settle}); records other messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = Collector(self.factory.reactor)
        self.probes = 0

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        if message == PROBE:
            self.probes += 1
        else:
            self.received(message)


class EchoREP(ZmqREPConnection):
    def gotMessage(self, messageId: bytes, *parts: bytes) -> None:
        self.reply(messageId, b"echo", *parts)


class EchoRouter(ZmqRouterConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = Collector(self.factory.reactor)

    def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
        self.received((senderId, *frames))
        self.sendMultipart(senderId, [b"welcome", senderId, *frames])


class Dealer(ZmqDealerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = Collector(self.factory.reactor)

    def gotMessage(self, *frames: bytes) -> None:
        self.received(list(frames))


class PairRecorder(ZmqPairConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = Collector(self.factory.reactor)

    def gotMessage(self, *frames: bytes) -> None:
        self.received(list(frames))


class Watch:
    """
    The handshake outcomes a connection's monitor reports: C{failures}
    and C{successes} collect the L{ZmqEvent}s.
    """

    def __init__(self, connection: ZmqConnection) -> None:
        reactor = connection.factory.reactor
        self.failures = Collector(reactor)
        self.successes = Collector(reactor)
        self.outcomes = Collector(reactor)
        self.disconnections = Collector(reactor)
        connection.addEventObserver(self._observe)

    def _observe(self, event: ZmqEvent) -> None:
        if event.kind in HANDSHAKE_FAILURES:
            self.failures(event)
            self.outcomes(event)
        elif event.kind == zmq.Event.HANDSHAKE_SUCCEEDED:
            self.successes(event)
            self.outcomes(event)
        elif event.kind == zmq.Event.DISCONNECTED:
            self.disconnections(event)


# ---------------------------------------------------------------------------
# A TCP relay that records the bytes going through it


if TYPE_CHECKING:
    _ProxyBase = portforward.Proxy
else:
    _ProxyBase = object


class _RecordingHalf(_ProxyBase):
    """
    Either side of the relay: registers with the L{RecordingRelay} that
    L{findRelay} returns, records the bytes it receives there, and fires
    C{gone} once its connection is lost.
    """

    noisy = False

    def findRelay(self) -> Any:
        raise NotImplementedError

    def connectionMade(self) -> None:
        self.relay: Any = self.findRelay()
        self.relay.halves.append(self)
        self.gone: Deferred[None] = Deferred()
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        self.relay.recorded += data
        super().dataReceived(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        self.gone.callback(None)


class _RecordingServer(_RecordingHalf, portforward.ProxyServer):
    """The relay's side facing the ZeroMQ client."""

    def findRelay(self) -> Any:
        return self.factory


class _RecordingClient(_RecordingHalf, portforward.ProxyClient):
    """The relay's side facing the ZeroMQ server."""

    def findRelay(self) -> Any:
        assert self.peer is not None
        return cast(Any, self.peer.factory)


class _RecordingClientFactory(portforward.ProxyClientFactory):
    protocol = _RecordingClient
    noisy = False


_RecordingServer.clientProtocolFactory = _RecordingClientFactory


class RecordingRelay(portforward.ProxyFactory):
    """
    Forwards tcp connections to C{host:port} and records every byte in
    both directions in C{recorded}: what a capture on the network would
    see.
    """

    protocol = _RecordingServer
    noisy = False

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.recorded = bytearray()
        self.halves: list[Any] = []

    def close(self) -> Deferred[Any]:
        """Drop every relayed connection; fire once they are gone."""
        for half in self.halves:
            half.transport.loseConnection()
        return gatherResults([half.gone for half in self.halves])


shutDown = shutDownOwnersFirst


# ---------------------------------------------------------------------------
# The shared fixture


class _SecurityCase(FactoryMixin, unittest.TestCase):
    """
    A factory on trial's reactor, a server keypair, a certificates
    directory with the public certificates of "alice" and "bob" (whose
    keypairs are C{self.alice} and C{self.bob}), a keypair nobody knows
    (C{self.stranger}), and the log events emitted during the test.
    """

    timeout = 30
    shutdownFactory = staticmethod(shutDown)

    def setUp(self) -> None:
        super().setUp()
        self.logged: list[LogEvent] = self.captureLogs()

        self.serverPublic, self.serverSecret = generateKeypair()
        self.certificates = self.mktemp()
        self.alice = self._secretCertificate("alice")
        self.bob = self._secretCertificate("bob")
        self.stranger = generateKeypair()

    def _secretCertificate(self, name: str) -> Keypair:
        _, secretFile = createCertificates(self.certificates, name)
        public, secret = loadCertificate(secretFile)
        assert secret is not None
        return public, secret

    # Building blocks

    def authenticate(self, *args: Any, **kwargs: Any) -> ZapAuthenticator:
        """A started authenticator on the test's factory."""
        authenticator = ZapAuthenticator(self.factory, *args, **kwargs)
        authenticator.startService()
        self.addCleanup(authenticator.stopService)
        return authenticator

    def curveServer(self) -> CurveServer:
        return CurveServer(self.serverSecret)

    def curveClient(
        self, keypair: Keypair | None = None, serverKey: bytes | None = None
    ) -> CurveClient:
        public, secret = keypair or self.alice
        return CurveClient(serverKey or self.serverPublic, public, secret)

    def listen(
        self,
        cls: Callable[..., Any],
        security: Security | None,
        address: str = "tcp://127.0.0.1:*",
        **kwargs: Any,
    ) -> tuple[Any, str, Watch]:
        """
        A server connection bound to a new port, monitored from the
        start: the connection, the address to connect to, its L{Watch}.
        """
        connection = cls(
            self.factory,
            bind(address),
            security=security,
            monitorEvents=zmq.EVENT_ALL,
            **kwargs,
        )
        return connection, boundAddress(connection), Watch(connection)

    def dial(
        self,
        cls: Callable[..., Any],
        address: str,
        security: Security | None,
        **kwargs: Any,
    ) -> Any:
        """A client connection to C{address}."""
        return cls(self.factory, connect(address), security=security, **kwargs)

    def settle(
        self, pub: ZmqPubConnection, *subscribers: Sub, tag: bytes = b""
    ) -> Deferred[None]:
        """Publish probes until every subscriber has one (slow joiners)."""

        def probe() -> bool:
            pub.publish(PROBE, tag)
            return all(s.probes for s in subscribers)

        return untilTrue(self.reactor, probe)

    async def keepPublishing(self, pub: ZmqPubConnection, payload: bytes) -> int:
        """Publish C{payload} every 20 ms for L{WINDOW} seconds; the count."""
        end = self.reactor.seconds() + WINDOW
        count = 0

        def step() -> bool:
            nonlocal count
            pub.publish(payload)
            count += 1
            return bool(self.reactor.seconds() >= end)

        await untilTrue(self.reactor, step, interval=0.02)
        return count

    def warnings(
        self, predicate: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> list[str]:
        """The text of the warnings logged so far that match C{predicate}."""
        return [
            formatEvent(event)
            for event in self.logged
            if event.get("log_level") == LogLevel.warn and predicate(event)
        ]

    def assertHandshakeFailureLogged(
        self, connection: ZmqConnection, kind: zmq.Event
    ) -> None:
        """The server connection logged a warning naming the failure."""
        lines = self.warnings(lambda e: e.get("connection") is connection)
        expected = (kind.name or "").lower()
        self.assertTrue(
            any(expected in line for line in lines),
            f"no warning about {expected} from {connection!r}; logged: {lines}",
        )

    def assertZapDenialLogged(self, reason: str, who: str = "") -> None:
        lines = [line for line in self.warnings() if line.startswith("ZAP denied")]
        self.assertTrue(
            any(reason in line and who in line for line in lines),
            f"no 'ZAP denied ... {who} ...: {reason}' warning; ZAP lines: {lines}",
        )

    async def assertRefused(
        self,
        serverSecurity: Security,
        clientSecurity: Security | None,
        kind: zmq.Event,
        value: int | None = None,
        control: Security | None = None,
        address: str = "tcp://127.0.0.1:*",
    ) -> None:
        """
        A client with C{clientSecurity} gets nothing through, either way:

          1. a PULL and a PUB server bind with C{serverSecurity}; if
             C{control} is given, a well-behaved client (PUSH and SUB with
             C{control}) first shows that both work;
          2. the refused client connects a PUSH (which sends at once) and
             a SUB;
          3. both servers report a failed handshake of C{kind} (with
             C{value}), and log it;
          4. the PUB keeps publishing for L{WINDOW} seconds: the refused
             SUB gets none of it, and the PULL never gets the refused
             PUSH's message.
        """
        secondAddress = address if address.startswith("tcp:") else address + "-pub"
        pull, pullAddress, pullWatch = self.listen(Pull, serverSecurity, address)
        pub, pubAddress, pubWatch = self.listen(
            ZmqPubConnection, serverSecurity, secondAddress
        )
        goodSub = None
        if control is not None:
            goodPush = self.dial(ZmqPushConnection, pullAddress, control)
            goodSub = self.dial(Sub, pubAddress, control)
            goodSub.subscribe(b"")
            goodPush.push(b"from a member")
            await self.wait(pull.received.waitFor(1))
            await self.wait(self.settle(pub, goodSub))

        badPush = self.dial(ZmqPushConnection, pullAddress, clientSecurity)
        badSub = self.dial(Sub, pubAddress, clientSecurity)
        badSub.subscribe(b"")
        badPush.push(b"from an intruder")

        failures = await self.wait(
            gatherResults([pullWatch.failures.waitFor(1), pubWatch.failures.waitFor(1)])
        )
        for (failure,) in failures:
            self.assertEqual(failure.kind, kind, str(failure))
            self.assertTrue(failure.failed)
            if value is not None:
                self.assertEqual(failure.value, value, str(failure))
        self.assertHandshakeFailureLogged(pull, kind)
        self.assertHandshakeFailureLogged(pub, kind)

        published = await self.keepPublishing(pub, b"members only")
        if goodSub is not None:
            # A fence: once the member has it, it has everything before.
            pub.publish(b"fence")
            await self.wait(goodSub.received.waitFor(published + 1))
        self.assertEqual(badSub.received.items, [])
        self.assertEqual(pull.received.items, [[b"from a member"]] if control else [])
        # Only the member ever completed a handshake.
        members = 1 if control is not None else 0
        self.assertEqual(
            (len(pullWatch.successes.items), len(pubWatch.successes.items)),
            (members, members),
        )
        if goodSub is not None:
            # The server really was sending all along.
            self.assertEqual(
                goodSub.received.items, [b"members only"] * published + [b"fence"]
            )


# ---------------------------------------------------------------------------
# Allowed clients, on every pattern


class AllowedClientTests(_SecurityCase):
    """
    A CURVE client whose public certificate is in the authenticator's
    directory exchanges messages on every pattern.
    """

    def setUp(self) -> None:
        super().setUp()
        self.authenticate(curveDirectory=self.certificates)

    async def assertAdmitted(self, watch: Watch) -> None:
        [event] = await self.wait(watch.successes.waitFor(1))
        self.assertEqual(event.kind, zmq.Event.HANDSHAKE_SUCCEEDED)
        self.assertEqual(watch.failures.items, [])

    async def test_pubsub(self) -> None:
        pub, address, watch = self.listen(ZmqPubConnection, self.curveServer())
        sub = self.dial(Sub, address, self.curveClient())
        sub.subscribe(b"news")
        await self.assertAdmitted(watch)
        await self.wait(self.settle(pub, sub, tag=b"news"))
        pub.publish(b"the payload", b"news")
        pub.publish(b"filtered out", b"other")
        pub.publish(b"last", b"news")
        received = await self.wait(sub.received.waitFor(2))
        self.assertEqual(received, [b"the payload", b"last"])

    async def test_pushpull(self) -> None:
        pull, address, watch = self.listen(Pull, self.curveServer())
        push = self.dial(ZmqPushConnection, address, self.curveClient())
        for n in range(3):
            push.push([b"job", b"%d" % n])
        self.assertEqual(
            await self.wait(pull.received.waitFor(3)),
            [[b"job", b"0"], [b"job", b"1"], [b"job", b"2"]],
        )
        await self.assertAdmitted(watch)

    async def test_pushpullServerPushes(self) -> None:
        """The bound side may be the sender too."""
        push, address, watch = self.listen(ZmqPushConnection, self.curveServer())
        pull = self.dial(Pull, address, self.curveClient(self.bob))
        await self.wait(push.pushDeferred(b"from the server"))  # waits for the peer
        self.assertEqual(
            await self.wait(pull.received.waitFor(1)), [[b"from the server"]]
        )
        await self.assertAdmitted(watch)

    async def test_reqrep(self) -> None:
        rep, address, watch = self.listen(EchoREP, self.curveServer())
        req = self.dial(ZmqREQConnection, address, self.curveClient())
        reply = await req.sendMsg(b"ping", b"2", timeout=TIMEOUT)
        self.assertEqual(reply, [b"echo", b"ping", b"2"])
        reply = await req.sendMsg(b"again", timeout=TIMEOUT)
        self.assertEqual(reply, [b"echo", b"again"])
        await self.assertAdmitted(watch)

    async def test_routerDealer(self) -> None:
        router, address, watch = self.listen(EchoRouter, self.curveServer())
        alice = self.dial(
            Dealer, address, self.curveClient(self.alice), identity=b"alice"
        )
        bob = self.dial(Dealer, address, self.curveClient(self.bob), identity=b"bob")
        alice.sendMsg(b"hello from alice")
        bob.sendMultipart([b"hello", b"from bob"])
        self.assertEqual(
            await self.wait(alice.received.waitFor(1)),
            [[b"welcome", b"alice", b"hello from alice"]],
        )
        self.assertEqual(
            await self.wait(bob.received.waitFor(1)),
            [[b"welcome", b"bob", b"hello", b"from bob"]],
        )
        self.assertEqual(len(await self.wait(watch.successes.waitFor(2))), 2)
        self.assertEqual(watch.failures.items, [])

    async def test_pair(self) -> None:
        """PAIR: both ways over one CURVE connection."""
        pairServer, address, watch = self.listen(PairRecorder, self.curveServer())
        pairClient = self.dial(PairRecorder, address, self.curveClient())
        pairClient.sendMsg(b"from the client")
        self.assertEqual(
            await self.wait(pairServer.received.waitFor(1)), [[b"from the client"]]
        )
        pairServer.sendMsg(b"from the server")
        self.assertEqual(
            await self.wait(pairClient.received.waitFor(1)), [[b"from the server"]]
        )
        await self.assertAdmitted(watch)

    async def test_serverConnects(self) -> None:
        """
        The CURVE server is the side with C{CurveServer}, whichever side
        binds: here the client binds and the server connects to it.
        """
        pull = Pull(
            self.factory, bind("tcp://127.0.0.1:*"), security=self.curveClient()
        )
        push = ZmqPushConnection(
            self.factory,
            connect(boundAddress(pull)),
            security=self.curveServer(),
            monitorEvents=zmq.EVENT_ALL,
        )
        watch = Watch(push)
        push.push(b"reversed")
        self.assertEqual(await self.wait(pull.received.waitFor(1)), [[b"reversed"]])
        await self.assertAdmitted(watch)

    async def test_allowAnyCurve(self) -> None:
        """C{allowAnyCurve}: any key gets in (the server key still matters)."""
        factory = ZmqFactory(self.reactor)
        self.addCleanup(shutDown, factory)
        authenticator = ZapAuthenticator(factory, allowAnyCurve=True)
        authenticator.start()
        rep = EchoREP(factory, bind("tcp://127.0.0.1:*"), security=self.curveServer())
        req = ZmqREQConnection(
            factory,
            connect(boundAddress(rep)),
            security=self.curveClient(self.stranger),
        )
        self.assertEqual(await req.sendMsg(b"hi", timeout=TIMEOUT), [b"echo", b"hi"])

    async def test_plain(self) -> None:
        """PLAIN: a user with the right password gets in."""
        factory = ZmqFactory(self.reactor)
        self.addCleanup(shutDown, factory)
        ZapAuthenticator(factory, passwords={"alice": "s3cret"}).start()
        rep = EchoREP(factory, bind("tcp://127.0.0.1:*"), security=PlainServer())
        req = ZmqREQConnection(
            factory, connect(boundAddress(rep)), security=PlainClient("alice", "s3cret")
        )
        self.assertEqual(await req.sendMsg(b"hi", timeout=TIMEOUT), [b"echo", b"hi"])

    async def test_nullWithDomain(self) -> None:
        """
        A NULL server with a C{zapDomain} asks the authenticator too: an
        allowed address in the right domain gets in.
        """
        factory = ZmqFactory(self.reactor)
        self.addCleanup(shutDown, factory)
        ZapAuthenticator(factory, allow=["127.0.0.1"], domains=["inside"]).start()
        rep = EchoREP(factory, bind("tcp://127.0.0.1:*"), zapDomain=b"inside")
        req = ZmqREQConnection(factory, connect(boundAddress(rep)))
        self.assertEqual(await req.sendMsg(b"hi", timeout=TIMEOUT), [b"echo", b"hi"])


# ---------------------------------------------------------------------------
# Refused clients


class RefusedClientTests(_SecurityCase):
    """
    A refused client gets nothing delivered in either direction; the
    server reports the failed handshake as a monitor event and a log line.
    """

    async def test_unknownKey(self) -> None:
        """A key without a certificate in the directory: ZAP status 400."""
        self.authenticate(curveDirectory=self.certificates)
        await self.assertRefused(
            self.curveServer(),
            self.curveClient(self.stranger),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
            control=self.curveClient(self.alice),
        )
        self.assertZapDenialLogged("unknown public key", self.stranger[0].decode())

    async def test_noKey(self) -> None:
        """A client with no security at all: the mechanisms do not match."""
        self.authenticate(curveDirectory=self.certificates)
        await self.assertRefused(
            self.curveServer(),
            None,
            zmq.Event.HANDSHAKE_FAILED_PROTOCOL,
            zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH,
            control=self.curveClient(),
        )

    async def test_wrongServerKey(self) -> None:
        """
        An allowed client that was given another server's public key
        cannot complete the handshake (it could not talk to this server
        secretly, so it must not talk at all).
        """
        self.authenticate(curveDirectory=self.certificates)
        otherServer, _ = generateKeypair()
        await self.assertRefused(
            self.curveServer(),
            self.curveClient(self.alice, serverKey=otherServer),
            zmq.Event.HANDSHAKE_FAILED_PROTOCOL,
            zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC,
            control=self.curveClient(self.bob),
        )

    async def test_wrongServerKeyWithoutAuthenticator(self) -> None:
        """Even with no authenticator, the server's key is required."""
        otherServer, _ = generateKeypair()
        await self.assertRefused(
            self.curveServer(),
            self.curveClient(self.stranger, serverKey=otherServer),
            zmq.Event.HANDSHAKE_FAILED_PROTOCOL,
            zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC,
            control=self.curveClient(self.stranger),
        )

    async def test_addressNotAllowed(self) -> None:
        """
        With an allow list that does not hold 127.0.0.1, even a known key
        is refused.
        """
        self.authenticate(curveDirectory=self.certificates, allow=["10.9.9.9"])
        await self.assertRefused(
            self.curveServer(),
            self.curveClient(self.alice),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
        )
        self.assertZapDenialLogged("address not allowed", "from 127.0.0.1")

    async def test_addressDenied(self) -> None:
        """A denied address is refused whatever its key."""
        self.authenticate(curveDirectory=self.certificates, deny=["127.0.0.1"])
        await self.assertRefused(
            self.curveServer(),
            self.curveClient(self.alice),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
        )
        self.assertZapDenialLogged("address denied", "from 127.0.0.1")

    async def test_wrongPassword(self) -> None:
        self.authenticate(passwords={"alice": "s3cret"})
        await self.assertRefused(
            PlainServer(),
            PlainClient("alice", "guess"),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
            control=PlainClient("alice", "s3cret"),
        )
        self.assertZapDenialLogged("invalid user name or password", "PLAIN alice")
        self.assertFalse(any("guess" in line for line in self.warnings()))

    async def test_unknownUser(self) -> None:
        self.authenticate(passwords={"alice": "s3cret"})
        await self.assertRefused(
            PlainServer(),
            PlainClient("mallory", "s3cret"),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
        )
        self.assertZapDenialLogged("invalid user name or password", "PLAIN mallory")

    async def test_plainWithoutAuthenticator(self) -> None:
        """Without an authenticator, a PLAIN server lets nobody in."""
        await self.assertRefused(
            PlainServer(),
            PlainClient("alice", "s3cret"),
            zmq.Event.HANDSHAKE_FAILED_NO_DETAIL,
        )

    async def test_unknownDomain(self) -> None:
        """A server in a ZAP domain the policy does not list refuses everyone."""
        self.authenticate(domains=["inside"])
        await self.assertRefused(
            PlainServer(),
            PlainClient("alice", "s3cret"),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
        )
        self.assertZapDenialLogged("unknown domain ''")

    async def test_refusedNullPeer(self) -> None:
        """
        A NULL server with a C{zapDomain} refuses NULL peers when the
        policy says C{allowNull=False}.
        """
        self.authenticate(allowNull=False)
        pull, address, watch = self.listen(Pull, None, zapDomain=b"global")
        self.dial(ZmqPushConnection, address, None).push(b"x")
        [failure] = await self.wait(watch.failures.waitFor(1))
        self.assertEqual(
            (failure.kind, failure.value), (zmq.Event.HANDSHAKE_FAILED_AUTH, 400)
        )
        self.assertZapDenialLogged("NULL refused")
        self.assertEqual(pull.received.items, [])

    async def test_refusedPeerLeavesCountAlone(self) -> None:
        """
        A refused peer never counted as connected, so its disconnection
        does not lower C{connectedPeers} (nor fire C{whenDisconnected}):
        an intruder cannot make the server believe its members left.
        """
        self.authenticate(curveDirectory=self.certificates)
        pull, address, watch = self.listen(Pull, self.curveServer())
        self.dial(ZmqPushConnection, address, self.curveClient(self.alice)).push(b"hi")
        await self.wait(pull.received.waitFor(1))
        await self.wait(pull.whenConnected())
        self.assertEqual(pull.connectedPeers, 1)
        disconnected = pull.whenDisconnected()
        self.dial(ZmqPushConnection, address, self.curveClient(self.stranger))
        await self.wait(watch.failures.waitFor(1))
        await self.wait(watch.disconnections.waitFor(1))  # the refused connection's
        self.assertEqual(pull.connectedPeers, 1)
        self.assertFalse(disconnected.called)
        disconnected.cancel()
        self.failureResultOf(disconnected)

    async def test_ipcPeerHasNoIpAddress(self) -> None:
        """
        An ipc peer is not 127.0.0.1: an allow list of IP addresses
        refuses it even with the right password.
        """
        self.authenticate(allow=["127.0.0.1"], passwords={"alice": "s3cret"})
        await self.assertRefused(
            PlainServer(),
            PlainClient("alice", "s3cret"),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
            address=ipcAddress(self),
        )
        self.assertZapDenialLogged("address not allowed", "PLAIN alice")

    async def test_clientSeesRefusal(self) -> None:
        """The refused client's own monitor reports the refusal too."""
        self.authenticate(curveDirectory=self.certificates)
        _, address, _ = self.listen(Pull, self.curveServer())
        push = self.dial(
            ZmqPushConnection,
            address,
            self.curveClient(self.stranger),
            monitorEvents=zmq.EVENT_ALL,
        )
        watch = Watch(push)
        [failure] = await self.wait(watch.failures.waitFor(1))
        self.assertEqual(
            (failure.kind, failure.value), (zmq.Event.HANDSHAKE_FAILED_AUTH, 400)
        )
        self.assertIn("authentication refused (ZAP status 400)", failure.reason)
        self.assertHandshakeFailureLogged(push, zmq.Event.HANDSHAKE_FAILED_AUTH)


# ---------------------------------------------------------------------------
# Encryption on the wire


class EncryptionTests(_SecurityCase):
    """
    A TCP relay between client and server records the bytes on the wire:
    the payloads are readable in a NULL run and not in a CURVE run.
    """

    REQUEST = b"REQUEST: the vault code is 7f3a-91c2"
    REPLY = b"REPLY: the vault opens at dawn"

    async def exchangeThroughRelay(
        self, serverSecurity: Security | None, clientSecurity: Security | None
    ) -> bytes:
        """
        One request and its reply between a REQ client and a REP server
        connected through a L{RecordingRelay}; return what it recorded.
        """

        class Vault(ZmqREPConnection):
            def gotMessage(inner, messageId: bytes, *parts: bytes) -> None:
                inner.reply(messageId, self.REPLY)

        rep, address, _ = self.listen(Vault, serverSecurity)
        serverPort = int(address.rsplit(":", 1)[1])
        relay = RecordingRelay("127.0.0.1", serverPort)
        port = self.reactor.listenTCP(0, relay, interface="127.0.0.1")
        relayAddress = f"tcp://127.0.0.1:{port.getHost().port}"
        req = self.dial(ZmqREQConnection, relayAddress, clientSecurity)
        try:
            reply = await req.sendMsg(self.REQUEST, timeout=TIMEOUT)
            self.assertEqual(reply, [self.REPLY])
        finally:
            req.shutdown()
            rep.shutdown()
            await port.stopListening()
            await self.wait(relay.close())
        self.assertTrue(relay.halves, "nothing went through the relay")
        return bytes(relay.recorded)

    async def test_nullIsReadable(self) -> None:
        """The check itself works: without security the payloads show."""
        recorded = await self.exchangeThroughRelay(None, None)
        self.assertIn(self.REQUEST, recorded)
        self.assertIn(self.REPLY, recorded)

    async def test_curveIsEncrypted(self) -> None:
        """With CURVE, neither payload, nor any long part of it, shows."""
        self.authenticate(curveDirectory=self.certificates)
        recorded = await self.exchangeThroughRelay(
            self.curveServer(), self.curveClient()
        )
        self.assertGreater(len(recorded), len(self.REQUEST) + len(self.REPLY))
        for payload in (self.REQUEST, self.REPLY):
            for start in range(0, len(payload) - 8):
                self.assertNotIn(payload[start : start + 8], recorded)
        self.assertIn(b"CURVE", recorded)  # the ZMTP greeting names the mechanism

    async def test_plainIsNotEncrypted(self) -> None:
        """PLAIN only authenticates: the password and payloads show."""
        self.authenticate(passwords={"alice": "correct horse battery"})
        recorded = await self.exchangeThroughRelay(
            PlainServer(), PlainClient("alice", "correct horse battery")
        )
        self.assertIn(b"correct horse battery", recorded)
        self.assertIn(self.REQUEST, recorded)


# ---------------------------------------------------------------------------
# The checker


def answering(answer: Callable[[], Any]) -> Callable[[ZapRequest], Any]:
    """A checker that returns C{answer()} whatever it is asked."""

    def checker(request: ZapRequest) -> Any:
        return answer()

    return checker


class CheckerTests(_SecurityCase):
    """
    The checker decides what the rules leave open; it may return a
    Deferred, and a checker that fails denies the peer and is logged.
    """

    def setUp(self) -> None:
        super().setUp()
        self.asked: list[ZapRequest] = []

    def later(self, result: Any) -> Deferred[Any]:
        """A Deferred that fires with C{result} on a later reactor turn."""
        return deferLater(self.reactor, 0.01, lambda: result)

    async def assertAdmitted(self) -> ZapRequest:
        pull, address, watch = self.listen(Pull, self.curveServer())
        push = self.dial(ZmqPushConnection, address, self.curveClient(self.stranger))
        push.push(b"let me in")
        self.assertEqual(await self.wait(pull.received.waitFor(1)), [[b"let me in"]])
        self.assertEqual(watch.failures.items, [])
        [request] = self.asked
        return request

    async def test_checkerAllows(self) -> None:
        """The checker sees who asks, and true lets the peer in."""

        def checker(request: ZapRequest) -> bool:
            self.asked.append(request)
            return request.publicKey == self.stranger[0]

        self.authenticate(checker=checker)
        request = await self.assertAdmitted()
        self.assertEqual(
            (request.mechanism, request.address, request.publicKey),
            ("CURVE", "127.0.0.1", self.stranger[0]),
        )

    async def test_checkerDeferredUserId(self) -> None:
        """A Deferred firing with a user id lets the peer in."""

        def checker(request: ZapRequest) -> Deferred[Any]:
            self.asked.append(request)
            return self.later("stranger")

        self.authenticate(checker=checker)
        await self.assertAdmitted()

    async def test_checkerRefuses(self) -> None:
        """
        Anything but true or a user id keeps the peer out: false, None, an
        empty user id, a Deferred of false.
        """
        refusals: list[Callable[[], Any]] = [
            lambda: False,
            lambda: None,
            lambda: "",
            lambda: self.later(False),
        ]
        for refusal in refusals:
            factory = ZmqFactory(self.reactor)
            self.addCleanup(shutDown, factory)
            ZapAuthenticator(factory, checker=answering(refusal)).start()
            pull = Pull(
                factory,
                bind("tcp://127.0.0.1:*"),
                security=self.curveServer(),
                monitorEvents=zmq.EVENT_ALL,
            )
            watch = Watch(pull)
            ZmqPushConnection(
                factory, connect(boundAddress(pull)), security=self.curveClient()
            ).push(b"x")
            [failure] = await self.wait(watch.failures.waitFor(1))
            self.assertEqual(failure.value, 400)
            self.assertEqual(pull.received.items, [])
            shutDown(factory)
        self.assertZapDenialLogged("refused by the checker")

    async def assertCheckerErrorDenies(
        self, checker: Callable[[ZapRequest], Any]
    ) -> None:
        """
        A checker that fails: the peer is refused with ZAP status 500,
        nothing is delivered, the failure is logged with the request.
        """
        self.authenticate(checker=checker)
        await self.assertRefused(
            self.curveServer(),
            self.curveClient(self.stranger),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            500,
        )
        errors = self.flushLoggedErrors(ZeroDivisionError)
        self.assertTrue(errors)
        failures = [
            formatEvent(e)
            for e in self.logged
            if e.get("log_failure") is not None
            and e.get("log_level") == LogLevel.critical
        ]
        self.assertTrue(
            any(
                "The ZAP checker failed on CURVE" in line and "denying" in line
                for line in failures
            ),
            failures,
        )
        self.assertZapDenialLogged("authentication error")

    async def test_checkerRaises(self) -> None:
        def checker(request: ZapRequest) -> bool:
            return bool(1 / 0)

        await self.assertCheckerErrorDenies(checker)

    async def test_checkerFailingDeferred(self) -> None:
        def checker(request: ZapRequest) -> Deferred[bool]:
            return deferLater(self.reactor, 0.01, lambda: bool(1 / 0))

        await self.assertCheckerErrorDenies(checker)

    async def test_rulesFirst(self) -> None:
        """
        The checker is not asked about what the rules decide: a known key
        gets in, a denied address is refused, without it.
        """

        def checker(request: ZapRequest) -> bool:
            self.asked.append(request)
            return True

        self.authenticate(checker=checker, curveKeys=[self.alice[0]])
        pull, address, watch = self.listen(Pull, self.curveServer())
        self.dial(ZmqPushConnection, address, self.curveClient(self.alice)).push(b"a")
        self.assertEqual(await self.wait(pull.received.waitFor(1)), [[b"a"]])
        self.dial(ZmqPushConnection, address, self.curveClient(self.stranger)).push(
            b"s"
        )
        [failure] = await self.wait(watch.failures.waitFor(1))
        self.assertEqual(failure.value, 400)
        self.assertEqual(self.asked, [])


# ---------------------------------------------------------------------------
# ZAP requests sent by hand


def zapRequest(
    requestId: bytes,
    mechanism: bytes = b"NULL",
    *credentials: bytes,
    address: bytes = b"127.0.0.1",
) -> list[bytes]:
    return [b"1.0", requestId, b"", address, b"", mechanism, *credentials]


class HandMadeRequestTests(_SecurityCase):
    """
    Requests sent to C{inproc://zeromq.zap.01} from a DEALER or a REQ on
    the factory's context, the way libzmq sends them: malformed ones get
    the protocol's error reply (when they have a request id to answer)
    and the authenticator keeps working.
    """

    def zapDealer(self) -> Dealer:
        return Dealer(self.factory, connect(ZAP_ENDPOINT))

    async def test_malformedRequests(self) -> None:
        self.authenticate(curveDirectory=self.certificates)
        dealer = self.zapDealer()
        raw = loadCertificate(self.certificates + "/alice.key")[0]
        malformed = [
            [b"1.0"],  # no request id: nothing to answer
            [b"1.0", b"short"],
            [b"2.0", b"version", b"", b"127.0.0.1", b"", b"NULL"],
            zapRequest(b"mechanism", b"KERBEROS"),
            zapRequest(b"z85 key", b"CURVE", raw),  # Z85, not the raw 32 bytes
            zapRequest(b"one credential", b"PLAIN", b"alice"),
            zapRequest(b"extra frame", b"NULL", b"surprise"),
        ]
        for frames in malformed:
            dealer.sendMultipart([b"", *frames])
        # No empty delimiter anywhere: the handler cannot route a reply.
        dealer.sendMultipart(
            [b"1.0", b"no envelope", b"global", b"127.0.0.1", b"id", b"NULL"]
        )
        dealer.sendMultipart(
            [b"", *zapRequest(b"valid", b"CURVE", zmq.utils.z85.decode(raw))]
        )
        replies = await self.wait(dealer.received.waitFor(len(malformed)))
        # The valid request, sent last, is answered last: the two requests
        # that cannot be answered got no reply.
        self.assertEqual(
            [(r[2], r[3]) for r in replies],
            [
                (b"short", b"400"),
                (b"version", b"400"),
                (b"mechanism", b"400"),
                (b"z85 key", b"400"),
                (b"one credential", b"400"),
                (b"extra frame", b"400"),
                (b"valid", b"200"),
            ],
        )
        for reply in replies[:-1]:
            self.assertEqual(len(reply), 7)
            self.assertEqual((reply[0], reply[1], reply[5]), (b"", b"1.0", b""))
            self.assertTrue(reply[4].startswith(b"malformed request: "), reply)
        self.assertIn(b"unknown ZAP version", replies[1][4])
        self.assertIn(b"unknown mechanism 'KERBEROS'", replies[2][4])
        self.assertEqual(replies[-1][4:], [b"OK", raw, b""])
        lines = self.warnings()
        self.assertEqual(
            len([line for line in lines if line.startswith("Malformed ZAP request")]),
            len(malformed),
        )
        self.assertIn("Dropping a ZAP request without an envelope", lines)

        # Real peers still get the right answers.
        await self.assertRefused(
            self.curveServer(),
            self.curveClient(self.stranger),
            zmq.Event.HANDSHAKE_FAILED_AUTH,
            400,
            control=self.curveClient(self.alice),
        )

    async def test_reqClient(self) -> None:
        """
        A REQ-style client (with its own envelope) gets the reply routed
        back: here the checker's user id for a CURVE key.
        """
        self.authenticate(
            checker=lambda request: deferLater(self.reactor, 0, lambda: "alice")
        )
        req = ZmqREQConnection(self.factory, connect(ZAP_ENDPOINT))
        key = zmq.utils.z85.decode(self.stranger[0])
        reply = await req.sendMsg(*zapRequest(b"id-1", b"CURVE", key), timeout=TIMEOUT)
        self.assertEqual(reply, [b"1.0", b"id-1", b"200", b"OK", b"alice", b""])
        reply = await req.sendMsg(b"1.0", b"id-2", timeout=TIMEOUT)
        self.assertEqual(reply[:3], [b"1.0", b"id-2", b"400"])
        reply = await req.sendMsg(*zapRequest(b"id-3", b"CURVE", key), timeout=TIMEOUT)
        self.assertEqual(reply[2:5], [b"200", b"OK", b"alice"])

    async def test_deniedReply(self) -> None:
        """A denial carries the policy's reason as its status text."""
        self.authenticate(passwords={"alice": "pw"}, deny=["192.0.2.1"])
        req = ZmqREQConnection(self.factory, connect(ZAP_ENDPOINT))
        replies = [
            await req.sendMsg(
                *zapRequest(b"1", b"PLAIN", b"alice", b"pw"), timeout=TIMEOUT
            ),
            await req.sendMsg(
                *zapRequest(b"2", b"PLAIN", b"alice", b"no"), timeout=TIMEOUT
            ),
            await req.sendMsg(
                *zapRequest(b"3", b"PLAIN", b"alice", b"pw", address=b"192.0.2.1"),
                timeout=TIMEOUT,
            ),
        ]
        self.assertEqual(
            [r[1:5] for r in replies],
            [
                [b"1", b"200", b"OK", b"alice"],
                [b"2", b"400", b"invalid user name or password", b""],
                [b"3", b"400", b"address denied", b""],
            ],
        )


# ---------------------------------------------------------------------------
# The authenticator as a service


class ServiceTests(_SecurityCase):
    """
    L{ZapAuthenticator} is an C{IService}: starting binds the context's
    ZAP endpoint, stopping closes it; there is one per factory.
    """

    async def answer(self, factory: ZmqFactory | None = None) -> list[bytes]:
        req = ZmqREQConnection(factory or self.factory, connect(ZAP_ENDPOINT))
        try:
            result: list[bytes] = await req.sendMsg(*zapRequest(b"?"), timeout=TIMEOUT)
            return result
        finally:
            req.shutdown()

    def test_interface(self) -> None:
        authenticator = ZapAuthenticator(self.factory)
        self.assertTrue(verifyObject(IService, authenticator))
        self.assertEqual(authenticator.name, "zap-authenticator")
        self.assertIsNone(authenticator.handler)
        self.assertFalse(authenticator.running)

    async def test_multiService(self) -> None:
        """Started and stopped by its parent service."""
        parent = MultiService()
        authenticator = ZapAuthenticator(self.factory, allowNull=False)
        authenticator.setServiceParent(parent)
        self.assertIs(parent.getServiceNamed("zap-authenticator"), authenticator)
        parent.startService()
        self.assertTrue(authenticator.running)
        handler = authenticator.handler
        assert handler is not None
        self.assertEqual((await self.answer())[2:4], [b"400", b"NULL refused"])
        await parent.stopService()
        self.assertFalse(authenticator.running)
        # Stopped, it fails closed: still bound, refusing everyone.
        self.assertIs(authenticator.handler, handler)
        self.assertEqual(
            (await self.answer())[2:4], [b"400", b"the authenticator is stopped"]
        )
        self.factory.shutdown()
        self.assertTrue(handler.closed)

    async def test_restart(self) -> None:
        """
        Stopped, it refuses every peer; started again, it decides by its
        rules again (the endpoint stays bound throughout, so a restart
        never meets the address still in use).
        """
        authenticator = self.authenticate(allowNull=False)
        handler = authenticator.handler
        await authenticator.stopService()
        self.assertEqual(
            (await self.answer())[2:4], [b"400", b"the authenticator is stopped"]
        )
        authenticator.startService()
        self.assertIs(authenticator.handler, handler)
        self.assertEqual((await self.answer())[2:4], [b"400", b"NULL refused"])

    def test_startTwice(self) -> None:
        """Starting a started authenticator keeps its handler."""
        authenticator = self.authenticate()
        handler = authenticator.handler
        authenticator.start()
        self.assertIs(authenticator.handler, handler)

    def test_stopTwice(self) -> None:
        authenticator = ZapAuthenticator(self.factory)
        authenticator.stop()
        authenticator.start()
        authenticator.stop()
        authenticator.stop()
        self.assertTrue(authenticator.stopped)
        self.assertIsNotNone(authenticator.handler)

    async def test_twoOnOneFactory(self) -> None:
        """
        A second authenticator on the same factory fails with a clear
        error; the first keeps working.
        """
        first = self.authenticate(allowNull=False)
        second = ZapAuthenticator(self.factory)
        error = self.assertRaises(ZmqEndpointError, second.startService)
        self.assertEqual(error.errno, zmq.EADDRINUSE)
        self.assertIn(
            "another ZAP handler already runs on this factory's context", str(error)
        )
        self.assertIn("use one ZapAuthenticator per factory", str(error))
        self.assertIsNone(second.handler)
        self.assertIsNotNone(first.handler)
        self.assertEqual((await self.answer())[3], b"NULL refused")

    def test_failedStartNotRunning(self) -> None:
        """A service whose start failed does not claim to be running."""
        self.authenticate()
        second = ZapAuthenticator(self.factory)
        self.assertRaises(ZmqEndpointError, second.startService)
        self.assertFalse(second.running)

    async def test_onePerFactory(self) -> None:
        """Two factories (two contexts) each have their own authenticator."""
        other = ZmqFactory(self.reactor)
        self.addCleanup(shutDown, other)
        self.authenticate(allowNull=False)
        ZapAuthenticator(other).start()
        self.assertEqual((await self.answer())[2], b"400")
        self.assertEqual((await self.answer(other))[2], b"200")

    async def test_stoppedLetsNoCurvePeerIn(self) -> None:
        """
        After the authenticator stops, the server lets no unknown CURVE
        peer in (as C{stop()} says).
        """
        authenticator = self.authenticate(curveDirectory=self.certificates)
        await authenticator.stopService()
        pull, address, watch = self.listen(Pull, self.curveServer())
        self.dial(ZmqPushConnection, address, self.curveClient(self.stranger)).push(
            b"x"
        )
        [outcome] = await self.wait(watch.outcomes.waitFor(1))
        self.assertIn(outcome.kind, HANDSHAKE_FAILURES, str(outcome))


# ---------------------------------------------------------------------------
# Settings and construction


class SettingsTests(_SecurityCase):
    """Security settings are checked where they are given."""

    def test_securityMustBeAMechanism(self) -> None:
        for bad in ("CURVE", self.serverSecret, CurveServer):
            error = self.assertRaises(
                TypeError, ZmqPullConnection, self.factory, security=bad
            )
            self.assertIn(
                "security must be None or a txzmq.security mechanism", str(error)
            )
        self.assertEqual(self.factory.connections, set())

    def test_badKeyAtCallSite(self) -> None:
        """A bad key fails where the mechanism is made, naming the key."""
        error = self.assertRaises(ValueError, CurveServer, self.serverSecret[:-2])
        self.assertIn("secretKey must be 40 characters of Z85", str(error))
        error = self.assertRaises(
            ValueError, CurveClient, self.serverPublic, self.alice[0], b"#" * 39 + b" "
        )
        self.assertIn("secretKey is not Z85", str(error))

    def test_securityApplied(self) -> None:
        pull = ZmqPullConnection(self.factory, security=self.curveServer())
        self.assertEqual(pull.socket.get(zmq.MECHANISM), zmq.CURVE)
        self.assertEqual(pull.socket.get(zmq.CURVE_SERVER), 1)

    def test_setSocketOptions(self) -> None:
        """C{setSocketOptions(security=...)} applies to later binds."""
        pull = ZmqPullConnection(self.factory)
        self.assertEqual(pull.socket.get(zmq.MECHANISM), zmq.NULL)
        pull.setSocketOptions(security=PlainServer(), zapDomain="inside")
        self.assertEqual(pull.socket.get(zmq.MECHANISM), zmq.PLAIN)
        self.assertEqual(pull.socket.get(zmq.ZAP_DOMAIN), b"inside")
        self.assertIsInstance(pull.security, PlainServer)
        self.assertRaises(TypeError, pull.setSocketOptions, security="PLAIN")

    def test_subclassSetting(self) -> None:
        """As a class attribute, as txZMQ settings are."""
        security = self.curveServer()

        class SecurePull(ZmqPullConnection):
            pass

        SecurePull.security = security
        SecurePull.zapDomain = b"vault"
        pull = SecurePull(self.factory)
        self.assertEqual(pull.socket.get(zmq.CURVE_SERVER), 1)
        self.assertEqual(pull.socket.get(zmq.ZAP_DOMAIN), b"vault")

    def test_authenticatorArguments(self) -> None:
        policy = ZapPolicy.build()
        error = self.assertRaises(
            TypeError, ZapAuthenticator, self.factory, policy, allowNull=False
        )
        self.assertIn("give a ZapPolicy or keyword rules, not both", str(error))
        error = self.assertRaises(
            TypeError,
            ZapAuthenticator,
            self.factory,
            policy,
            curveDirectory=self.certificates,
        )
        self.assertIn("curveDirectory with keyword rules", str(error))
        error = self.assertRaises(TypeError, ZapAuthenticator, self.factory, checker=42)
        self.assertIn("checker must be callable", str(error))
        self.assertRaises(TypeError, ZapAuthenticator, self.factory, allow="127.0.0.1")
        self.assertRaises(TypeError, ZapAuthenticator, self.factory, colour="blue")
        error = self.assertRaises(
            ValueError, ZapAuthenticator, self.factory, curveDirectory=self.mktemp()
        )
        self.assertIn("no certificate directory", str(error))

    def test_authenticatorPolicy(self) -> None:
        policy = ZapPolicy.build(allowNull=False)
        self.assertIs(ZapAuthenticator(self.factory, policy).policy, policy)

    def test_curveDirectoryAddsToKeys(self) -> None:
        """The directory's keys join the C{curveKeys} given."""
        authenticator = ZapAuthenticator(
            self.factory, curveDirectory=self.certificates, curveKeys=[self.stranger[0]]
        )
        self.assertEqual(
            authenticator.policy.curveKeys,
            {self.alice[0], self.bob[0], self.stranger[0]},
        )


# ---------------------------------------------------------------------------
# The guide


class GuideTests(unittest.SynchronousTestCase):
    """
    docs/security.md shows the complete example program; the program
    itself runs in L{txzmq.test.test_examples}.
    """

    def test_guideShowsTheExample(self) -> None:
        """The guide's complete example is examples/secure_pubsub.py, verbatim."""
        root = Path(__file__).resolve().parents[2]
        guide = root / "docs" / "security.md"
        example = root / "examples" / "secure_pubsub.py"
        if not guide.exists() or not example.exists():
            raise unittest.SkipTest("no docs or examples in this installation")
        text = guide.read_text(encoding="utf-8")
        section = text[text.index("## A complete example") :]
        start = section.index("```python\n") + len("```python\n")
        code = section[start : section.index("```\n", start)]
        self.assertEqual(code, example.read_text(encoding="utf-8"))

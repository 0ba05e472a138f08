"""
A tour of txzmq: messages through every pattern, device and safeguard, in
one process::

    python -m txzmq.demo [--count N] [--transports tcp,ipc,inproc]
        [--reactor select|poll|epoll|asyncio]

Each scenario runs once per transport -- local TCP on random ports and
ipc sockets in a temporary directory by default -- with its own
L{ZmqFactory}: the six patterns, JSON with L{jsonCodec}, a forwarder and a
queue device on the reactor (and the queue once more in a thread), flow
control with C{pushDeferred} and a reader that pauses itself, connection
events from a socket monitor, and CURVE with a ZAP authenticator that
keeps an intruder out.  Connection events and security need tcp or ipc:
they are skipped over inproc.  A line is printed as each run ends, then a
summary table.  The exit status is 0 when every message expected arrived
(and nothing unexpected did), 1 otherwise.

Waiting is event-driven: each run fires a Deferred when its last expected
message or event arrives, with a timeout as a safety net; no run sleeps.
Pub/sub needs one more step, explained in L{_publishUntil}.

The module is importable: C{main(reactor)} returns a Deferred, so a test
can run the whole tour on its own reactor.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import count as counter
from typing import Any, TextIO

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall, react

from txzmq.codec import jsonCodec
from txzmq.connection import ZmqConnection, ZmqEndpoint, ZmqEndpointType
from txzmq.devices import FORWARDER, QUEUE, ReactorDevice, ThreadDevice, ZmqDevice
from txzmq.errors import (
    ZmqQueueFullError,
    ZmqRequestTimeoutError,
    ZmqWouldBlockError,
)
from txzmq.factory import ZmqFactory
from txzmq.monitor import ZmqEvent
from txzmq.pair import ZmqPairConnection
from txzmq.pubsub import ZmqPubConnection, ZmqSubConnection, ZmqXPubConnection
from txzmq.pushpull import ZmqPullConnection, ZmqPushConnection
from txzmq.req_rep import ZmqREPConnection, ZmqREQConnection
from txzmq.router_dealer import ZmqDealerConnection, ZmqRouterConnection
from txzmq.security import (
    CurveClient,
    CurveServer,
    ZapAuthenticator,
    generateKeypair,
)

__all__ = ["PATTERNS", "Result", "Scenario", "main"]

TRANSPORTS = ("tcp", "ipc", "inproc")
NETWORK = ("tcp", "ipc")
"""The transports with connection events and security handshakes."""

WAIT_SECONDS = 5.0
"""How long a run waits for its messages before it counts them as lost."""

FLOW_MESSAGES = 10_000
"""Messages the flow-control run pushes, whatever C{--count} says."""
FLOW_HIGH_WATER_MARK = 10
FLOW_QUEUE_BOUND = 100
FLOW_PAUSE_EVERY = 500

PROBE = b"probe"

_names = counter(1)
"""Numbers for unique ipc and inproc addresses."""


@dataclass
class Result:
    """What one run of one pattern over one transport did."""

    pattern: str
    transport: str
    sent: int = 0
    expected: int = 0
    received: int = 0
    seconds: float = 0.0
    detail: str = ""
    note: str = ""
    """A few words for the summary table (what a feature run showed)."""
    skipped: str = ""
    """Why the run was skipped over this transport, or C{""}."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.received == self.expected and not self.problems


class _Run:
    """
    Everything a pattern's scenario needs: the reactor, a fresh factory,
    addresses for the transport, and the counters of its L{Result}.
    """

    def __init__(
        self,
        reactor: IReactorTime,
        transport: str,
        directory: str,
        count: int,
        result: Result,
    ) -> None:
        self.reactor = reactor
        self.factory = ZmqFactory(reactor)
        self.transport = transport
        self.directory = directory
        self.count = count
        self.result = result
        self._names = _names
        self._expectations: list[_Expectation] = []

    def address(self) -> str:
        """A new address to bind on this run's transport."""
        n = next(self._names)
        if self.transport == "tcp":
            return "tcp://127.0.0.1:*"  # any free port
        if self.transport == "ipc":
            return f"ipc://{self.directory}/{n}.sock"
        return f"inproc://txzmq-demo-{n}"

    def bind(self, connection: ZmqConnection) -> str:
        """Bind C{connection} to a new address; return the address bound."""
        connection.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, self.address())])
        # The address actually bound: it tells which port "*" picked.
        return connection.socket.getsockopt_string(zmq.LAST_ENDPOINT)

    @staticmethod
    def connect(connection: ZmqConnection, address: str) -> None:
        connection.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, address)])

    def sent(self, n: int = 1) -> None:
        self.result.sent += n

    def received(self, n: int = 1) -> None:
        self.result.received += n
        self.changed()

    def request(self, req: ZmqREQConnection, count: int) -> list[Deferred[Any]]:
        """Send C{count} requests C{b"request N"} on C{req}, counted as sent."""
        replies = []
        for i in range(count):
            replies.append(req.sendMsg(f"request {i}".encode(), timeout=WAIT_SECONDS))
            self.sent()
        return replies

    async def matchReplies(
        self,
        replies: list[Deferred[Any]],
        payload: Callable[[list[bytes]], list[bytes]],
    ) -> int:
        """
        Wait for the replies to L{request}; count those received and
        return how many carry C{b"REQUEST N"} (as C{payload} finds it).
        """
        matched = 0
        for i, reply in enumerate(replies):
            try:
                frames = await reply
            except ZmqRequestTimeoutError:
                continue
            self.received()
            matched += payload(frames) == [f"REQUEST {i}".encode()]
        return matched

    def changed(self) -> None:
        """Something happened: re-check what L{waitFor} waits for."""
        for expectation in self._expectations:
            expectation.check()

    async def waitFor(self, predicate: Callable[[], bool], what: str) -> bool:
        """
        Wait until C{predicate()} holds, checked after every message; after
        L{WAIT_SECONDS}, record a problem and return False.
        """
        expectation = _Expectation(predicate)
        self._expectations.append(expectation)
        try:
            if await expectation.wait(self.reactor, WAIT_SECONDS):
                return True
        finally:
            self._expectations.remove(expectation)
        self.result.problems.append(f"timed out waiting for {what}")
        return False

    async def wait(self, d: Deferred[Any], what: str) -> bool:
        """
        Wait for C{d} (a C{whenSubscribed}, C{whenConnected}, a device's
        C{start}...) for at most L{WAIT_SECONDS}; when it times out or
        fails, record a problem and return False.
        """
        d.addTimeout(WAIT_SECONDS, self.reactor)
        try:
            await d
        except Exception as e:
            reason = "timed out" if _timedOut(e) else f"failed ({e})"
            self.result.problems.append(f"{reason} waiting for {what}")
            return False
        return True

    async def pushAll(self, push: ZmqPushConnection, messages: list[Any]) -> bool:
        """
        Push every message, waiting for room (C{pushDeferred}) whenever
        libzmq is full; count them as sent.  False if it got stuck.
        """
        for message in messages:
            sent = push.pushDeferred(message)
            if not sent.called and not await self.wait(sent, "room to push"):
                return False
            self.sent()
        return True


def _timedOut(e: BaseException | None) -> bool:
    if isinstance(e, defer.FirstError):
        return _timedOut(e.subFailure.value)
    return isinstance(e, (defer.TimeoutError, defer.CancelledError))


class _Expectation:
    def __init__(self, predicate: Callable[[], bool]) -> None:
        self._predicate = predicate
        self._done: Deferred[None] = Deferred()

    def check(self) -> None:
        if not self._done.called and self._predicate():
            self._done.callback(None)

    async def wait(self, reactor: IReactorTime, timeout: float) -> bool:
        self.check()
        if self._done.called:
            return True
        self._done.addTimeout(timeout, reactor)
        try:
            await self._done
        except defer.TimeoutError:
            return False
        return True


def _publishUntil(
    reactor: IReactorTime,
    publish: Callable[[], None],
    ready: Callable[[], bool],
    interval: float = 0.01,
    timeout: float = WAIT_SECONDS,
) -> Deferred[bool]:
    """
    Call C{publish()} every C{interval} seconds until C{ready()} is true.

    A PUB socket drops what it publishes before a subscriber's subscription
    has reached it (ZeroMQ's "slow joiner"), and over TCP or ipc that takes
    a moment after connect().  A plain PUB cannot see subscriptions, so
    the pub/sub run publishes a probe until every subscriber has seen one,
    instead of sleeping and hoping.  The XPUB and forwarder runs show the
    cure: an XPUB publisher I{sees} the subscriptions arrive
    (C{whenSubscribed}) and needs no probe.

    @return: a Deferred firing True when ready, False on timeout.
    """
    deadline = reactor.seconds() + timeout
    result: Deferred[bool] = Deferred()

    def tick() -> None:
        if ready() or reactor.seconds() > deadline:
            loop.stop()
            result.callback(ready())
        else:
            publish()

    loop = LoopingCall(tick)
    loop.clock = reactor
    loop.start(interval)
    return result


# Connection classes that hand what they receive to a callable.


class _Sub(ZmqSubConnection):
    def __init__(
        self, factory: ZmqFactory, onMessage: Callable[[bytes, bytes], None]
    ) -> None:
        super().__init__(factory)
        self.onMessage = onMessage

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.onMessage(message, tag)


class _XPub(ZmqXPubConnection):
    def __init__(
        self, factory: ZmqFactory, onSubscription: Callable[[bytes, bool], None]
    ) -> None:
        super().__init__(factory)
        self.onSubscription = onSubscription

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        self.onSubscription(tag, subscribed)


class _Pull(ZmqPullConnection):
    def __init__(
        self,
        factory: ZmqFactory,
        onPull: Callable[[list[bytes]], None],
        **settings: Any,
    ) -> None:
        super().__init__(factory, **settings)
        self.onPullCallback = onPull

    def onPull(self, message: list[bytes]) -> None:
        self.onPullCallback(message)


class _Rep(ZmqREPConnection):
    def __init__(
        self, factory: ZmqFactory, onRequest: Callable[[bytes, bytes], None]
    ) -> None:
        super().__init__(factory)
        self.onRequest = onRequest

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        self.onRequest(messageId, b"".join(messageParts))


class _Answer(ZmqREPConnection):
    """A REP connection that returns its replies (values, with a codec)."""

    def __init__(
        self, factory: ZmqFactory, answer: Callable[[Any], Any], **settings: Any
    ) -> None:
        super().__init__(factory, **settings)
        self.answer = answer

    def gotMessage(self, messageId: bytes, *values: Any) -> Any:
        return self.answer(*values)


class _Router(ZmqRouterConnection):
    def __init__(
        self, factory: ZmqFactory, onMessage: Callable[[bytes, list[bytes]], None]
    ) -> None:
        super().__init__(factory)
        self.onMessage = onMessage

    def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
        self.onMessage(senderId, list(frames))


class _Dealer(ZmqDealerConnection):
    def __init__(
        self,
        factory: ZmqFactory,
        identity: bytes,
        onMessage: Callable[[list[bytes]], None],
    ) -> None:
        super().__init__(factory, identity=identity)
        self.onMessage = onMessage

    def gotMessage(self, *frames: bytes) -> None:
        self.onMessage(list(frames))


class _Pair(ZmqPairConnection):
    def __init__(
        self, factory: ZmqFactory, onMessage: Callable[[list[bytes]], None]
    ) -> None:
        super().__init__(factory)
        self.onMessage = onMessage

    def gotMessage(self, *frames: bytes) -> None:
        self.onMessage(list(frames))


# The scenarios: each sets up its sockets on run.factory, moves messages,
# waits for them, and returns a one-line description of what happened.


async def _pubsub(run: _Run) -> str:
    """
    One publisher, two subscribers with different (prefix) subscriptions.
    """
    got: Counter[str] = Counter()
    probed: set[str] = set()

    def subscriber(name: str, *topics: bytes) -> _Sub:
        def onMessage(message: bytes, tag: bytes) -> None:
            if tag == PROBE:
                probed.add(name)
            else:
                got[name] += 1
                run.received()

        sub = _Sub(run.factory, onMessage)
        for topic in (*topics, PROBE):
            sub.subscribe(topic)
        return sub

    pub = ZmqPubConnection(run.factory)
    address = run.bind(pub)
    subs = [subscriber("A", b"weather"), subscriber("B", b"weather", b"news")]
    for sub in subs:
        run.connect(sub, address)

    if not await _publishUntil(
        run.reactor, lambda: pub.publish(b"", PROBE), lambda: len(probed) == len(subs)
    ):
        run.result.problems.append("subscribers never connected")
        return "subscribers never connected"

    for i in range(run.count):
        # sports first: should it leak, it would arrive before the last
        # expected message and be counted.
        for tag in (b"sports.results", b"weather.today", b"news.local"):
            pub.publish(f"update {i}".encode(), tag)
            run.sent()
    # weather reaches both subscribers, news only B, sports nobody.
    run.result.expected = 3 * run.count
    await run.waitFor(lambda: run.result.received >= run.result.expected, "messages")
    return (
        f"{run.result.sent} published on sports/weather/news; "
        f"A[weather] got {got['A']}, B[weather,news] got {got['B']}"
    )


async def _xpub(run: _Run) -> str:
    """
    An XPUB publisher sees its subscriber subscribe and unsubscribe.
    """
    seen: list[tuple[bytes, bool]] = []

    def onSubscription(tag: bytes, subscribed: bool) -> None:
        seen.append((tag, subscribed))
        run.changed()

    xpub = _XPub(run.factory, onSubscription)
    address = run.bind(xpub)
    sub = _Sub(run.factory, lambda message, tag: run.received())
    sub.subscribe(b"alerts")
    run.connect(sub, address)

    # No probe needed: once the subscription reached the XPUB socket, what
    # it publishes reaches the subscriber.
    if not await run.waitFor(lambda: (b"alerts", True) in seen, "the subscription"):
        return "never saw the subscription"

    for i in range(run.count):
        xpub.publish(f"alert {i}".encode(), b"alerts.disk")
        run.sent()
    run.result.expected = run.count
    await run.waitFor(lambda: run.result.received >= run.count, "messages")

    sub.unsubscribe(b"alerts")
    await run.waitFor(lambda: (b"alerts", False) in seen, "the unsubscription")
    events = " then ".join(f"{'+' if on else '-'}{tag.decode()}" for tag, on in seen)
    return (
        f"xpub saw {events}; published {run.result.sent}, "
        f"subscriber got {run.result.received}"
    )


async def _pushpull(run: _Run) -> str:
    """
    One PUSH connected to two PULLs: round robin, each message once.
    """
    got: Counter[int] = Counter()

    def worker(number: int) -> str:
        def onPull(message: list[bytes]) -> None:
            got[number] += 1
            run.received()

        return run.bind(_Pull(run.factory, onPull))

    addresses = [worker(1), worker(2)]
    push = ZmqPushConnection(run.factory)
    # Connecting gives the PUSH a queue per PULL at once: fair from message 1.
    for address in addresses:
        run.connect(push, address)

    total = 2 * run.count
    for i in range(total):
        push.push([b"task", str(i).encode()])
        run.sent()
    run.result.expected = total
    await run.waitFor(lambda: run.result.received >= total, "messages")
    return (
        f"pushed {run.result.sent} tasks: worker 1 got {got[1]}, worker 2 got {got[2]}"
    )


async def _reqrep(run: _Run) -> str:
    """
    Requests in flight at once, answered in reverse order, matched by id;
    one request is never answered and times out.
    """
    waiting: list[tuple[bytes, bytes]] = []

    def onRequest(messageId: bytes, body: bytes) -> None:
        run.received()
        if body == b"ignore me":
            return
        waiting.append((messageId, body))
        if len(waiting) == run.count:
            for requestId, request in reversed(waiting):
                rep.reply(requestId, request.upper())
                run.sent()

    rep = _Rep(run.factory, onRequest)
    address = run.bind(rep)
    req = ZmqREQConnection(run.factory)
    run.connect(req, address)

    replies = run.request(req, run.count)
    unanswered = req.sendMsg(b"ignore me", timeout=0.1)
    run.sent()
    run.result.expected = 2 * run.count + 1  # requests (+1 ignored) and replies

    matched = await run.matchReplies(replies, lambda frames: frames)
    try:
        await unanswered
        run.result.problems.append("the ignored request got a reply")
        timedOut = "was answered?!"
    except ZmqRequestTimeoutError:
        timedOut = "timed out as intended"
    if matched != run.count:
        run.result.problems.append(f"only {matched} replies matched their request")
    return (
        f"{run.count} requests in flight, answered in reverse, {matched} matched; "
        f"1 unanswered {timedOut}"
    )


async def _routerdealer(run: _Run) -> str:
    """
    Three DEALERs with identities; the ROUTER answers each by identity.
    """
    names = [b"alice", b"bob", b"carol"]
    misdelivered: list[bytes] = []

    def onRouterMessage(senderId: bytes, frames: list[bytes]) -> None:
        run.received()
        router.sendMultipart(senderId, [b"reply to", senderId, frames[-1]])
        run.sent()

    router = _Router(run.factory, onRouterMessage)
    address = run.bind(router)

    def dealer(name: bytes) -> _Dealer:
        def onMessage(frames: list[bytes]) -> None:
            run.received()
            if frames[1] != name:
                misdelivered.append(name)

        d = _Dealer(run.factory, name, onMessage)
        run.connect(d, address)
        return d

    dealers = [dealer(name) for name in names]
    for i in range(run.count):
        for d in dealers:
            d.sendMultipart([b"job", str(i).encode()])
            run.sent()
    run.result.expected = 2 * len(dealers) * run.count
    await run.waitFor(lambda: run.result.received >= run.result.expected, "messages")
    if misdelivered:
        run.result.problems.append(f"replies reached the wrong dealer: {misdelivered}")
    return (
        f"{'/'.join(n.decode() for n in names)} sent {len(dealers) * run.count}, "
        f"router answered each by identity"
    )


async def _pair(run: _Run) -> str:
    """
    Two PAIR sockets play ping-pong.
    """

    def onPing(frames: list[bytes]) -> None:
        run.received()
        a.sendMsg(b"pong " + frames[0].split()[1])
        run.sent()

    a = _Pair(run.factory, onPing)
    address = run.bind(a)
    pongs: list[bytes] = []

    def onPong(frames: list[bytes]) -> None:
        pongs.append(frames[0])
        run.received()

    b = _Pair(run.factory, onPong)
    run.connect(b, address)

    # The connecting side can send at once; the bound side waits for a peer.
    for i in range(run.count):
        b.sendMsg(f"ping {i}".encode())
        run.sent()
    run.result.expected = 2 * run.count
    await run.waitFor(lambda: run.result.received >= run.result.expected, "messages")
    inOrder = pongs == [f"pong {i}".encode() for i in range(run.count)]
    if not inOrder:
        run.result.problems.append("pongs out of order")
    order = "in order" if inOrder else "OUT OF ORDER"
    return f"{len(pongs)} ping-pong round trips, {order}"


async def _json(run: _Run) -> str:
    """
    Request/reply with L{jsonCodec} on both ends: the client sends dicts,
    the server gets them decoded and returns dicts, the client gets them
    decoded.
    """

    def answer(request: Any) -> Any:
        run.received()
        run.sent()
        return {"id": request["id"], "sum": sum(request["values"]), "unit": "C"}

    rep = _Answer(run.factory, answer, codec=jsonCodec)
    address = run.bind(rep)
    req = ZmqREQConnection(run.factory, codec=jsonCodec)
    run.connect(req, address)

    def request(i: int) -> dict[str, Any]:
        return {"id": i, "values": [i, 0.5, -1], "unit": "C"}

    replies = []
    for i in range(run.count):
        replies.append(req.sendMsg(request(i), timeout=WAIT_SECONDS))
        run.sent()
    run.result.expected = 2 * run.count  # requests and replies

    matched = 0
    for i, reply in enumerate(replies):
        try:
            values = await reply
        except ZmqRequestTimeoutError:
            continue
        run.received()
        matched += values == [{"id": i, "sum": i - 0.5, "unit": "C"}]
    if matched != run.count:
        run.result.problems.append(f"only {matched} JSON replies were right")
    example = jsonCodec.encode(request(1)).decode()
    return (
        f"{run.count} JSON requests such as {example} answered with JSON, "
        f"{matched} decoded and right"
    )


async def _forwarder(run: _Run) -> str:
    """
    A forwarder device (XSUB to XPUB, on the reactor) joins two
    publishers to two subscribers: each subscriber gets every message of
    each publisher, in order.

    The publishers are XPUB connections, so they see the subscriptions the
    forwarder passes upstream and wait for them with C{whenSubscribed}
    instead of probing.  libzmq passes on only the first subscription to a
    prefix, so each subscriber also subscribes, last, to a tag of its own:
    a subscriber's subscriptions travel in order, so when the publishers
    see its own tag, the forwarder has its C{b"weather"} too.
    """
    device = ReactorDevice(
        run.factory,
        FORWARDER,
        ZmqEndpoint(ZmqEndpointType.bind, run.address()),
        ZmqEndpoint(ZmqEndpointType.bind, run.address()),
    )
    if not await run.wait(device.start(), "the forwarder to start"):
        return "the forwarder did not start"
    try:
        return await _throughForwarder(run, device)
    finally:
        await device.stop()


async def _throughForwarder(run: _Run, device: ZmqDevice) -> str:
    [frontend] = device.addresses["frontend"]
    [backend] = device.addresses["backend"]
    stations = [b"north", b"south"]
    names = [b"A", b"B"]
    got: dict[tuple[bytes, bytes], list[int]] = {
        (name, station): [] for name in names for station in stations
    }

    publishers: dict[bytes, _XPub] = {}
    for station in stations:
        publishers[station] = _XPub(run.factory, lambda tag, subscribed: None)
        run.connect(publishers[station], frontend)

    def subscriber(name: bytes) -> _Sub:
        def onMessage(message: bytes, tag: bytes) -> None:
            got[name, tag.rpartition(b".")[2]].append(int(message))
            run.received()

        sub = _Sub(run.factory, onMessage)
        run.connect(sub, backend)
        sub.subscribe(b"weather")
        sub.subscribe(b"hello." + name + b"\0")  # last: see above
        return sub

    for name in names:
        subscriber(name)
    subscribed = gatherResults(
        [
            pub.whenSubscribed(b"hello." + name)
            for pub in publishers.values()
            for name in names
        ],
        consumeErrors=True,
    )
    if not await run.wait(subscribed, "the subscriptions to reach the publishers"):
        return "the subscriptions never reached the publishers"

    for i in range(run.count):
        for station, pub in publishers.items():
            pub.publish(str(i).encode(), b"weather." + station)
            run.sent()
    run.result.expected = len(names) * len(stations) * run.count
    await run.waitFor(lambda: run.result.received >= run.result.expected, "messages")
    inOrder = all(numbers == list(range(run.count)) for numbers in got.values())
    if not inOrder:
        run.result.problems.append("messages missing, doubled or out of order")
    return (
        f"{type(device).__name__}: 2 publishers x 2 subscribers, "
        f"A got {len(got[b'A', b'north'])}+{len(got[b'A', b'south'])}, "
        f"B got {len(got[b'B', b'north'])}+{len(got[b'B', b'south'])} "
        f"(north+south), {'in order' if inOrder else 'OUT OF ORDER'}"
    )


def _queueRun(
    deviceClass: type[ReactorDevice] | type[ThreadDevice],
) -> Callable[[_Run], Awaitable[str]]:
    async def scenario(run: _Run) -> str:
        return await _queue(run, deviceClass)

    return scenario


async def _queue(
    run: _Run, deviceClass: type[ReactorDevice] | type[ThreadDevice]
) -> str:
    """
    A queue device (ROUTER to DEALER) between a request/reply client and
    two workers: the requests are dealt out to both in turn, each reply
    finds its way back to its request.

    The workers bind and the device's backend connects to them: a
    connecting DEALER has a queue for each worker at once, so requests are
    dealt fairly from the first one.  (Were the workers to connect, the
    first to arrive would get everything sent before the second.)
    """
    got: Counter[bytes] = Counter()

    def worker(name: bytes) -> str:
        def onRequest(messageId: bytes, body: bytes) -> None:
            got[name] += 1
            run.received()
            rep.reply(messageId, name, body.upper())
            run.sent()

        rep = _Rep(run.factory, onRequest)
        return run.bind(rep)

    workers: list[ZmqEndpoint | str] = [
        ZmqEndpoint(ZmqEndpointType.connect, worker(name)) for name in (b"1", b"2")
    ]
    device = deviceClass(
        run.factory,
        QUEUE,
        ZmqEndpoint(ZmqEndpointType.bind, run.address()),
        workers,
    )
    if not await run.wait(device.start(), "the queue device to start"):
        return "the queue device did not start"
    try:
        [frontend] = device.addresses["frontend"]
        client = ZmqREQConnection(run.factory)
        run.connect(client, frontend)
        total = 2 * run.count
        replies = run.request(client, total)
        run.result.expected = 2 * total  # requests and replies
        # The worker's name comes first.
        matched = await run.matchReplies(replies, lambda frames: frames[1:])
    finally:
        await device.stop()
    if matched != total:
        run.result.problems.append(f"only {matched} replies matched their request")
    if not (got[b"1"] and got[b"2"]):
        run.result.problems.append("the requests were not spread over both workers")
    run.result.note = f"spread {got[b'1']}/{got[b'2']}"
    return (
        f"{deviceClass.__name__}: {total} requests, worker 1 answered "
        f"{got[b'1']}, worker 2 answered {got[b'2']}; {matched} replies matched"
    )


async def _flow(run: _Run) -> str:
    """
    Flow control: L{FLOW_MESSAGES} messages pushed with C{pushDeferred}
    as fast as the sender can, into a PULL that pauses itself every
    L{FLOW_PAUSE_EVERY} messages, with small high-water marks.

    When libzmq is full, messages wait in the sender's outgoing queue;
    when that is full too (L{FLOW_QUEUE_BOUND} messages), C{pushDeferred}
    raises L{ZmqQueueFullError} and the sender waits for the last message
    queued to go out.  Nothing is dropped: every message arrives, in order.
    """
    numbers: list[int] = []
    pauses = 0

    def onPull(message: list[bytes]) -> None:
        nonlocal pauses
        numbers.append(int(message[0]))
        run.received()
        if len(numbers) % FLOW_PAUSE_EVERY == 0 and len(numbers) < FLOW_MESSAGES:
            # Take a break: stop reading until the reactor's next turn.
            # Messages pile up in libzmq meanwhile, and push back.
            pauses += 1
            pull.pauseProducing()
            run.reactor.callLater(0, pull.resumeProducing)

    pull = _Pull(run.factory, onPull, highWaterMark=FLOW_HIGH_WATER_MARK)
    address = run.bind(pull)
    push = ZmqPushConnection(
        run.factory,
        highWaterMark=FLOW_HIGH_WATER_MARK,
        maxQueuedMessages=FLOW_QUEUE_BOUND,
    )
    run.connect(push, address)

    run.result.expected = FLOW_MESSAGES
    maxQueued = full = 0
    last: Deferred[None] | None = None
    for i in range(FLOW_MESSAGES):
        message = str(i).encode()
        try:
            last = push.pushDeferred(message)
        except ZmqQueueFullError:
            full += 1
            assert last is not None
            if not await run.wait(last, "room in the outgoing queue"):
                return f"stuck after {i} messages"
            last = push.pushDeferred(message)
        run.sent()
        maxQueued = max(maxQueued, push.queuedMessages)
    await run.waitFor(lambda: run.result.received >= FLOW_MESSAGES, "messages")
    inOrder = numbers == list(range(FLOW_MESSAGES))
    if not inOrder:
        run.result.problems.append("messages missing, doubled or out of order")
    run.result.note = f"max queue {maxQueued}"
    return (
        f"{FLOW_MESSAGES} pushed with pushDeferred (hwm {FLOW_HIGH_WATER_MARK}): "
        f"outgoing queue peaked at {maxQueued}/{FLOW_QUEUE_BOUND}, full {full} "
        f"times; reader paused {pauses} times; {len(numbers)} arrived, "
        f"{'in order' if inOrder else 'OUT OF ORDER'}"
    )


async def _events(run: _Run) -> str:
    """
    Connection events: a PULL monitored from the start sees three PUSH
    peers connect (one handshake each), take their messages, and leave.
    The peers wait for their own handshake with C{whenConnected}.
    """
    seen: Counter[zmq.Event] = Counter()

    def onEvent(event: ZmqEvent) -> None:
        seen[event.kind] += 1
        run.changed()

    pull = _Pull(
        run.factory, lambda message: run.received(), monitorEvents=zmq.EVENT_ALL
    )
    pull.addEventObserver(onEvent)
    address = run.bind(pull)
    peers = []
    for _ in range(3):
        peer = ZmqPushConnection(run.factory, monitorEvents=zmq.EVENT_ALL)
        run.connect(peer, address)
        peers.append(peer)
    connected = gatherResults(
        [peer.whenConnected(address) for peer in peers], consumeErrors=True
    )
    if not await run.wait(connected, "the peers' handshakes"):
        return "the peers never connected"
    handshakes = zmq.Event.HANDSHAKE_SUCCEEDED
    await run.waitFor(
        lambda: seen[handshakes] >= len(peers), "the monitor's handshake events"
    )

    run.result.expected = len(peers) * run.count
    for peer in peers:
        await run.pushAll(peer, [str(i).encode() for i in range(run.count)])
    await run.waitFor(lambda: run.result.received >= run.result.expected, "messages")

    for peer in peers:
        peer.shutdown()
    disconnected = zmq.Event.DISCONNECTED
    await run.waitFor(
        lambda: seen[disconnected] >= len(peers), "the disconnection events"
    )
    if seen[handshakes] != len(peers):
        run.result.problems.append(f"{seen[handshakes]} handshakes, not {len(peers)}")
    run.result.note = f"{seen[handshakes]} handshakes, {seen[disconnected]} gone"
    return (
        f"monitored PULL saw {seen[zmq.Event.LISTENING]} listening, "
        f"{seen[zmq.Event.ACCEPTED]} accepted, {seen[handshakes]} handshakes, "
        f"{seen[disconnected]} disconnected; {run.result.received} messages "
        f"from {len(peers)} peers; connectedPeers now {pull.connectedPeers}"
    )


async def _curve(run: _Run) -> str:
    """
    CURVE: a PULL server lets in only the PUSH client whose public key its
    ZAP authenticator knows.  An intruder with a key of its own (and the
    server's public key) is refused at the handshake: the server's monitor
    reports it, and none of its messages arrive.
    """
    serverPublic, serverSecret = generateKeypair()
    clientPublic, clientSecret = generateKeypair()
    intruderPublic, intruderSecret = generateKeypair()
    authenticator = ZapAuthenticator(run.factory, curveKeys=[clientPublic])
    authenticator.start()  # before the server accepts peers
    try:
        return await _curveRun(
            run,
            CurveServer(serverSecret),
            CurveClient(serverPublic, clientPublic, clientSecret),
            CurveClient(serverPublic, intruderPublic, intruderSecret),
        )
    finally:
        authenticator.stop()


async def _curveRun(
    run: _Run, server: CurveServer, client: CurveClient, intruder: CurveClient
) -> str:
    got: Counter[bytes] = Counter()
    refused: list[ZmqEvent] = []

    def onPull(message: list[bytes]) -> None:
        got[message[0]] += 1
        if message[0] == b"client":
            run.received()
        else:
            run.changed()

    def onEvent(event: ZmqEvent) -> None:
        if event.kind == zmq.Event.HANDSHAKE_FAILED_AUTH:
            refused.append(event)
            run.changed()

    pull = _Pull(run.factory, onPull, security=server, monitorEvents=zmq.EVENT_ALL)
    pull.addEventObserver(onEvent)
    address = run.bind(pull)
    senders = {}
    for name, security in ((b"client", client), (b"intruder", intruder)):
        senders[name] = ZmqPushConnection(run.factory, security=security)
        run.connect(senders[name], address)
    # A connecting PUSH queues its messages until the handshake: the
    # client's go out once it is let in, the intruder's never do.  (The
    # intruder pushes first, before any handshake, and can queue up to its
    # high-water mark.)
    tried = 0
    for i in range(run.count):
        try:
            senders[b"intruder"].push([b"intruder", str(i).encode()])
        except ZmqWouldBlockError:
            break
        tried += 1
        run.sent()
    run.result.expected = run.count
    await run.pushAll(
        senders[b"client"], [[b"client", str(i).encode()] for i in range(run.count)]
    )
    await run.waitFor(lambda: run.result.received >= run.count, "messages")
    await run.waitFor(lambda: bool(refused), "the intruder's refusal")
    if got[b"intruder"]:
        run.result.problems.append(
            f"{got[b'intruder']} messages from the intruder arrived"
        )
    why = refused[0].reason if refused else "the intruder was not refused"
    run.result.note = "intruder refused" if refused else ""
    return (
        f"client (allowed key) delivered {got[b'client']}/{run.count}; "
        f"intruder (unknown key) delivered {got[b'intruder']}/{tried}; "
        f"server monitor: {why}"
    )


@dataclass(frozen=True)
class Scenario:
    """One scenario of the tour, and where it can run."""

    name: str
    run: Callable[[_Run], Awaitable[str]]
    transports: tuple[str, ...] = TRANSPORTS
    """The transports it can use; it is skipped over the others."""
    why: str = ""
    """Why it cannot use the other transports."""
    once: bool = False
    """Run it over the first usable transport only."""


_NEEDS_NETWORK = "inproc has no connection events or security handshakes"


PATTERNS: Sequence[Scenario] = [
    Scenario("pub/sub", _pubsub),
    Scenario("xpub/sub", _xpub),
    Scenario("push/pull", _pushpull),
    Scenario("req/rep", _reqrep),
    Scenario("router/dealer", _routerdealer),
    Scenario("pair", _pair),
    Scenario("json req/rep", _json),
    Scenario("forwarder", _forwarder),
    Scenario("queue", _queueRun(ReactorDevice)),
    Scenario("queue/thread", _queueRun(ThreadDevice), once=True),
    Scenario("flow control", _flow),
    Scenario("events", _events, NETWORK, _NEEDS_NETWORK),
    Scenario("curve+zap", _curve, NETWORK, _NEEDS_NETWORK),
]
"""Every scenario of the tour, in order."""


async def _runOne(
    reactor: IReactorTime,
    pattern: str,
    scenario: Callable[[_Run], Awaitable[str]],
    transport: str,
    directory: str,
    count: int,
) -> Result:
    result = Result(pattern, transport)
    run = _Run(reactor, transport, directory, count, result)
    started = reactor.seconds()
    try:
        result.detail = await scenario(run)
    except Exception as e:
        result.problems.append(f"{type(e).__name__}: {e}")
    finally:
        result.seconds = reactor.seconds() - started
        # Monitored connections first: each closes its monitor before
        # itself, as docs/events.md asks.
        for connection in list(run.factory.connections):
            if connection.monitoring:
                connection.shutdown()
        run.factory.shutdown()
    return result


def formatTable(results: Sequence[Result]) -> list[str]:
    """The summary table, one line per run."""
    lines = [
        f"{'pattern':<14} {'transport':<9} {'sent':>5} {'expected':>8} "
        f"{'received':>8} {'time':>9}  result",
    ]
    lines.append("-" * len(lines[0]))
    for r in results:
        if r.skipped:
            lines.append(
                f"{r.pattern:<14} {r.transport:<9} {'-':>5} {'-':>8} {'-':>8} "
                f"{'-':>9}  skipped: {r.skipped}"
            )
            continue
        if r.ok:
            status = f"ok ({r.note})" if r.note else "ok"
        else:
            status = "FAILED: " + "; ".join(r.problems or ["messages lost"])
        lines.append(
            f"{r.pattern:<14} {r.transport:<9} {r.sent:>5} {r.expected:>8} "
            f"{r.received:>8} {r.seconds * 1000:>7.1f}ms  {status}"
        )
    return lines


def parseArguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m txzmq.demo",
        description=(
            "Send messages through every txzmq pattern, two devices, flow "
            "control, connection events and CURVE security, in one process."
        ),
    )
    parser.add_argument(
        "--count",
        type=int,
        default=5,
        help=(
            "messages per pattern and peer (default 5); the flow-control run "
            f"always pushes {FLOW_MESSAGES:,}"
        ),
    )
    parser.add_argument(
        "--transports",
        default="tcp,ipc",
        help=(
            f"comma-separated, among {', '.join(TRANSPORTS)} (default tcp,ipc); "
            "events and security are skipped over inproc"
        ),
    )
    parser.add_argument(
        "--reactor",
        choices=["select", "poll", "epoll", "asyncio"],
        help="reactor to install (default: Twisted's default for the platform)",
    )
    options = parser.parse_args(list(argv))
    options.transports = [t for t in options.transports.split(",") if t]
    unknown = [t for t in options.transports if t not in TRANSPORTS]
    if unknown or not options.transports:
        parser.error(f"unknown transport(s) {unknown}; choose among {TRANSPORTS}")
    if options.count < 1:
        parser.error("--count must be at least 1")
    return options


def _plan(scenario: Scenario, transports: Sequence[str]) -> list[tuple[str, str]]:
    """
    The runs of C{scenario}: C{(transport, why skipped)} pairs, C{""} for a
    run that goes ahead.
    """
    usable = [t for t in transports if t in scenario.transports]
    if scenario.once:
        usable = usable[:1]
        return [(t, "") for t in usable] or [(transports[0], scenario.why)]
    return [(t, "" if t in usable else scenario.why) for t in transports]


async def _tour(
    reactor: IReactorTime, argv: Sequence[str], out: TextIO
) -> list[Result]:
    options = parseArguments(argv)
    count: int = options.count
    transports: list[str] = options.transports
    print(
        f"txzmq demo: {len(PATTERNS)} scenarios over {', '.join(transports)} "
        f"({type(reactor).__name__}, libzmq {zmq.zmq_version()}, "
        f"pyzmq {zmq.__version__})",
        file=out,
    )
    directory = tempfile.mkdtemp(prefix="txzmq-demo-")
    results: list[Result] = []
    try:
        for scenario in PATTERNS:
            name = scenario.name
            for transport, skipped in _plan(scenario, transports):
                if skipped:
                    results.append(Result(name, transport, skipped=skipped))
                    print(f"  {name:<14} {transport:<7} skipped: {skipped}", file=out)
                    continue
                result = await _runOne(
                    reactor, name, scenario.run, transport, directory, count
                )
                results.append(result)
                mark = "ok" if result.ok else "FAILED"
                print(f"  {name:<14} {transport:<7} {result.detail} [{mark}]", file=out)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return results


def main(
    reactor: IReactorTime, *argv: str, out: TextIO | None = None
) -> Deferred[None]:
    """
    Run every scenario over every transport, print a summary table to
    C{out} (default stdout).

    @param argv: command-line arguments (see C{--help}).
    @return: a Deferred that fires with None when every expected message
        arrived, or fails with C{SystemExit(1)} when some were lost or a
        run went wrong (so that C{react} exits with status 1).
    """
    stream = sys.stdout if out is None else out

    async def tour() -> None:
        results = await _tour(reactor, argv, stream)
        print("\nsummary:", file=stream)
        for line in formatTable(results):
            print("  " + line, file=stream)
        ran = [r for r in results if not r.skipped]
        skipped = len(results) - len(ran)
        failed = [r for r in ran if not r.ok]
        received = sum(r.received for r in ran)
        expected = sum(r.expected for r in ran)
        if failed:
            print(f"\nFAILED: {len(failed)} of {len(ran)} runs failed", file=stream)
            raise SystemExit(1)
        print(
            f"\nOK: all {len(ran)} runs complete"
            + (f" ({skipped} skipped)" if skipped else "")
            + f", {received} of {expected} expected messages received",
            file=stream,
        )

    return ensureDeferred(tour())


def _installReactor(argv: Sequence[str]) -> None:
    """Install the reactor named by C{--reactor}, before anything imports one."""
    name = parseArguments(argv).reactor
    if name is not None:
        from twisted.application.reactors import installReactor

        installReactor(name)


if __name__ == "__main__":
    _installReactor(sys.argv[1:])
    react(main, sys.argv[1:])

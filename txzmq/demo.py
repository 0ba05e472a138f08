"""
A tour of txzmq: messages through every pattern, in one process::

    python -m txzmq.demo [--count N] [--transports tcp,ipc,inproc]
        [--reactor select|poll|epoll|asyncio]

Each pattern runs once per transport -- local TCP on random ports and
ipc sockets in a temporary directory by default -- with its own
L{ZmqFactory}.  A line is printed as each run ends, then a summary table.
The exit status is 0 when every message expected arrived, 1 otherwise.

Waiting is event-driven: each run fires a Deferred when its last expected
message arrives, with a timeout as a safety net.  Pub/sub needs one more
step, explained in L{_publishUntil}.

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
from typing import TextIO

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall, react

from txzmq.connection import ZmqConnection, ZmqEndpoint, ZmqEndpointType
from txzmq.errors import ZmqRequestTimeoutError
from txzmq.factory import ZmqFactory
from txzmq.pair import ZmqPairConnection
from txzmq.pubsub import ZmqPubConnection, ZmqSubConnection, ZmqXPubConnection
from txzmq.pushpull import ZmqPullConnection, ZmqPushConnection
from txzmq.req_rep import ZmqREPConnection, ZmqREQConnection
from txzmq.router_dealer import ZmqDealerConnection, ZmqRouterConnection

__all__ = ["Result", "main"]

TRANSPORTS = ("tcp", "ipc", "inproc")
WAIT_SECONDS = 5.0
"""How long a run waits for its messages before it counts them as lost."""

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

    def bind(self, connection: ZmqConnection) -> str:
        """Bind C{connection} to a new address; return the address bound."""
        n = next(self._names)
        if self.transport == "tcp":
            address = "tcp://127.0.0.1:*"  # any free port
        elif self.transport == "ipc":
            address = f"ipc://{self.directory}/{n}.sock"
        else:
            address = f"inproc://txzmq-demo-{n}"
        connection.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, address)])
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
    a moment after connect().  So the pub/sub run publishes a probe until
    every subscriber has seen one, instead of sleeping and hoping.  (A
    later feature, connection events, will replace this loop; the XPUB run
    shows the other cure: an XPUB socket I{sees} the subscription arrive.)

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
        self, factory: ZmqFactory, onPull: Callable[[list[bytes]], None]
    ) -> None:
        super().__init__(factory)
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

    replies: list[Deferred[list[bytes]]] = []
    for i in range(run.count):
        replies.append(req.sendMsg(f"request {i}".encode(), timeout=WAIT_SECONDS))
        run.sent()
    unanswered = req.sendMsg(b"ignore me", timeout=0.1)
    run.sent()
    run.result.expected = 2 * run.count + 1  # requests (+1 ignored) and replies

    matched = 0
    for i, reply in enumerate(replies):
        try:
            frames = await reply
        except ZmqRequestTimeoutError:
            continue
        run.received()
        matched += frames == [f"REQUEST {i}".encode()]
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


PATTERNS: Sequence[tuple[str, Callable[[_Run], Awaitable[str]]]] = [
    ("pub/sub", _pubsub),
    ("xpub/sub", _xpub),
    ("push/pull", _pushpull),
    ("req/rep", _reqrep),
    ("router/dealer", _routerdealer),
    ("pair", _pair),
]


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
        status = (
            "ok" if r.ok else "FAILED: " + "; ".join(r.problems or ["messages lost"])
        )
        lines.append(
            f"{r.pattern:<14} {r.transport:<9} {r.sent:>5} {r.expected:>8} "
            f"{r.received:>8} {r.seconds * 1000:>7.1f}ms  {status}"
        )
    return lines


def parseArguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m txzmq.demo",
        description="Send messages through every txzmq pattern, in one process.",
    )
    parser.add_argument(
        "--count", type=int, default=5, help="messages per pattern and peer (default 5)"
    )
    parser.add_argument(
        "--transports",
        default="tcp,ipc",
        help=f"comma-separated, among {', '.join(TRANSPORTS)} (default tcp,ipc)",
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


async def _tour(
    reactor: IReactorTime, argv: Sequence[str], out: TextIO
) -> list[Result]:
    options = parseArguments(argv)
    count: int = options.count
    transports: list[str] = options.transports
    print(
        f"txzmq demo: {len(PATTERNS)} patterns over {', '.join(transports)} "
        f"({type(reactor).__name__}, libzmq {zmq.zmq_version()}, "
        f"pyzmq {zmq.__version__})",
        file=out,
    )
    directory = tempfile.mkdtemp(prefix="txzmq-demo-")
    results: list[Result] = []
    try:
        for pattern, scenario in PATTERNS:
            for transport in transports:
                result = await _runOne(
                    reactor, pattern, scenario, transport, directory, count
                )
                results.append(result)
                mark = "ok" if result.ok else "FAILED"
                print(
                    f"  {pattern:<14} {transport:<7} {result.detail} [{mark}]", file=out
                )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return results


def main(
    reactor: IReactorTime, *argv: str, out: TextIO | None = None
) -> Deferred[None]:
    """
    Run every pattern over every transport, print a summary table to C{out}
    (default stdout).

    @param argv: command-line arguments (see C{--help}).
    @return: a Deferred that fires with None when every expected message
        arrived, or fails with C{SystemExit(1)} when some were lost (so
        that C{react} exits with status 1).
    """
    stream = sys.stdout if out is None else out

    async def tour() -> None:
        results = await _tour(reactor, argv, stream)
        print("\nsummary:", file=stream)
        for line in formatTable(results):
            print("  " + line, file=stream)
        failed = [r for r in results if not r.ok]
        received = sum(r.received for r in results)
        expected = sum(r.expected for r in results)
        if failed:
            print(
                f"\nFAILED: {len(failed)} of {len(results)} runs lost messages",
                file=stream,
            )
            raise SystemExit(1)
        print(
            f"\nOK: all {len(results)} runs complete, "
            f"{received} of {expected} expected messages received",
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

#!/usr/bin/env python3
"""
Receiving without callbacks, and JSON values instead of bytes.

Two ways to receive, besides overriding a callback such as C{gotMessage}:

  - C{await conn.receive()}: a Deferred that fires with the next message.
    Like any Deferred it can be given a timeout with
    C{addTimeout(seconds, reactor)}; a receive that timed out (or was
    cancelled) loses nothing, the message goes to the next receive;
  - C{async for message in conn:}, in a coroutine run by
    C{Deferred.fromCoroutine} (or C{ensureDeferred}); the loop ends when
    the connection is shut down.

Both work on any receiving connection whose callback is I{not} overridden:
the messages are then kept in a bounded buffer (C{receiveBufferSize}) until
taken.  When the buffer is full, the connection stops reading from its
socket and ZeroMQ's own queues push back on the peer.

With C{codec=jsonCodec}, payload frames are JSON values: what you publish,
push, request or reply is encoded for you, and what you receive is
decoded.  Topics and request ids stay bytes.  A frame that is not valid
JSON is logged as a warning and its message dropped; your code never sees
it.

This program does two things:

  1. pub/sub: the publisher, a C{ZmqXPubConnection}, first waits with
     C{whenSubscribed()} until the subscription has reached it (a PUB
     socket drops what it publishes before that: the "slow joiner"
     problem).  The subscriber takes the first reading with C{receive()}
     and a timeout, the others with C{async for}.  Among the readings, one
     raw frame of broken JSON is published: it is logged and dropped.
     Then the subscriber is shut down, which ends its C{async for} loop;
  2. request/reply: a JSON calculator whose C{gotMessage} I{returns} its
     reply -- a value right away, or a Deferred for the slow operation --
     instead of calling C{reply()}.

The sockets talk over ipc (Unix sockets in a temporary directory), and the
program stops by itself:

    .venv/bin/python examples/async_receive.py   # or any Python with txzmq installed

Exit status 0 when every reading and every reply arrived as expected and
the broken frame was dropped.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater, react
from twisted.logger import (
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
    PredicateResult,
    formatEvent,
    globalLogBeginner,
)
from zope.interface import implementer, provider

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqSubConnection,
    ZmqXPubConnection,
    jsonCodec,
)

TIMEOUT = 5.0  # seconds: give up (and exit 1) if messages are missing by then

READINGS: list[tuple[bytes, Any]] = [
    (b"weather.paris", {"temperature": 18.5, "sky": "cloudy"}),
    (b"weather.oslo", {"temperature": -3, "sky": "snow"}),
    (b"weather.paris", {"temperature": 19.0, "sky": "sunny"}),
    (b"weather.lima", [17, 18, 19]),  # any JSON value will do
    (b"weather.oslo", None),
]


@implementer(ILogObserver)
class LogCounter:
    """Prints txzmq's warnings and counts them."""

    def __init__(self) -> None:
        self.warnings = 0

    def __call__(self, event: LogEvent) -> None:
        self.warnings += 1
        print(f"  log: {formatEvent(event)}")

    def start(self) -> None:
        @provider(ILogFilterPredicate)
        def fromTxzmq(event: LogEvent) -> PredicateResult:
            namespace: str = event.get("log_namespace", "")
            verdict: PredicateResult = (
                PredicateResult.maybe
                if namespace.startswith("txzmq")
                else PredicateResult.no
            )
            return verdict

        levels = LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)
        observer = FilteringLogObserver(self, [fromTxzmq, levels])
        globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


# 1. Publish/subscribe with receive(), async for and JSON


async def collectReadings(
    reactor: IReactorTime,
    subscriber: ZmqSubConnection,
    expected: int,
    gotAll: Deferred[None],
) -> list[tuple[bytes, Any]]:
    """
    Take the first reading with C{receive()}, the others with C{async for}
    until the subscriber is shut down; fire C{gotAll} once C{expected}
    readings are in.
    """
    readings: list[tuple[bytes, Any]] = []

    def take(value: Any, tag: bytes) -> None:
        readings.append((tag, value))
        print(f"  subscriber <- {tag.decode():<14} {value!r}")
        if len(readings) == expected:
            gotAll.callback(None)

    # A receive() that times out (or is cancelled) loses nothing: the
    # message goes to the next receive, or here to the async for loop.
    try:
        value, tag = await subscriber.receive().addTimeout(TIMEOUT, reactor)
    except defer.TimeoutError:
        print("  subscriber: no reading within the timeout")
    else:
        take(value, tag)
        async for value, tag in subscriber:
            take(value, tag)
    print("  subscriber: the async for loop ended (connection shut down)")
    if readings:
        print(
            f"  subscriber: 1 reading taken with receive(), {len(readings) - 1} "
            "with async for"
        )
    return readings


async def pubsub(
    reactor: IReactorTime, factory: ZmqFactory, address: str, log: LogCounter
) -> list[str]:
    # An XPUB publisher sees subscriptions arrive (they are also kept for
    # its own receive(), unused here).
    publisher = ZmqXPubConnection(
        factory, ZmqEndpoint(ZmqEndpointType.bind, address), codec=jsonCodec
    )
    # No gotMessage override: the subscriber keeps its messages for
    # receive() and async for.
    subscriber = ZmqSubConnection(
        factory, ZmqEndpoint(ZmqEndpointType.connect, address), codec=jsonCodec
    )
    subscriber.subscribe(b"weather.")
    print(f"pub/sub on {address}")

    # No sleep, no probe: publish once the subscription has arrived.
    try:
        subscription = await publisher.whenSubscribed(b"weather.", timeout=TIMEOUT)
    except defer.TimeoutError:
        return ["the subscriber never connected"]
    print(f"  the publisher has the subscription to {subscription!r}")

    gotAll: Deferred[None] = Deferred()
    collecting = Deferred.fromCoroutine(
        collectReadings(reactor, subscriber, len(READINGS), gotAll)
    )
    warningsBefore = log.warnings
    for index, (tag, value) in enumerate(READINGS):
        publisher.publish(value, tag)  # encoded as JSON by the codec
        if index == 1:
            # send() takes raw frames: no codec.  This one is not JSON.
            publisher.send(b"weather.paris\0{not json")

    gotAll.addTimeout(TIMEOUT, reactor)
    try:
        await gotAll
    except defer.TimeoutError:
        pass  # the summary below says what is missing
    subscriber.shutdown()  # ends the async for loop
    readings = await collecting
    publisher.shutdown()

    problems = []
    if readings != READINGS:
        problems.append(f"readings lost or changed: {readings!r}")
    if log.warnings - warningsBefore != 1:
        problems.append("the broken frame was not logged once")
    print(
        f"  pub/sub: {len(readings)}/{len(READINGS)} readings, "
        f"{log.warnings - warningsBefore} dropped with a warning"
    )
    return problems


# 2. Request/reply with JSON, replies returned by gotMessage


class Calculator(ZmqREPConnection):
    """
    Answers JSON requests C{{"op": ..., "args": [...]}} by returning the
    reply from C{gotMessage}: a value, or a Deferred firing with one.
    """

    codec = jsonCodec

    def __init__(
        self, factory: ZmqFactory, endpoint: ZmqEndpoint, reactor: IReactorTime
    ) -> None:
        super().__init__(factory, endpoint)
        self.reactor = reactor

    def gotMessage(self, messageId: bytes, *requests: Any) -> Any:
        (request,) = requests  # one JSON value per frame; we send one frame
        op, args = request["op"], request["args"]
        if op == "add":
            return {"result": sum(args)}
        if op == "slowProduct":
            # Pretend this takes a while: the reply is sent when the
            # Deferred fires, and other requests are answered meanwhile.
            return deferLater(self.reactor, 0.05, self.product, args)
        return {"error": f"unknown operation {op!r}"}

    @staticmethod
    def product(args: list[int]) -> dict[str, int]:
        result = 1
        for number in args:
            result *= number
        return {"result": result}


async def reqrep(reactor: IReactorTime, factory: ZmqFactory, address: str) -> list[str]:
    Calculator(factory, ZmqEndpoint(ZmqEndpointType.bind, address), reactor)
    client = ZmqREQConnection(
        factory, ZmqEndpoint(ZmqEndpointType.connect, address), codec=jsonCodec
    )
    print(f"request/reply on {address}")

    requests = [
        ({"op": "slowProduct", "args": [2, 3, 7]}, {"result": 42}),
        ({"op": "add", "args": [1, 2, 3]}, {"result": 6}),
        ({"op": "divide", "args": [1, 0]}, {"error": "unknown operation 'divide'"}),
    ]
    # All three are in flight at once; the slow one is answered last.
    answered: list[str] = []

    async def ask(request: Any) -> list[Any]:
        reply = await client.sendMsg(request, timeout=TIMEOUT)
        answered.append(request["op"])
        print(f"  client: {request} -> {reply}")
        return reply

    replies = await defer.gatherResults(
        [Deferred.fromCoroutine(ask(request)) for request, _ in requests]
    )
    problems = []
    for (request, expected), reply in zip(requests, replies, strict=True):
        if reply != [expected]:
            problems.append(f"{request['op']}: got {reply!r}, not [{expected!r}]")
    if answered[-1] != "slowProduct":
        problems.append(f"the slow request held up the others: {answered}")
    print(f"  req/rep: {len(replies)} replies, answered in the order {answered}")
    return problems


async def main(reactor: IReactorTime) -> None:
    log = LogCounter()
    log.start()
    directory = tempfile.mkdtemp(prefix="txzmq-async-")
    factory = ZmqFactory(reactor)
    try:
        problems = await pubsub(
            reactor, factory, f"ipc://{directory}/weather.sock", log
        )
        problems += await reqrep(reactor, factory, f"ipc://{directory}/calc.sock")
    finally:
        factory.shutdown()
        shutil.rmtree(directory, ignore_errors=True)
    print("summary:")
    if problems:
        for problem in problems:
            print(f"  {problem}")
        print("FAILED: something went missing")
        raise SystemExit(1)
    print(
        f"OK: {len(READINGS)} JSON readings taken with async for, 1 broken frame "
        "dropped, 3 JSON requests answered"
    )


if __name__ == "__main__":
    react(main)

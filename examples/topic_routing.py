#!/usr/bin/env python3
"""
Route published messages to handlers by the longest matching topic prefix.

A subscriber often wants different code for different topics.  Here a
C{TopicRouter} (a ZmqSubConnection) keeps a table of C{prefix -> handler}:

    router.route(b"news", onNews)                  # any news...
    router.route(b"news.breaking", onBreaking)     # ...except breaking news
    router.route(b"weather", onWeather)

C{route()} also subscribes to the prefix, so ZeroMQ delivers only what some
handler wants; a tag nobody routes (b"stocks.ACME" here) never reaches the
subscriber at all.  For each message, the handler with the *longest* prefix
of its tag wins: b"news.breaking.eu" goes to onBreaking, b"news.local" to
onNews.  Removing a route with C{unroute()} sends those tags to the next
shorter prefix.

The publisher is a C{ZmqXPubConnection}, which sees the subscriptions
arrive: C{whenSubscribed(tag)} fires once a subscriber would receive a
message published under C{tag}, so the first message is never lost to the
"slow joiner" problem, and nothing sleeps or probes.

The publisher and the router talk over inproc (in-process, no network) and
the program stops by itself:

    .venv/bin/python examples/topic_routing.py   # or any Python with txzmq installed

Exit status 0 when every message reached the expected handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import react

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqSubConnection,
    ZmqXPubConnection,
)

TIMEOUT = 5.0  # seconds: give up (and exit 1) if messages are missing by then
ADDRESS = "inproc://topic-routing-example"

Handler = Callable[[bytes, bytes], None]  # handler(message, tag)


def longestPrefix(prefixes: Iterable[bytes], tag: bytes) -> bytes | None:
    """
    Return the longest of C{prefixes} that C{tag} starts with, or None.

    Pure logic, no sockets: easy to test on its own.
    """
    matches = [prefix for prefix in prefixes if tag.startswith(prefix)]
    return max(matches, key=len) if matches else None


class TopicRouter(ZmqSubConnection):
    """A subscriber that dispatches each message by the tag's longest prefix."""

    def __init__(self, factory: ZmqFactory, endpoint: ZmqEndpoint) -> None:
        super().__init__(factory, endpoint)
        self.routes: dict[bytes, Handler] = {}

    def route(self, prefix: bytes, handler: Handler) -> None:
        """Send messages whose tag starts with C{prefix} to C{handler}."""
        if prefix not in self.routes:
            self.subscribe(prefix)
        self.routes[prefix] = handler

    def unroute(self, prefix: bytes) -> None:
        """Remove the route (and the subscription) for C{prefix}."""
        del self.routes[prefix]
        self.unsubscribe(prefix)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        prefix = longestPrefix(self.routes, tag)
        if prefix is None:
            # Possible for messages already on their way when a route was
            # removed: ZeroMQ filters on the publisher's side, asynchronously.
            print(f"  (no route for {tag.decode()}, dropped)")
            return
        self.routes[prefix](message, tag)


async def main(reactor: IReactorTime) -> None:
    factory = ZmqFactory(reactor)
    # inproc: bind before anyone connects to the address.
    publisher = ZmqXPubConnection(factory, ZmqEndpoint(ZmqEndpointType.bind, ADDRESS))
    router = TopicRouter(factory, ZmqEndpoint(ZmqEndpointType.connect, ADDRESS))

    routed: list[tuple[str, bytes]] = []  # (handler name, tag), in arrival order
    # Deferreds that fire when a message with a given tag has been handled.
    waiting: dict[bytes, Deferred[None]] = {}

    def handledTag(tag: bytes) -> Deferred[None]:
        d = waiting[tag] = Deferred()
        d.addTimeout(TIMEOUT, reactor)
        return d

    def handler(name: str) -> Handler:
        def handle(message: bytes, tag: bytes) -> None:
            routed.append((name, tag))
            print(f"  {name:<9} <- {tag.decode():<22} {message.decode()}")
            if tag in waiting:
                waiting.pop(tag).callback(None)

        return handle

    router.route(b"news", handler("news"))
    router.route(b"news.breaking", handler("breaking"))
    router.route(b"news.sports", handler("sports"))
    router.route(b"weather", handler("weather"))

    # A subscriber's subscriptions reach the publisher in order: once the
    # last one (b"weather") is there, all the routes' subscriptions are.
    try:
        await publisher.whenSubscribed(b"weather.paris", timeout=TIMEOUT)
    except defer.TimeoutError:
        factory.shutdown()
        print("FAILED: the subscriber never connected")
        raise SystemExit(1) from None
    print("subscriber connected; routes:", b", ".join(sorted(router.routes)).decode())

    expected = [
        ("breaking", b"news.breaking.weather"),
        ("sports", b"news.sports.football"),
        ("news", b"news.local"),
        ("weather", b"weather.paris"),
        ("news", b"news.sports.running"),
        ("news", b"news.end"),
    ]
    try:
        firstBatch = handledTag(b"weather.paris")
        publisher.publish(b"Storm warning for the coast", b"news.breaking.weather")
        publisher.publish(b"Home team wins 3-1", b"news.sports.football")
        publisher.publish(b"Library opens on Sundays", b"news.local")
        publisher.publish(b"ACME up 2%", b"stocks.ACME")  # nobody routes stocks
        publisher.publish(b"Sunny, 24 C", b"weather.paris")
        await firstBatch

        # Sports news now falls back to the general news handler: b"news"
        # is still subscribed, so the messages still arrive.
        router.unroute(b"news.sports")
        secondBatch = handledTag(b"news.end")
        publisher.publish(b"Marathon route announced", b"news.sports.running")
        publisher.publish(b"That's all for today", b"news.end")
        await secondBatch
    except defer.TimeoutError:
        pass  # the summary below says what is missing
    factory.shutdown()

    print("summary:")
    handled = {name: sum(1 for n, _ in routed if n == name) for name, _ in expected}
    for name, count in handled.items():
        print(f"  {name:<9} handled {count}")
    stocks = (
        "delivered?!" if any(t == b"stocks.ACME" for _, t in routed) else "filtered"
    )
    print(f"  stocks    {stocks} (no route, so no subscription)")
    if routed != expected:
        print(f"FAILED: expected routing {expected}, got {routed}")
        raise SystemExit(1)
    print(f"OK: {len(routed)} messages routed by longest prefix, 1 filtered out")


if __name__ == "__main__":
    react(main)

#!/usr/bin/env python3
"""
Connection events: watch readers come and go, and publish only to someone
who listens.

A news desk publishes on an XPUB socket.  Three readers subscribe, each
reads the first message published for it, and then they leave:

    news desk (XPUB) <-- alice (SUB b"headlines", tcp)
                     <-- bob   (SUB b"sports", tcp)
                     <-- carol (SUB b"weather", ipc; she connects before
                                the desk listens there, and retries)

Every connection monitors its connection events (the C{monitorEvents}
setting) and prints them as they come: listening, accepted, connected,
handshake_succeeded, connect_retried, disconnected...  Along the way:

  - C{desk.whenSubscribed(topic)} fires once a reader's subscription has
    reached the desk; the desk publishes the topic's first message only
    then, so it is never lost to the "slow joiner" problem (no sleep, no
    probe);
  - C{carol.whenConnected(address)} fires when her handshake succeeds,
    after the retries; C{desk.whenDisconnected()} when a reader leaves;
  - C{peerConnected}/C{peerDisconnected} let the desk count its readers,
    and C{gotSubscription} shows subscriptions arriving and going.

Everything runs in this one process, over TCP on a random local port and
ipc in a temporary directory, and the program stops by itself:

    .venv/bin/python examples/connection_events.py   # or any Python with txzmq installed

Exit status 0 when every reader got its first message and the desk saw
each of them connect and leave.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import react

from txzmq import (
    ZmqConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqEvent,
    ZmqFactory,
    ZmqSubConnection,
    ZmqXPubConnection,
)

TIMEOUT = 5.0  # seconds: give up (and exit 1) if something never happens


class NewsDesk(ZmqXPubConnection):
    """A publisher that prints its connection events and subscriptions."""

    monitorEvents = zmq.EVENT_ALL  # from the start, before any endpoint

    def __init__(self, factory: ZmqFactory) -> None:
        super().__init__(factory)
        self.seen: Counter[zmq.Event] = Counter()
        self._unsubscribed: list[tuple[bytes, Deferred[None]]] = []

    def eventReceived(self, event: ZmqEvent) -> None:
        self.seen[event.kind] += 1
        print(f"  desk  | {event}")

    def peerConnected(self, event: ZmqEvent) -> None:
        print(f"  desk  | readers connected: {self.connectedPeers}")

    def peerDisconnected(self, event: ZmqEvent) -> None:
        print(f"  desk  | readers connected: {self.connectedPeers}")

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        print(f"  desk  | {'+' if subscribed else '-'} subscription {tag!r}")
        if tag not in self.activeSubscriptions:
            waiting = [d for t, d in self._unsubscribed if t == tag]
            self._unsubscribed = [w for w in self._unsubscribed if w[0] != tag]
            for d in waiting:
                d.callback(None)

    def whenUnsubscribed(self, tag: bytes) -> Deferred[None]:
        """Fire once no reader holds the subscription C{tag} any more."""
        if tag not in self.activeSubscriptions:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._unsubscribed.append((tag, d))
        return d


class Reader(ZmqSubConnection):
    """
    A subscriber that prints its connection events.  It does not override
    gotMessage: messages wait for C{receive()}.
    """

    monitorEvents = zmq.EVENT_ALL

    def __init__(
        self, factory: ZmqFactory, name: str, address: str, topic: bytes
    ) -> None:
        super().__init__(factory)  # monitoring is on before we connect
        self.name = name
        self.topic = topic
        self.retries = 0
        self._retried: Deferred[None] = Deferred()
        self.subscribe(topic)
        self.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, address)])

    def eventReceived(self, event: ZmqEvent) -> None:
        print(f"  {self.name:<5} | {event}")
        if event.kind == zmq.Event.CONNECT_RETRIED:
            self.retries += 1
            if not self._retried.called:
                self._retried.callback(None)

    def whenRetried(self) -> Deferred[None]:
        """Fire once a connection attempt has failed and is retried."""
        return self._retried


async def main(reactor: IReactorTime) -> None:
    directory = tempfile.mkdtemp(prefix="txzmq-events-")
    factory = ZmqFactory(reactor)
    connections: list[ZmqConnection] = []
    try:
        await run(reactor, factory, connections, f"ipc://{directory}/desk.sock")
    finally:
        # Each connection first (each closes its own monitor), then the
        # factory.
        for connection in connections:
            connection.shutdown()
        factory.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


async def run(
    reactor: IReactorTime,
    factory: ZmqFactory,
    connections: list[ZmqConnection],
    ipcAddress: str,
) -> None:
    desk = NewsDesk(factory)
    connections.append(desk)
    desk.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*")])
    tcpAddress = desk.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    print(f"news desk listening on {tcpAddress}")

    delivered: list[str] = []

    def join(name: str, address: str, topic: bytes) -> Reader:
        reader = Reader(factory, name, address, topic)
        connections.append(reader)
        return reader

    async def publishFirst(reader: Reader, message: bytes) -> None:
        # The slow-joiner guard: publish once the subscription is there.
        await desk.whenSubscribed(reader.topic, timeout=TIMEOUT)
        desk.publish(message, reader.topic)
        body, tag = await reader.receive().addTimeout(TIMEOUT, reactor)
        print(f"  {reader.name:<5} | read {tag.decode()}: {body.decode()}")
        delivered.append(reader.name)

    try:
        print("alice joins:")
        alice = join("alice", tcpAddress, b"headlines")
        await publishFirst(alice, b"Markets open higher")

        print("bob joins:")
        bob = join("bob", tcpAddress, b"sports")
        await publishFirst(bob, b"Home team wins 3-1")

        print("carol joins, before the desk listens on ipc:")
        carol = join("carol", ipcAddress, b"weather")
        await carol.whenRetried().addTimeout(TIMEOUT, reactor)
        connected = carol.whenConnected(ipcAddress, timeout=TIMEOUT)
        desk.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, ipcAddress)])
        await connected
        retries = "1 retry" if carol.retries == 1 else f"{carol.retries} retries"
        print(f"  carol | connected after {retries}")
        await publishFirst(carol, b"Sunny, 24 C")

        for reader in (alice, bob, carol):
            print(f"{reader.name} leaves:")
            gone = desk.whenDisconnected(timeout=TIMEOUT)
            unsubscribed = desk.whenUnsubscribed(reader.topic)
            reader.shutdown()
            await gone
            await unsubscribed.addTimeout(TIMEOUT, reactor)
    except defer.TimeoutError:
        print("  (timed out: see the summary)")

    subscriptions = sorted(desk.activeSubscriptions)
    desk.shutdown()

    handshakes = desk.seen[zmq.Event.HANDSHAKE_SUCCEEDED]
    disconnections = desk.seen[zmq.Event.DISCONNECTED]
    print("summary:")
    print(f"  first messages delivered  {len(delivered)}/3 ({', '.join(delivered)})")
    print(f"  desk handshakes           {handshakes}/3")
    print(f"  desk disconnections       {disconnections}/3")
    print(f"  subscriptions left        {subscriptions or 'none'}")
    byKind = ", ".join(
        f"{(kind.name or str(int(kind))).lower()} {count}"
        for kind, count in sorted(desk.seen.items())
    )
    print(f"  desk events by kind       {byKind}")
    if len(delivered) != 3 or handshakes != 3 or disconnections != 3 or subscriptions:
        print("FAILED: a first message was lost or a reader went unseen")
        raise SystemExit(1)
    print(
        "OK: 3 readers came and went, each got the first message published "
        "for it; the desk saw 3 connect and 3 leave"
    )


if __name__ == "__main__":
    react(main)

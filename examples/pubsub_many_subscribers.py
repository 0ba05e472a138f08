#!/usr/bin/env python3
"""
One publisher, several subscribers: a bathroom light switch wakes the kitchen.

Rather than having every kitchen appliance ask the light switch, over and
over, whether the light is on, the switch *publishes* its state and every
interested appliance *subscribes* to it:

    light switch (PUB, binds) --+--> toaster      (SUB "light")
                                +--> coffee maker (SUB "light")
                                +--> garage door  (SUB "garage")

Subscriptions are prefixes of the tag a message is published with, so the
toaster's subscription to b"light" matches b"light.bathroom", and the
garage door never sees the light messages at all: ZeroMQ filters them out.

The switch is a C{ZmqXPubConnection}, a publisher that sees subscriptions
arrive, so it can wait until every appliance is listening before it
publishes (a PUB socket drops what it publishes before a subscription has
reached it: the "slow joiner" problem).  Two appliances subscribe to the
same b"light", and the switch is told only about the first one; so each
appliance also subscribes to a tag of its own, b"hello.<name>", last.  A
subscriber's subscriptions reach the publisher in order: once
C{switch.whenSubscribed(b"hello.toaster")} has fired, the toaster's
b"light" has arrived too.  Nothing is ever published under b"hello.".

Everything runs in this one process over TCP on a random local port, and
the program stops by itself:

    .venv/bin/python examples/pubsub_many_subscribers.py   # or any Python with txzmq installed

Exit status 0 when every appliance got exactly the messages meant for it.
"""

from __future__ import annotations

from collections.abc import Callable

import zmq
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


def helloTag(name: str) -> bytes:
    """The tag a subscriber subscribes to last, to say it is listening."""
    return b"hello." + name.encode()


class Appliance(ZmqSubConnection):
    """A subscriber that records what it receives and reacts to it."""

    def __init__(
        self,
        factory: ZmqFactory,
        address: str,
        name: str,
        job: str,
        topic: bytes,
        onMessage: Callable[[], None],
    ) -> None:
        super().__init__(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
        # txzmq reads nothing before the next reactor turn, so gotMessage()
        # cannot run before this __init__ has finished.
        self.name = name
        self.job = job
        self.onMessage = onMessage
        self.received: list[tuple[bytes, bytes]] = []
        self.subscribe(topic)
        # Last: when the publisher sees this one, it has seen the others.
        # The separator ends it, so b"hello.toaster" would not also match
        # the tag b"hello.toaster2".
        self.subscribe(helloTag(name) + b"\0")

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.received.append((tag, message))
        update = f"{tag.decode()}={message.decode()}"
        verb = "start" if message in (b"on", b"open") else "stop"
        print(f"  {self.name:<12} <- {update:<18} {verb} {self.job}")
        self.onMessage()


async def main(reactor: IReactorTime) -> None:
    factory = ZmqFactory(reactor)  # the reactor is passed in, never imported

    # The light switch binds to a random free port on the loopback interface;
    # LAST_ENDPOINT tells us which one it got.
    switch = ZmqXPubConnection(
        factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*")
    )
    address = switch.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    print(f"light switch publishing on {address}")

    done: Deferred[None] = Deferred()

    # Each appliance expects a number of messages; check after every one.
    expected = {"toaster": 2, "coffee maker": 2, "garage door": 1}

    def check() -> None:
        if not done.called and all(
            len(a.received) >= expected[a.name] for a in appliances
        ):
            done.callback(None)

    appliances = [
        Appliance(factory, address, "toaster", "toasting bread", b"light", check),
        Appliance(factory, address, "coffee maker", "brewing coffee", b"light", check),
        Appliance(factory, address, "garage door", "moving the door", b"garage", check),
    ]

    started = reactor.seconds()
    try:
        await defer.gatherResults(
            [
                switch.whenSubscribed(helloTag(a.name), timeout=TIMEOUT)
                for a in appliances
            ],
            consumeErrors=True,
        )
    except defer.FirstError:
        factory.shutdown()
        print("FAILED: the subscribers never connected")
        raise SystemExit(1) from None
    waited = (reactor.seconds() - started) * 1000
    print(f"all {len(appliances)} subscribers connected after {waited:.1f} ms")

    # The real messages.  The garage message goes last: messages from one
    # publisher arrive in order, so once the garage door has its message, any
    # light message wrongly sent to it would already have arrived.
    switch.publish(b"on", b"light.bathroom")
    switch.publish(b"off", b"light.bathroom")
    switch.publish(b"open", b"garage.door")

    done.addTimeout(TIMEOUT, reactor)
    try:
        await done
    except defer.TimeoutError:
        pass  # the summary below says what is missing
    factory.shutdown()

    print("summary:")
    ok = True
    for appliance in appliances:
        got = len(appliance.received)
        want = expected[appliance.name]
        ok = ok and got == want
        print(f"  {appliance.name:<12} received {got}/{want}")
    if not ok:
        print("FAILED: some messages were missing or went to the wrong appliance")
        raise SystemExit(1)
    print("OK: one light switch woke 2 appliances; the garage door only saw garage")


if __name__ == "__main__":
    react(main)

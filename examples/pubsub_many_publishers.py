#!/usr/bin/env python3
"""
One subscriber, several publishers: a smart mirror watches the kitchen.

The coffee maker and the toaster each publish their progress on their own
socket; the bathroom mirror connects its one SUB socket to both and shows
whatever arrives, whichever appliance it comes from:

    coffee maker (PUB, binds) --+
                                +--> smart mirror (SUB, connects to both)
    toaster      (PUB, binds) --+

A SUB socket fair-queues between its publishers: messages from one
publisher keep their order, messages from different publishers interleave.

The toaster shows the other wire format a subscriber understands: plain
pyzmq tutorials send the topic as a first frame and the body as a second
(C{[topic, body]}); txzmq's own C{publish()} sends one frame,
C{topic + NUL + body}.  C{gotMessage(body, topic)} gets both the same way.

Both appliances publish on a C{ZmqXPubConnection}, a publisher that sees
subscriptions arrive: each waits with C{whenSubscribed(topic)} until the
mirror's subscription has reached it, then publishes.  Nothing published
after that is lost to the "slow joiner" problem, and nothing sleeps.

Everything runs in this one process over TCP on random local ports, and
the program stops by itself:

    .venv/bin/python examples/pubsub_many_publishers.py   # or any Python with txzmq installed

Exit status 0 when the mirror saw every update of both appliances.
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

UPDATES = {
    b"coffee": [b"heating water", b"brewing", b"ready"],
    b"toast": [b"toasting", b"ready"],
}


class SmartMirror(ZmqSubConnection):
    """Shows each appliance's latest status."""

    def __init__(self, factory: ZmqFactory, onUpdate: Callable[[], None]) -> None:
        super().__init__(factory)  # endpoints are added once publishers exist
        self.onUpdate = onUpdate
        self.received: dict[bytes, list[bytes]] = {topic: [] for topic in UPDATES}
        for topic in UPDATES:
            self.subscribe(topic)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.received[tag].append(message)
        print(f"  mirror shows: {tag.decode():<6} {message.decode()}")
        self.onUpdate()


async def main(reactor: IReactorTime) -> None:
    factory = ZmqFactory(reactor)

    def newPublisher() -> tuple[ZmqXPubConnection, str]:
        pub = ZmqXPubConnection(
            factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*")
        )
        return pub, pub.socket.getsockopt_string(zmq.LAST_ENDPOINT)

    coffeeMaker, coffeeAddress = newPublisher()
    toaster, toastAddress = newPublisher()
    print(f"coffee maker publishing on {coffeeAddress}")
    print(f"toaster      publishing on {toastAddress}")

    done: Deferred[None] = Deferred()

    def check() -> None:
        complete = all(
            len(mirror.received[topic]) >= len(updates)
            for topic, updates in UPDATES.items()
        )
        if complete and not done.called:
            done.callback(None)

    # One subscriber, two endpoints: it connects to both publishers.
    mirror = SmartMirror(factory, check)
    mirror.addEndpoints(
        [
            ZmqEndpoint(ZmqEndpointType.connect, coffeeAddress),
            ZmqEndpoint(ZmqEndpointType.connect, toastAddress),
        ]
    )

    # The mirror sends its subscriptions to each publisher it connects to.
    # Wait until each publisher has the one for its own topic: from then
    # on, what it publishes under that topic reaches the mirror.  Both
    # waits run at the same time.
    try:
        await defer.gatherResults(
            [
                coffeeMaker.whenSubscribed(b"coffee", timeout=TIMEOUT),
                toaster.whenSubscribed(b"toast", timeout=TIMEOUT),
            ],
            consumeErrors=True,
        )
    except defer.FirstError:
        factory.shutdown()
        print("FAILED: the mirror never connected to both publishers")
        raise SystemExit(1) from None
    print("mirror connected to both publishers")

    # Publish the updates, alternating between the two appliances.
    for step in range(max(len(u) for u in UPDATES.values())):
        if step < len(UPDATES[b"coffee"]):
            # txzmq's format: one frame, topic + NUL + body.
            coffeeMaker.publish(UPDATES[b"coffee"][step], b"coffee")
        if step < len(UPDATES[b"toast"]):
            # pyzmq tutorials' format: two frames, [topic, body].
            toaster.send([b"toast", UPDATES[b"toast"][step]])

    done.addTimeout(TIMEOUT, reactor)
    try:
        await done
    except defer.TimeoutError:
        pass  # the summary below says what is missing
    factory.shutdown()

    print("summary:")
    ok = True
    for topic, updates in UPDATES.items():
        got = mirror.received[topic]
        inOrder = got == updates
        ok = ok and inOrder
        print(
            f"  {topic.decode():<6} {len(got)}/{len(updates)} updates"
            f"{', in order' if inOrder else ', WRONG: ' + repr(got)}"
        )
    if not ok:
        print("FAILED: the mirror missed updates")
        raise SystemExit(1)
    print("OK: one subscriber received every update from 2 publishers")


if __name__ == "__main__":
    react(main)

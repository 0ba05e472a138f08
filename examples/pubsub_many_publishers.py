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
from twisted.internet.task import LoopingCall, react

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

TIMEOUT = 5.0  # seconds: give up (and exit 1) if messages are missing by then
PROBE = b"probe."  # probes are tagged b"probe.<appliance>"

UPDATES = {
    b"coffee": [b"heating water", b"brewing", b"ready"],
    b"toast": [b"toasting", b"ready"],
}


class SmartMirror(ZmqSubConnection):
    """Shows each appliance's latest status."""

    def __init__(self, factory: ZmqFactory, onUpdate: Callable[[], None]) -> None:
        super().__init__(factory)  # endpoints are added once publishers exist
        self.onUpdate = onUpdate
        self.probed: set[bytes] = set()
        self.received: dict[bytes, list[bytes]] = {topic: [] for topic in UPDATES}
        for topic in UPDATES:
            self.subscribe(topic)
        self.subscribe(PROBE)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        if tag.startswith(PROBE):
            self.probed.add(tag[len(PROBE) :])
            return
        self.received[tag].append(message)
        print(f"  mirror shows: {tag.decode():<6} {message.decode()}")
        self.onUpdate()


def publishProbesUntil(
    reactor: IReactorTime,
    sendProbe: Callable[[], None],
    ready: Callable[[], bool],
    timeout: float = TIMEOUT,
) -> Deferred[bool]:
    """
    Call C{sendProbe()} every 20 ms until C{ready()} is true (fires True) or
    the timeout passes (fires False).

    Why: a PUB socket drops what it publishes before the subscriber's
    subscription has reached it ("slow joiner"); over TCP that takes a few
    milliseconds after connect().  Instead of sleeping and hoping, publish a
    probe until the subscriber reports it.  (A later txzmq feature,
    connection events, will make this loop unnecessary.)
    """
    deadline = reactor.seconds() + timeout
    result: Deferred[bool] = Deferred()

    def tick() -> None:
        if ready() or reactor.seconds() > deadline:
            loop.stop()
            result.callback(ready())
        else:
            sendProbe()

    loop = LoopingCall(tick)
    loop.clock = reactor
    loop.start(0.02)
    return result


async def main(reactor: IReactorTime) -> None:
    factory = ZmqFactory(reactor)

    def newPublisher() -> tuple[ZmqPubConnection, str]:
        pub = ZmqPubConnection(
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

    # Wait until each publisher's probe has reached the mirror.  Both loops
    # run at the same time.
    probes = [
        publishProbesUntil(
            reactor,
            lambda: coffeeMaker.publish(b"", PROBE + b"coffee"),
            lambda: b"coffee" in mirror.probed,
        ),
        publishProbesUntil(
            reactor,
            lambda: toaster.send([PROBE + b"toast", b""]),
            lambda: b"toast" in mirror.probed,
        ),
    ]
    results = await defer.gatherResults(probes)
    if not all(results):
        factory.shutdown()
        print("FAILED: the mirror never connected to both publishers")
        raise SystemExit(1)
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

#!/usr/bin/env python3
"""
Many publishers, many subscribers, one address on each side: a forwarder.

Three weather stations publish readings and three displays each show the
places they care about.  Nobody needs everyone else's address: the
stations connect to the forwarder's frontend, the displays to its
backend, and the forwarder joins them all:

    station north --+                                 +--> dashboard    (weather.)
    station south --+--> XSUB [ forwarder ] XPUB -----+--> north panel  (weather.north)
    station east  --+                                 +--> coast panel  (weather.south,
                                                                         weather.east)

A forwarder (C{FORWARDER}: an XSUB frontend, an XPUB backend) passes
publications downstream and subscriptions upstream: a display's
C{subscribe()} travels through it to every station, so a station sends
only what someone wants to read.

As everywhere in pub/sub, a subscriber receives what is published after
its subscription arrived.  The stations are C{ZmqXPubConnection}s: they
see the subscriptions the forwarder's XSUB passes upstream, so each one
waits with C{whenSubscribed()} until every display is listening (no
probe, no fixed sleep).  But a station waiting for b"weather.north" would
be satisfied by whichever matching subscription came first (the
dashboard's b"weather." or the north panel's), and libzmq passes on only
the first subscription to a prefix (all three displays subscribe to
b"end.").  So each display also subscribes, last, to a tag of its own,
b"hello.<name>": a subscriber's subscriptions travel in order, so once a
station sees a display's own tag, it has that display's other
subscriptions too.  Nothing is published under b"hello.".

After the readings, each station publishes one message under
b"end.<station>", which every display subscribed to: messages from one
station arrive in order, so a display that got a station's end message
has received everything that station published before it.  That is how
the summary can say "exactly once".

The forwarder runs on the reactor (a C{ReactorDevice}); give C{thread}
or C{process} as argument to run the very same forwarder through
libzmq's own proxy in a background thread or in a child process:

    .venv/bin/python examples/devices_forwarder.py [reactor|thread|process]

Everything runs over TCP on random local ports and stops by itself.  Exit
status 0 when every display got every reading it subscribed to, exactly
once.
"""

from __future__ import annotations

import sys
from collections import Counter

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import react

from txzmq import (
    FORWARDER,
    ProcessDevice,
    ReactorDevice,
    ThreadDevice,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqSubConnection,
    ZmqXPubConnection,
)

TIMEOUT = 10.0  # seconds: give up (and exit 1) if readings are missing by then
READINGS = 100  # per station
STATIONS = [b"north", b"south", b"east"]
DISPLAYS = {
    "dashboard": [b"weather."],
    "north panel": [b"weather.north"],
    "coast panel": [b"weather.south", b"weather.east"],
}
END = b"end."  # after its readings, a station publishes once under b"end.<station>"
MODES = {"reactor": ReactorDevice, "thread": ThreadDevice, "process": ProcessDevice}


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


def helloTag(name: str) -> bytes:
    """The tag a display subscribes to last, to say it is listening."""
    return b"hello." + name.encode()


class Display(ZmqSubConnection):
    """Counts the readings of each station, and the end messages it got."""

    def __init__(
        self, factory: ZmqFactory, address: str, name: str, topics: list[bytes]
    ) -> None:
        super().__init__(factory, connect(address))
        # txzmq reads nothing before the next reactor turn, so gotMessage()
        # cannot run before this __init__ has finished.
        self.topics = topics
        self.readings: Counter[tuple[bytes, bytes]] = Counter()
        self.ends: set[bytes] = set()
        self.done: Deferred[None] = Deferred()
        for topic in topics:
            self.subscribe(topic)
        self.subscribe(END)
        # Last: when a station sees this one, it has seen the others.  The
        # separator ends it, so it is no prefix of another display's tag.
        self.subscribe(helloTag(name) + b"\0")

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        if tag.startswith(END):
            self.ends.add(tag)
            if len(self.ends) == len(STATIONS) and not self.done.called:
                self.done.callback(None)
        else:
            self.readings[tag, message] += 1  # (b"weather.north", b"17")

    def fromStation(self, station: bytes) -> int:
        """How many readings of C{station} arrived."""
        tag = b"weather." + station
        return sum(count for (t, _), count in self.readings.items() if t == tag)

    def expected(self) -> set[tuple[bytes, bytes]]:
        """The readings this display subscribed to."""
        return {
            (b"weather." + station, b"%d" % n)
            for station in STATIONS
            for n in range(READINGS)
            if any((b"weather." + station).startswith(t) for t in self.topics)
        }


async def main(reactor: IReactorTime, mode: str = "reactor") -> None:
    if mode not in MODES:
        print(f"usage: devices_forwarder.py [{'|'.join(MODES)}]", file=sys.stderr)
        raise SystemExit(2)
    factory = ZmqFactory(reactor)
    forwarder = MODES[mode](
        factory, FORWARDER, bind("tcp://127.0.0.1:*"), bind("tcp://127.0.0.1:*")
    )
    await forwarder.start()
    [front] = forwarder.addresses["frontend"]
    [back] = forwarder.addresses["backend"]
    print(
        f"forwarder ({type(forwarder).__name__}): stations -> {front}, displays <- {back}"
    )

    stations = {place: ZmqXPubConnection(factory, connect(front)) for place in STATIONS}
    displays = {
        name: Display(factory, back, name, topics) for name, topics in DISPLAYS.items()
    }

    # Every station waits until every display's subscriptions reached it.
    try:
        await defer.gatherResults(
            [
                station.whenSubscribed(helloTag(name), timeout=TIMEOUT)
                for station in stations.values()
                for name in displays
            ],
            consumeErrors=True,
        )
    except defer.FirstError:
        await forwarder.stop()
        factory.shutdown()
        print("FAILED: the displays never heard from every station")
        raise SystemExit(1) from None
    print("every display hears every station; publishing")

    for n in range(READINGS):
        for place, station in stations.items():
            station.publish(b"%d" % n, b"weather." + place)
    for place, station in stations.items():
        station.publish(b"", END + place)

    # Each display is done once it has every station's end message.
    fenced = True
    try:
        await defer.gatherResults(
            [d.done.addTimeout(TIMEOUT, reactor) for d in displays.values()],
            consumeErrors=True,
        )
    except defer.FirstError:
        fenced = False  # the summary below says what is missing
    await forwarder.stop()
    factory.shutdown()

    print("summary:")
    ok = fenced
    for name, display in displays.items():
        expected = display.expected()
        got = set(display.readings)
        missing = len(expected - got)
        unwanted = len(got - expected)
        duplicates = sum(count - 1 for count in display.readings.values())
        perStation = ", ".join(
            f"{place.decode()} {display.fromStation(place)}" for place in STATIONS
        )
        ok = ok and not (missing or unwanted or duplicates)
        print(
            f"  {name:<12} {len(got)}/{len(expected)} readings ({perStation}); "
            f"{missing} missing, {duplicates} duplicates, {unwanted} unwanted"
        )
    if not ok:
        print("FAILED: readings were lost, repeated or misdelivered")
        raise SystemExit(1)
    print(
        f"OK: {len(STATIONS)} stations reached {len(DISPLAYS)} displays through one "
        "forwarder, every reading exactly once"
    )


if __name__ == "__main__":
    react(main, sys.argv[1:])

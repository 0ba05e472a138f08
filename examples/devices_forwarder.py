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
its subscription arrived.  So before the readings, each station
publishes a probe until every display has seen it (no fixed sleep); after
the readings, the same again as a fence: a display that saw a station's
last probe has received everything that station published before it.
That is how the summary can say "exactly once".

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
from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater, react

from txzmq import (
    FORWARDER,
    ProcessDevice,
    ReactorDevice,
    ThreadDevice,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)

TIMEOUT = 10.0  # seconds: give up (and exit 1) if readings are missing by then
READINGS = 100  # per station
STATIONS = [b"north", b"south", b"east"]
DISPLAYS = {
    "dashboard": [b"weather."],
    "north panel": [b"weather.north"],
    "coast panel": [b"weather.south", b"weather.east"],
}
PROBE = b"probe."  # probes are tagged b"probe.<round>.<station>"
MODES = {"reactor": ReactorDevice, "thread": ThreadDevice, "process": ProcessDevice}


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


class Display(ZmqSubConnection):
    """Counts the readings of each station, and the probes it has seen."""

    def __init__(self, factory: ZmqFactory, address: str, topics: list[bytes]) -> None:
        super().__init__(factory, connect(address))
        self.topics = topics
        self.readings: Counter[tuple[bytes, bytes]] = Counter()
        self.probes: set[bytes] = set()
        for topic in topics:
            self.subscribe(topic)
        self.subscribe(PROBE)

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        if tag.startswith(PROBE):
            self.probes.add(tag)
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


async def probeUntil(
    reactor: IReactorTime, send: Callable[[], None], ready: Callable[[], bool]
) -> bool:
    """Call C{send()} every 10 ms until C{ready()}; False after TIMEOUT."""
    deadline = reactor.seconds() + TIMEOUT
    while not ready():
        if reactor.seconds() > deadline:
            return False
        send()
        await deferLater(reactor, 0.01, lambda: None)
    return True


async def meet(
    reactor: IReactorTime,
    stations: dict[bytes, ZmqPubConnection],
    displays: list[Display],
    round: str,
) -> bool:
    """Probe from every station until every display has every probe."""
    tags = {name: PROBE + round.encode() + b"." + name for name in stations}

    def send() -> None:
        for name, station in stations.items():
            station.publish(b"", tags[name])

    return await probeUntil(
        reactor,
        send,
        lambda: all(tag in d.probes for d in displays for tag in tags.values()),
    )


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

    stations = {place: ZmqPubConnection(factory, connect(front)) for place in STATIONS}
    displays = {
        name: Display(factory, back, topics) for name, topics in DISPLAYS.items()
    }

    met = await meet(reactor, stations, list(displays.values()), "start")
    if not met:
        print("FAILED: the displays never heard from every station")
        raise SystemExit(1)
    print("every display hears every station; publishing")

    for n in range(READINGS):
        for place, station in stations.items():
            station.publish(b"%d" % n, b"weather." + place)

    fenced = await meet(reactor, stations, list(displays.values()), "end")
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

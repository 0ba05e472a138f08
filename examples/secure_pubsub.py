#!/usr/bin/env python3
"""
A CURVE-encrypted publisher that only lets in the subscribers it knows.

    alice   (SUB, key in authorized/) --CURVE--> station (PUB, binds) : readings
    mallory (SUB, unknown key)        --CURVE--> station              : refused

The station has a CURVE keypair; every subscriber has its own and knows
the station's public key.  A ZapAuthenticator on the reactor lets in the
subscribers whose public certificate is in the "authorized" directory:
alice's is, mallory's is not.  The station's monitor reports mallory's
failed handshake, and the authenticator logs why it refused her.

Everything runs in this one process over TCP on a random local port, with
the certificates in a temporary directory, and the program stops by
itself:

    .venv/bin/python examples/secure_pubsub.py   # or any Python with txzmq installed

Exit status 0 when alice got every reading and mallory got nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall, react
from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    formatEvent,
    globalLogPublisher,
)
from zope.interface import provider

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqEvent,
    ZmqFactory,
    ZmqPubConnection,
    ZmqSubConnection,
)
from txzmq.security import (
    CurveClient,
    CurveServer,
    ZapAuthenticator,
    createCertificates,
    loadCertificate,
)

READINGS = 3
TIMEOUT = 5.0  # seconds: give up (and exit 1) if something is missing by then


def makeCertificates(home: str) -> str:
    """
    Key pairs for the station, alice and mallory in home/keys, and alice's
    public certificate (only) in home/authorized.
    """
    keys = os.path.join(home, "keys")
    authorized = os.path.join(home, "authorized")
    for name in ("station", "alice", "mallory"):
        createCertificates(keys, name)  # name.key (public), name.key_secret
    os.makedirs(authorized)
    shutil.copy(os.path.join(keys, "alice.key"), authorized)
    return keys


def keypair(keys: str, name: str) -> tuple[bytes, bytes]:
    public, secret = loadCertificate(os.path.join(keys, f"{name}.key_secret"))
    assert secret is not None
    return public, secret


class Subscriber(ZmqSubConnection):
    def __init__(self, factory: ZmqFactory, name: str, address: str, **kw: Any) -> None:
        super().__init__(factory, ZmqEndpoint(ZmqEndpointType.connect, address), **kw)
        self.name = name
        self.readings: list[bytes] = []
        self.complete: Deferred[None] = Deferred()  # fires at READINGS readings
        self.subscribe(b"temperature")

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        self.readings.append(message)
        print(f"  {self.name} <- {tag.decode()} {message.decode()}")
        if len(self.readings) == READINGS:
            self.complete.callback(None)


@provider(ILogObserver)
def printWarnings(event: LogEvent) -> None:
    """Show the warnings txzmq logs (denials, failed handshakes)."""
    if event.get("log_level", LogLevel.info) >= LogLevel.warn:
        print(f"  log: {formatEvent(event)}")


async def main(reactor: Any) -> None:
    home = tempfile.mkdtemp(prefix="txzmq-secure-")
    try:
        keys = makeCertificates(home)
        await run(reactor, keys, os.path.join(home, "authorized"))
    finally:
        shutil.rmtree(home)


async def run(reactor: Any, keys: str, authorized: str) -> None:
    globalLogPublisher.addObserver(printWarnings)
    factory = ZmqFactory(reactor)

    # 1. The authenticator: one per factory, started before the server.
    authenticator = ZapAuthenticator(factory, curveDirectory=authorized)
    authenticator.startService()

    # 2. The station: a CURVE server, watching its handshakes.
    stationPublic, stationSecret = keypair(keys, "station")
    station = ZmqPubConnection(
        factory,
        ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*"),
        security=CurveServer(stationSecret),
        monitorEvents=zmq.EVENT_ALL,
    )
    address = station.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    print(f"station publishing on {address} (CURVE)")
    refused: Deferred[ZmqEvent] = Deferred()

    def onEvent(event: ZmqEvent) -> None:
        if event.kind == zmq.Event.HANDSHAKE_SUCCEEDED:
            print("  station: a subscriber completed the CURVE handshake")
        elif event.failed:
            print(f"  station: refused a peer: {event.reason}")
            if not refused.called:
                refused.callback(event)

    station.addEventObserver(onEvent)

    # 3. Two subscribers, each with its own keypair and the station's key.
    alice = Subscriber(
        factory,
        "alice",
        address,
        security=CurveClient(stationPublic, *keypair(keys, "alice")),
    )
    mallory = Subscriber(
        factory,
        "mallory",
        address,
        security=CurveClient(stationPublic, *keypair(keys, "mallory")),
    )

    # 4. Publish a reading every 50 ms until alice has them all (the first
    #    ones may go out before her subscription has arrived).
    sent = 0

    def publish() -> None:
        nonlocal sent
        if len(alice.readings) < READINGS:
            sent += 1
            station.publish(f"{20 + sent / 10:.1f} C".encode(), b"temperature")

    loop = LoopingCall(publish)
    loop.clock = reactor
    loop.start(0.05)

    waits: list[Deferred[Any]] = [refused, alice.complete]
    done = defer.gatherResults(waits, consumeErrors=True)
    done.addTimeout(TIMEOUT, reactor)
    try:
        await done
    except defer.TimeoutError:
        pass  # the summary says what is missing
    loop.stop()
    for connection in (alice, mallory, station):
        connection.shutdown()
    authenticator.stopService()
    factory.shutdown()
    globalLogPublisher.removeObserver(printWarnings)

    print("summary:")
    print(f"  alice (authorized key): {len(alice.readings)} readings")
    print(
        f"  mallory (unknown key):  {len(mallory.readings)} readings, "
        f"{'refused' if refused.called else 'NOT refused'}"
    )
    if len(alice.readings) < READINGS or mallory.readings or not refused.called:
        print("FAILED: the station did not keep to its list of subscribers")
        raise SystemExit(1)
    print(
        f"OK: alice received {len(alice.readings)} encrypted readings; mallory's "
        "unknown key was refused and she received nothing"
    )


if __name__ == "__main__":
    react(main)

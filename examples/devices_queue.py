#!/usr/bin/env python3
"""
A request/reply broker: clients and workers meet at a queue device.

Clients send requests to one address, workers take them from another;
neither side knows how many of the other there are, and workers can come
and go:

    client-1 (REQ) --+                                   +--> worker-1 (REP)
    client-2 (REQ) --+--> ROUTER [ queue ] DEALER -------+--> worker-2 (REP)
    client-3 (REQ) --+                                   +--> worker-3 (REP)
    client-4 (REQ) --+

A queue (C{QUEUE}: a ROUTER frontend, a DEALER backend) deals requests
out to the workers in turn and routes each reply back to the client that
asked: the ROUTER puts the client's routing id in front of the request,
the worker's reply carries it back, and the ROUTER strips it again.
L{ZmqREQConnection} and L{ZmqREPConnection} need no change to work through
it.

Two rounds:

  1. a C{ReactorDevice} queue: 40 requests, and how the workers shared
     them;
  2. the same through a monitored C{ThreadDevice}: a PUB socket of the
     device publishes a copy of every message passing, prefixed with
     C{b"in"} (client to worker) or C{b"out"} (worker to client), and a
     monitor counts them.

A DEALER deals only to the workers connected right now, so the program
waits until every worker is connected (C{whenConnected()}) before the
first request.  The monitor, being a subscriber, only sees what passes
after its subscription reached the device: it pings until it saw a copy.

    .venv/bin/python examples/devices_queue.py

Exit status 0 when every request got its answer, every worker did some
of the work, and the monitor saw each request and each reply once.
"""

from __future__ import annotations

from collections import Counter

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater, react

from txzmq import (
    QUEUE,
    ReactorDevice,
    ThreadDevice,
    ZmqConnection,
    ZmqDevice,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
)

TIMEOUT = 10.0  # seconds: give up (and exit 1) if something is missing by then
CLIENTS = 4
WORKERS = 3
REQUESTS = 10  # per client
PING = b"ping"


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


class Worker(ZmqREPConnection):
    """Squares numbers, taking 5 ms for each; counts what it did."""

    def __init__(self, factory: ZmqFactory, name: str, address: str) -> None:
        # Watch the connection's handshake, for whenConnected().
        super().__init__(factory, monitorEvents=zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.addEndpoints([connect(address)])
        self.name = name
        self.answered = 0

    def gotMessage(self, messageId: bytes, *parts: bytes) -> Deferred[list[bytes]]:
        if parts == (PING,):
            return defer.succeed([PING])
        self.answered += 1
        square = int(parts[0]) ** 2
        # Returning a Deferred: the reply goes out when it fires.
        return deferLater(
            self.factory.reactor, 0.005, lambda: [self.name.encode(), b"%d" % square]
        )


class Monitor(ZmqConnection):
    """
    A plain SUB socket on the device's monitor: copies are multipart
    C{[prefix, *frames]}, not txZMQ's one-frame pub/sub format, so this is
    a raw connection, not a ZmqSubConnection.
    """

    socketType = zmq.SUB

    def __init__(self, factory: ZmqFactory, address: str) -> None:
        super().__init__(factory, connect(address))
        self.socket.set(zmq.SUBSCRIBE, b"")  # every copy
        self.copies: Counter[bytes] = Counter()  # by prefix: b"in", b"out"
        self.pings: Counter[bytes] = Counter()

    def messageReceived(self, message: list[bytes]) -> None:
        # [b"in", client's routing id, request id, b"", *request] or
        # [b"out", client's routing id, request id, b"", *reply]
        prefix, *frames = message
        if frames[-1] == PING:
            self.pings[prefix] += 1
        else:
            self.copies[prefix] += 1

    async def ping(self, reactor: IReactorTime, client: ZmqREQConnection) -> None:
        """
        Send a ping through the device until the copy of its reply reaches
        the monitor: the monitor is then subscribed, and has every copy of
        what passed before the ping.
        """
        seen = self.pings[b"out"]
        deadline = reactor.seconds() + TIMEOUT
        while self.pings[b"out"] == seen:
            if reactor.seconds() > deadline:
                raise defer.TimeoutError("the monitor sees nothing")
            await client.sendMsg(PING, timeout=TIMEOUT)
            await deferLater(reactor, 0.01, lambda: None)


async def client(
    connection: ZmqREQConnection, number: int, results: dict[int, str]
) -> None:
    """Send this client's requests one after the other."""
    for n in range(REQUESTS):
        task = number * 100 + n
        worker, square = await connection.sendMsg(b"%d" % task, timeout=TIMEOUT)
        if int(square) == task * task:
            results[task] = worker.decode()


async def broker(
    reactor: IReactorTime, factory: ZmqFactory, device: ZmqDevice
) -> tuple[bool, Monitor | None]:
    """Run one round through C{device}; True if everything was answered."""
    await device.start()
    [front] = device.addresses["frontend"]
    [back] = device.addresses["backend"]
    print(f"{type(device).__name__} queue: clients -> {front}, workers -> {back}")
    workers = [Worker(factory, f"worker-{i}", back) for i in range(1, WORKERS + 1)]
    await defer.gatherResults([w.whenConnected(timeout=TIMEOUT) for w in workers])
    clients = [ZmqREQConnection(factory, connect(front)) for _ in range(CLIENTS)]

    monitor = None
    if device.addresses["monitor"]:
        [address] = device.addresses["monitor"]
        monitor = Monitor(factory, address)
        await monitor.ping(reactor, clients[0])
        print("  the monitor is subscribed")

    results: dict[int, str] = {}
    await defer.gatherResults(
        [
            Deferred.fromCoroutine(client(c, number, results))
            for number, c in enumerate(clients, 1)
        ]
    )
    if monitor is not None:
        await monitor.ping(reactor, clients[0])
    await device.stop()
    for connection in [*workers, *clients]:
        connection.shutdown()

    share = Counter(results.values())
    print(f"  {len(results)}/{CLIENTS * REQUESTS} requests answered correctly")
    for worker in workers:
        print(f"  {worker.name} answered {share[worker.name]} requests")
    if monitor is not None:
        print(
            f"  the monitor saw {monitor.copies[b'in']} in (requests) and "
            f"{monitor.copies[b'out']} out (replies)"
        )
    ok = len(results) == CLIENTS * REQUESTS and all(
        share[w.name] == w.answered > 0 for w in workers
    )
    return ok, monitor


async def main(reactor: IReactorTime) -> None:
    factory = ZmqFactory(reactor)
    bindAny = bind("tcp://127.0.0.1:*")
    try:
        plain, _ = await broker(
            reactor, factory, ReactorDevice(factory, QUEUE, bindAny, bindAny)
        )
        monitored, monitor = await broker(
            reactor, factory, ThreadDevice(factory, QUEUE, bindAny, bindAny, bindAny)
        )
    except defer.TimeoutError:
        factory.shutdown()
        print("FAILED: a peer did not connect or a request got no reply in time")
        raise SystemExit(1) from None
    factory.shutdown()

    total = CLIENTS * REQUESTS
    assert monitor is not None
    seen = (monitor.copies[b"in"], monitor.copies[b"out"])
    if not (plain and monitored) or seen != (total, total):
        print(
            "FAILED: requests were lost, a worker idled, or the monitor missed copies"
        )
        raise SystemExit(1)
    print(
        f"OK: {total} requests from {CLIENTS} clients spread over {WORKERS} workers "
        f"through the queue, twice; the monitor saw {total} in and {total} out"
    )


if __name__ == "__main__":
    react(main)

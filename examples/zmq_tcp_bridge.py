#!/usr/bin/env python3
"""
A ZeroMQ-to-TCP bridge that slows ZeroMQ down to the pace of a TCP client.

    source (PUSH) --ipc--> bridge (PULL) ==TCP==> slow client

A bridge that reads from ZeroMQ as fast as it can and writes to a TCP
client that reads slowly piles the difference up in memory: Twisted's
C{transport.write()} never refuses data.  Twisted's answer is the
producer/consumer protocol: a TCP transport is a consumer, and it pauses
its registered producer when its write buffer is full and resumes it when
the buffer has drained.

Every receiving txzmq connection is such a producer (C{IPushProducer}):
C{pauseProducing()} stops reading from the ZeroMQ socket.  So the bridge
only has to say

    transport.registerProducer(pullConnection, True)

and the pressure travels all the way back to the source:

  1. the client reads slowly, so the bridge's TCP buffers fill up;
  2. the transport pauses the PULL connection, which stops reading;
  3. the PULL socket's receive queue fills up to its high-water mark, then
     the PUSH socket's send queue up to its own;
  4. the source's C{pushDeferred()} Deferreds fire later and later: the
     source waits, and memory stays bounded everywhere.

The bridge frames each ZeroMQ message as a netstring on the TCP stream.
The client is a Twisted C{NetstringReceiver} that, after each chunk it
reads, pauses its own transport for a few milliseconds.  Small socket
buffers (C{SO_SNDBUF}/C{SO_RCVBUF}) make the effect visible with a few
megabytes of data instead of hundreds.

The summary shows how many bytes were ever "in flight" between the bridge
and the client (written by the bridge, not yet read by the client) against
the total, and how often the bridge was paused.  Everything runs in this
one process (ipc in a temporary directory, TCP on a random local port),
and the program stops by itself after the last message:

    .venv/bin/python examples/zmq_tcp_bridge.py   # or any Python with txzmq installed

Exit status 0 when the client got every message, in order, and the data
in flight stayed bounded.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from typing import Any, cast

from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.internet.task import react
from twisted.internet.tcp import Connection
from twisted.protocols.basic import NetstringReceiver
from twisted.python.failure import Failure

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
)

TIMEOUT = 30.0  # seconds: give up (and exit 1) if messages are missing by then
MESSAGES = 400
PAYLOAD_SIZE = 4096  # bytes per message: 400 x 4 KiB = 1.6 MiB in all
HIGH_WATER_MARK = 4  # messages, on the PUSH and the PULL socket
SOCKET_BUFFER = 16384  # bytes: SO_SNDBUF of the bridge, SO_RCVBUF of the client
READ_PAUSE = 0.002  # seconds the client rests after each chunk it reads


def tcp(protocol: Protocol) -> Connection:
    """
    A connected protocol's transport, typed as what it is: a TCP
    connection, which is also a consumer and a producer.
    """
    return cast(Connection, protocol.transport)


class Traffic:
    """Byte counters on both sides of the TCP connection."""

    def __init__(self) -> None:
        self.written = 0  # by the bridge
        self.read = 0  # by the client
        self.maxInFlight = 0

    def wrote(self, count: int) -> None:
        self.written += count
        self.maxInFlight = max(self.maxInFlight, self.written - self.read)


class BridgeConnection(ZmqPullConnection):
    """
    The ZeroMQ side of the bridge: hands every message to the TCP side,
    and counts how often the TCP transport pauses it.
    """

    def __init__(
        self, factory: ZmqFactory, endpoint: ZmqEndpoint, bridge: Bridge
    ) -> None:
        super().__init__(factory, endpoint, receiveHighWaterMark=HIGH_WATER_MARK)
        self.bridge = bridge
        self.pauses = 0

    def onPull(self, message: list[bytes]) -> None:
        self.bridge.forward(message[0])

    def pauseProducing(self) -> None:
        self.pauses += 1
        super().pauseProducing()


class Bridge(NetstringReceiver):
    """
    The TCP side of the bridge: one per TCP client.  When the client
    connects, it opens a ZeroMQ PULL connection and registers it as the
    producer of its transport.  When the client goes away, the transport
    calls the producer's C{stopProducing()}, which shuts the ZeroMQ
    connection down.
    """

    def connectionMade(self) -> None:
        self.hub = cast(BridgeFactory, self.factory)
        tcp(self).getHandle().setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER
        )
        self.zmq = BridgeConnection(
            self.hub.zmqFactory,
            ZmqEndpoint(ZmqEndpointType.connect, self.hub.zmqAddress),
            self,
        )
        tcp(self).registerProducer(self.zmq, True)
        self.hub.bridges.append(self)

    def forward(self, data: bytes) -> None:
        self.sendString(data)
        self.hub.traffic.wrote(len(data))

    def stringReceived(self, string: bytes) -> None:
        pass  # the client says nothing


class BridgeFactory(ServerFactory):
    """
    Makes a L{Bridge} for each TCP client, and holds what they share: the
    ZeroMQ factory and address, and the traffic counters.
    """

    protocol = Bridge

    def __init__(self, zmqFactory: ZmqFactory, zmqAddress: str, traffic: Traffic):
        self.zmqFactory = zmqFactory
        self.zmqAddress = zmqAddress
        self.traffic = traffic
        self.bridges: list[Bridge] = []


class SlowClient(NetstringReceiver):
    """
    Reads netstrings slowly: after each chunk of data, it stops reading
    from the socket for a moment.  It closes the connection after
    C{MESSAGES} messages.
    """

    MAX_LENGTH = PAYLOAD_SIZE + 100

    def __init__(self, reactor: IReactorTime, traffic: Traffic) -> None:
        self.reactor = reactor
        self.traffic = traffic
        self.received: list[int] = []
        self.damaged = 0
        self.chunks = 0
        self.allArrived: Deferred[None] = Deferred()
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        tcp(self).getHandle().setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER
        )

    def dataReceived(self, data: bytes) -> None:
        self.chunks += 1
        super().dataReceived(data)
        if not self.allArrived.called:
            tcp(self).pauseProducing()
            self.reactor.callLater(READ_PAUSE, tcp(self).resumeProducing)

    def stringReceived(self, string: bytes) -> None:
        number = int(string.partition(b":")[0])
        self.received.append(number)
        self.traffic.read += len(string)
        if string != payload(number):
            self.damaged += 1
        if len(self.received) == MESSAGES:
            self.allArrived.callback(None)
            tcp(self).loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)


def payload(number: int) -> bytes:
    """C{b"<number>:"} padded to PAYLOAD_SIZE bytes."""
    head = b"%d:" % number
    return head + b"." * (PAYLOAD_SIZE - len(head))


async def main(reactor: Any) -> None:
    directory = tempfile.mkdtemp(prefix="txzmq-bridge-")
    zmqAddress = f"ipc://{directory}/source.sock"
    factory = ZmqFactory(reactor)
    try:
        await run(reactor, factory, zmqAddress)
    finally:
        factory.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


async def run(reactor: Any, factory: ZmqFactory, zmqAddress: str) -> None:
    tcpReactor: IReactorTCP = reactor
    traffic = Traffic()
    source = ZmqPushConnection(
        factory,
        ZmqEndpoint(ZmqEndpointType.bind, zmqAddress),
        sendHighWaterMark=HIGH_WATER_MARK,
    )
    bridges = BridgeFactory(factory, zmqAddress, traffic)
    port = tcpReactor.listenTCP(0, bridges, interface="127.0.0.1")
    tcpPort = cast(IPv4Address, port.getHost()).port
    print(f"source on {zmqAddress}; bridge on tcp 127.0.0.1:{tcpPort}")

    client = SlowClient(reactor, traffic)
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", tcpPort), client)

    # The source: wait for each message to be taken by libzmq before
    # pushing the next.  With no bridge yet, or a full pipe, it just waits.
    started = reactor.seconds()
    waited = 0
    for number in range(MESSAGES):
        sent = source.pushDeferred(payload(number))
        if not sent.called:
            waited += 1
        await sent
    print(
        f"  source: {MESSAGES} messages handed to libzmq after "
        f"{reactor.seconds() - started:.2f} s, had to wait {waited} times"
    )

    client.allArrived.addTimeout(TIMEOUT, reactor)
    try:
        await client.allArrived
    except defer.TimeoutError:
        tcp(client).loseConnection()
    await client.closed
    await defer.maybeDeferred(port.stopListening)
    elapsed = reactor.seconds() - started

    total = MESSAGES * PAYLOAD_SIZE
    pauses = sum(bridge.zmq.pauses for bridge in bridges.bridges)
    inOrder = client.received == list(range(MESSAGES))
    print("summary:")
    print(
        f"  client received {len(client.received)}/{MESSAGES} messages "
        f"({'in order' if inOrder else 'OUT OF ORDER OR INCOMPLETE'}) "
        f"in {client.chunks} reads, {elapsed:.2f} s"
    )
    print(f"  the TCP transport paused the bridge's PULL connection {pauses} times")
    print(
        f"  most bytes in flight bridge -> client: {traffic.maxInFlight / 1024:.0f} KiB "
        f"of {total / 1024:.0f} KiB sent"
    )
    problems = []
    if not inOrder or client.damaged:
        problems.append("messages lost, damaged or reordered")
    if pauses == 0:
        problems.append("the bridge was never paused")
    if traffic.maxInFlight > total // 2:
        problems.append("the data in flight was not bounded")
    if problems:
        print("FAILED: " + "; ".join(problems))
        raise SystemExit(1)
    print(
        f"OK: {MESSAGES} messages crossed the ZeroMQ-to-TCP bridge in order, "
        "with bounded data in flight"
    )


if __name__ == "__main__":
    react(main)

#!/usr/bin/env python3
"""
Flow control: a fast PUSH sender, a slow PULL reader, nothing lost.

A sender that produces faster than its reader consumes must slow down
somewhere.  With plain C{push()} it is told so by a L{ZmqWouldBlockError}
and has to retry on its own.  Here the sender lets txzmq do the waiting,
in two ways, one after the other:

  1. C{pushDeferred(message)} returns a Deferred that fires once libzmq
     has taken the message.  When the socket is at its high-water mark,
     the message waits in the connection's outgoing queue (first in,
     first out) instead of being refused.  That queue is bounded too
     (C{maxQueuedMessages}): past the bound, C{pushDeferred} raises
     L{ZmqQueueFullError} at once, and the sender waits for the queue to
     drain before going on.  (The simplest use is
     C{await conn.pushDeferred(message)} for every message: the queue
     then never holds more than one.)

  2. A streaming producer registered with C{registerProducer(producer,
     True)}: it writes as fast as it likes with C{write()}, and the
     connection calls its C{pauseProducing()} as soon as a message has to
     wait, then C{resumeProducing()} once the queue is empty again.  This
     is Twisted's ordinary producer/consumer protocol, the one TCP
     transports speak.

The reader is deliberately slow: after each message it pauses its own
connection (C{pauseProducing()}: it stops reading from the socket) and
resumes a millisecond later.  High-water marks are tiny (a few messages)
and messages are large (8 KiB), so the pipe between the two fills up
quickly and the sender really does have to wait.

Between the two programs, ZeroMQ keeps the order of a PUSH/PULL pipe and
drops nothing; the outgoing queue keeps the order too.  The reader checks
that each phase arrived complete and in order, and the summary shows the
largest outgoing queue the sender ever had.

The sockets talk over ipc (a Unix socket in a temporary directory), and the
program stops by itself:

    .venv/bin/python examples/flow_control.py   # or any Python with txzmq installed

Exit status 0 when every message arrived, in order, and the queue stayed
within its bound.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.internet.task import react
from zope.interface import implementer

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqQueueFullError,
)

TIMEOUT = 30.0  # seconds: give up (and exit 1) if messages are missing by then
MESSAGES = 300  # per phase
PAYLOAD = b"x" * 8192  # large messages fill the socket buffers quickly
HIGH_WATER_MARK = 4  # messages, on both sockets
MAX_QUEUED = 50  # bound of the sender's outgoing queue, in messages
READ_DELAY = 0.001  # seconds the reader rests after each message
PHASES = (b"pushDeferred", b"producer")


@dataclass
class SenderStats:
    """What the sender saw of its outgoing queue."""

    maxQueued: int = 0  # largest queuedMessages observed
    queueFull: int = 0  # ZmqQueueFullError raised (phase 1)
    pauses: int = 0  # pauseProducing() calls (phase 2)

    def observe(self, connection: ZmqPushConnection) -> None:
        self.maxQueued = max(self.maxQueued, connection.queuedMessages)


class SlowReader(ZmqPullConnection):
    """
    Records the sequence number of each message, then rests a moment.

    Resting means pausing the connection as a producer: it stops reading
    from the socket, so the socket's receive queue fills up to its
    high-water mark and ZeroMQ stops taking messages from the sender.
    """

    def __init__(
        self, factory: ZmqFactory, endpoint: ZmqEndpoint, reactor: IReactorTime
    ) -> None:
        super().__init__(factory, endpoint, receiveHighWaterMark=HIGH_WATER_MARK)
        self.reactor = reactor
        self.received: dict[bytes, list[int]] = {phase: [] for phase in PHASES}
        self.allArrived: Deferred[None] = Deferred()
        self.wakeUp: IDelayedCall | None = None

    def onPull(self, message: list[bytes]) -> None:
        phase, number, payload = message
        self.received[phase].append(int(number))
        if payload != PAYLOAD:
            print(f"  reader: message {phase!r} {int(number)} is damaged")
        if sum(map(len, self.received.values())) == MESSAGES * len(PHASES):
            self.allArrived.callback(None)
            return
        self.pauseProducing()
        self.wakeUp = self.reactor.callLater(READ_DELAY, self.wake)

    def wake(self) -> None:
        self.wakeUp = None
        self.resumeProducing()

    def shutdown(self) -> None:
        if self.wakeUp is not None:
            self.wakeUp.cancel()
            self.wakeUp = None
        super().shutdown()


def message(phase: bytes, number: int) -> list[bytes]:
    """Three frames: the phase, the sequence number, the payload."""
    return [phase, str(number).encode(), PAYLOAD]


async def sendWithPushDeferred(sender: ZmqPushConnection, stats: SenderStats) -> None:
    """
    Phase 1: push every message with C{pushDeferred}, without waiting for
    each one.  The queue absorbs bursts; when it is full, wait until the
    last message queued so far has been sent (the queue is then empty).
    """
    last: Deferred[None] | None = None
    for number in range(MESSAGES):
        while True:
            try:
                last = sender.pushDeferred(message(PHASES[0], number))
                break
            except ZmqQueueFullError:
                stats.queueFull += 1
                assert last is not None
                await last
        stats.observe(sender)
    if last is not None:
        await last  # every message has been handed to libzmq


@implementer(IPushProducer)
class Counter:
    """
    Phase 2: a streaming producer writing numbered messages.

    It writes until it is paused, and goes on when it is resumed; once it
    has written C{count} messages it unregisters itself and fires C{done}.
    """

    def __init__(
        self, connection: ZmqPushConnection, count: int, stats: SenderStats
    ) -> None:
        self.connection = connection
        self.count = count
        self.stats = stats
        self.next = 0
        self.paused = False
        self.done: Deferred[None] = Deferred()

    def start(self) -> None:
        self.connection.registerProducer(self, True)
        self.resumeProducing()  # a streaming producer starts on its own

    def pauseProducing(self) -> None:
        self.paused = True
        self.stats.pauses += 1

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.next < self.count:
            self.connection.write(message(PHASES[1], self.next))
            self.next += 1
            self.stats.observe(self.connection)
        if self.next == self.count and not self.done.called:
            self.connection.unregisterProducer()
            self.done.callback(None)

    def stopProducing(self) -> None:
        # The connection was shut down before we were done.
        self.paused = True
        if not self.done.called:
            self.done.callback(None)


async def main(reactor: IReactorTime) -> None:
    directory = tempfile.mkdtemp(prefix="txzmq-flow-")
    address = f"ipc://{directory}/flow.sock"
    factory = ZmqFactory(reactor)
    try:
        await run(reactor, factory, address)
    finally:
        factory.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


async def run(reactor: IReactorTime, factory: ZmqFactory, address: str) -> None:
    reader = SlowReader(factory, ZmqEndpoint(ZmqEndpointType.bind, address), reactor)
    sender = ZmqPushConnection(
        factory,
        ZmqEndpoint(ZmqEndpointType.connect, address),
        sendHighWaterMark=HIGH_WATER_MARK,
        maxQueuedMessages=MAX_QUEUED,
    )
    print(f"reader on {address}; {MESSAGES} messages of {len(PAYLOAD)} bytes per phase")

    phase1 = SenderStats()
    started = reactor.seconds()
    await sendWithPushDeferred(sender, phase1)
    print(
        f"  phase 1 (pushDeferred): all handed to libzmq after "
        f"{reactor.seconds() - started:.2f} s; queue full {phase1.queueFull} times"
    )

    phase2 = SenderStats()
    started = reactor.seconds()
    counter = Counter(sender, MESSAGES, phase2)
    counter.start()
    await counter.done
    print(
        f"  phase 2 (producer):     all written after "
        f"{reactor.seconds() - started:.2f} s; paused {phase2.pauses} times"
    )

    reader.allArrived.addTimeout(TIMEOUT, reactor)
    try:
        await reader.allArrived
    except defer.TimeoutError:
        pass  # the summary below says what is missing

    print("summary:")
    expected = list(range(MESSAGES))
    problems = []
    for phase, stats in zip(PHASES, (phase1, phase2), strict=True):
        got = reader.received[phase]
        inOrder = got == expected
        print(
            f"  {phase.decode():<12} received {len(got)}/{MESSAGES}, "
            f"{'in order' if inOrder else 'OUT OF ORDER OR INCOMPLETE'}, "
            f"largest send queue {stats.maxQueued} (bound {MAX_QUEUED})"
        )
        if not inOrder:
            problems.append(f"{phase.decode()}: messages lost or reordered")
        if stats.maxQueued > MAX_QUEUED:
            problems.append(f"{phase.decode()}: the queue outgrew its bound")
    if phase1.queueFull == 0 and phase2.pauses == 0:
        problems.append("the sender never had to wait: no flow control shown")
    if problems:
        print("FAILED: " + "; ".join(problems))
        raise SystemExit(1)
    print(
        f"OK: {len(PHASES)} x {MESSAGES} messages arrived complete and in order, "
        "the send queue stayed within its bound"
    )


if __name__ == "__main__":
    react(main)

"""
python -m benchmarks.calls [--quick] [--reactor R]

What single calls cost, in one process: pyzmq's own calls (the floor
for any Python code) and the txzmq calls built on them.  Each row is
the best of three loops, in microseconds per call; messages are 64
bytes over inproc, so no I/O thread work is counted.

The two-process suite (C{python -m benchmarks}) says how fast txzmq is;
this table says where the time goes.  docs/performance.md explains it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import zmq
from twisted.internet.defer import Deferred, ensureDeferred

PAYLOAD = b"x" * 64
TAGS = (b"t0", b"t1", b"t2", b"t3")


def best(loop: Callable[[int], None], count: int, reset: Callable[[], None]) -> float:
    """Microseconds per call of C{loop(count)}, best of three."""
    times = []
    for _ in range(3):
        reset()
        started = time.perf_counter()
        loop(count)
        times.append(time.perf_counter() - started)
    return min(times) / count * 1e6


class Calls:
    """The measurements, on one factory and a pair of inproc sockets."""

    def __init__(self, reactor: Any, count: int) -> None:
        import txzmq

        self.tx = txzmq
        self.reactor = reactor
        self.count = count
        self.factory = txzmq.ZmqFactory(reactor)
        self.context = self.factory.context
        self.rows: list[tuple[str, float]] = []
        self.sink = self.context.socket(zmq.PULL)
        self.sink.set(zmq.RCVHWM, 0)
        self.sink.bind("inproc://calls-sink")
        self.source = self.context.socket(zmq.PUSH)
        self.source.set(zmq.SNDHWM, 0)
        self.source.connect("inproc://calls-sink")

    def drain(self) -> None:
        """Take everything the sink holds."""
        recv = self.sink.recv
        while True:
            try:
                recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def fill(self, count: int) -> Callable[[], None]:
        """A reset that leaves C{count} messages waiting in the sink."""

        def reset() -> None:
            self.drain()
            send = self.source.send
            for _ in range(count):
                send(PAYLOAD)

        return reset

    def add(
        self, name: str, loop: Callable[[int], None], reset: Callable[[], None]
    ) -> None:
        self.rows.append((name, best(loop, self.count, reset)))

    def pyzmq(self) -> None:
        backend = zmq.backend.Socket
        send = backend.send.__get__(self.source)
        recv = backend.recv.__get__(self.sink)
        get = self.sink.get
        noblock, rcvmore, events = int(zmq.NOBLOCK), int(zmq.RCVMORE), int(zmq.EVENTS)

        def sending(n: int) -> None:
            for _ in range(n):
                send(PAYLOAD, noblock)

        def receivingCopy(n: int) -> None:
            for _ in range(n):
                recv(noblock)

        def receivingFrame(n: int) -> None:
            for _ in range(n):
                frame = recv(noblock, False)
                frame.bytes  # noqa: B018 (the copy a pass makes)
                frame.more  # noqa: B018

        def gettingRcvmore(n: int) -> None:
            for _ in range(n):
                get(rcvmore)

        def gettingEvents(n: int) -> None:
            for _ in range(n):
                get(events)

        self.add("pyzmq send (compiled, NOBLOCK)", sending, self.drain)
        self.add("pyzmq recv, copy=True", receivingCopy, self.fill(self.count))
        self.add(
            "pyzmq recv, copy=False + .bytes + .more",
            receivingFrame,
            self.fill(self.count),
        )
        self.add("pyzmq get(RCVMORE)", gettingRcvmore, self.drain)
        self.add("pyzmq get(EVENTS)", gettingEvents, self.drain)

    def sends(self) -> None:
        tx = self.tx
        push = tx.ZmqPushConnection(
            self.factory, "connect:inproc://calls-sink", highWaterMark=0
        )
        pub = tx.ZmqPubConnection(self.factory, "bind:inproc://calls-pub")

        def pushing(n: int) -> None:
            for _ in range(n):
                push.push(PAYLOAD)

        def pushingDeferred(n: int) -> None:
            for _ in range(n):
                push.pushDeferred(PAYLOAD)

        def writing(n: int) -> None:
            for _ in range(n):
                push.write(PAYLOAD)

        def publishing(n: int) -> None:
            for i in range(n):
                pub.publish(PAYLOAD, TAGS[i & 3])

        self.add("txzmq push()", pushing, self.drain)
        self.add("txzmq pushDeferred()", pushingDeferred, self.drain)
        self.add("txzmq write() (IConsumer)", writing, self.drain)
        self.add("txzmq publish() (no subscriber)", publishing, self.drain)
        push.shutdown()
        pub.shutdown()

    def receives(self) -> None:
        """Messages delivered by the read passes of a PULL, per message."""
        tx = self.tx
        got = 0

        class Pull(tx.ZmqPullConnection):  # type: ignore[name-defined]
            def onPull(self, message: list[bytes]) -> None:
                nonlocal got
                got += 1

        pull = Pull(self.factory, "bind:inproc://calls-pull", highWaterMark=0)
        source = self.context.socket(zmq.PUSH)
        source.set(zmq.SNDHWM, 0)
        source.connect("inproc://calls-pull")

        def reset() -> None:
            nonlocal got
            got = 0
            for _ in range(self.count):
                source.send(PAYLOAD)

        def reading(n: int) -> None:
            while got < n:
                pull.doRead()

        self.add("txzmq PULL pass, per message (onPull)", reading, reset)
        pull.shutdown()
        source.close(linger=0)

    def roundTrips(self) -> Deferred[None]:
        """REQ/REP round trips between two connections on the reactor."""
        tx = self.tx

        class Echo(tx.ZmqREPConnection):  # type: ignore[name-defined]
            def gotMessage(self, messageId: bytes, *parts: bytes) -> None:
                self.reply(messageId, *parts)

        echo = Echo(self.factory, "bind:inproc://calls-rep")
        req = tx.ZmqREQConnection(self.factory, "connect:inproc://calls-rep")
        count = max(self.count // 20, 10)
        times: list[float] = []
        finished: Deferred[None] = Deferred()

        def run(remaining: int, started: float) -> None:
            if remaining == 0:
                times.append(time.perf_counter() - started)
                if len(times) < 3:
                    run(count, time.perf_counter())
                    return
                self.rows.append(
                    (
                        "txzmq REQ/REP round trip, inproc, both ends",
                        min(times) / count * 1e6,
                    )
                )
                req.shutdown()
                echo.shutdown()
                finished.callback(None)
                return
            req.sendMsg(PAYLOAD).addCallback(lambda _: run(remaining - 1, started))

        run(count, time.perf_counter())
        return finished

    def wakeUps(self) -> Deferred[None]:
        """
        What a reactor wake-up costs: a byte written to a pipe, the
        reactor reporting it readable, the reader reading it and writing
        the next; against the same ping with a bare C{select.poll}.
        """
        import os
        import select

        reactor = self.reactor
        count = max(self.count // 4, 10)
        readEnd, writeEnd = os.pipe()
        times: list[float] = []
        finished: Deferred[None] = Deferred()

        def bare(n: int) -> None:
            poller = select.poll()
            poller.register(readEnd, select.POLLIN)
            os.write(writeEnd, b"x")
            for _ in range(n):
                poller.poll()
                os.read(readEnd, 1)
                os.write(writeEnd, b"x")
            os.read(readEnd, 1)

        def done() -> None:
            reactor.removeReader(ping)
            self.rows.append(
                (
                    "reactor wake-up (pipe ping via the reactor)",
                    min(times) / count * 1e6,
                )
            )
            self.rows.append(
                (
                    "the same ping with a bare select.poll",
                    best(bare, count, lambda: None),
                )
            )
            os.close(readEnd)
            os.close(writeEnd)
            finished.callback(None)

        class Ping:
            remaining = 0
            started = 0.0

            def fileno(self) -> int:
                return readEnd

            def logPrefix(self) -> str:
                return "ping"

            def connectionLost(self, reason: object) -> None:
                pass

            def doRead(self) -> None:
                os.read(readEnd, 1)
                self.remaining -= 1
                if self.remaining:
                    os.write(writeEnd, b"x")
                    return
                times.append(time.perf_counter() - self.started)
                if len(times) < 3:
                    self.start()
                else:
                    done()

            def start(self) -> None:
                self.remaining = count
                self.started = time.perf_counter()
                os.write(writeEnd, b"x")

        ping = Ping()
        reactor.addReader(ping)
        ping.start()
        return finished

    def close(self) -> None:
        self.sink.close(linger=0)
        self.source.close(linger=0)
        self.factory.shutdown()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.calls",
        description="What single pyzmq and txzmq calls cost, in one process.",
    )
    p.add_argument("--quick", action="store_true", help="small counts (smoke)")
    p.add_argument(
        "--reactor", choices=("epoll", "asyncio", "poll", "select"), default="epoll"
    )
    args = p.parse_args(argv)
    from benchmarks.peers.twisted_peer import installReactor

    reactor = installReactor(args.reactor)
    calls = Calls(reactor, 2_000 if args.quick else 200_000)
    try:
        calls.pyzmq()
        calls.sends()
        calls.receives()

        async def onTheReactor() -> None:
            await calls.roundTrips()
            await calls.wakeUps()

        failures: list[Any] = []

        def onceRunning() -> None:
            d = ensureDeferred(onTheReactor())
            d.addErrback(failures.append).addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(onceRunning)
        reactor.run()
        if failures:
            failures[0].printTraceback()
            return 1
    finally:
        calls.close()
    width = max(len(name) for name, _ in calls.rows)
    print(f"{'call':<{width}}  us/call  ({args.reactor} reactor, 64 B, inproc)")
    for name, micros in calls.rows:
        print(f"{name:<{width}}  {micros:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""
A parallel pipeline with PUSH/PULL: ventilator -> workers -> sink.

                      +--> worker-1 --+
    ventilator (PUSH) +--> worker-2 --+--> sink (PULL)
                      +--> worker-3 --+

The ventilator hands out tasks (numbers to square), each task to exactly
one worker, round robin.  Each worker PULLs tasks, does the work, and
PUSHes the result to the sink, which collects them all.  No message is
copied and none is lost: PUSH/PULL is a queue, not a broadcast.

Who binds and who connects matters for the spreading of work.  A PUSH
socket deals round robin over the peers it has *right now*.  A socket that
connect()s has a queue for each address at once, even before the TCP
handshake is done, so the ventilator connects to every worker and the
tasks are spread evenly from the very first one.  (Had the workers
connected to a bound ventilator, the first worker to finish its handshake
would get every task sent meanwhile.)  The workers connect to the sink for
the same reason: their results are queued even if the sink is slow to
accept them.

Everything runs in this one process over TCP on random local ports, and
the program stops by itself:

    .venv/bin/python examples/pushpull_pipeline.py   # or any Python with txzmq installed

Exit status 0 when the sink got a correct result for every task.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater, react

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqWouldBlockError,
)

TIMEOUT = 5.0  # seconds: give up (and exit 1) if results are missing by then
TASKS = 12
WORKERS = 3


def bindRandomPort(connection: ZmqPullConnection) -> str:
    """Bind C{connection} to a free local TCP port; return the address."""
    connection.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*")])
    return connection.socket.getsockopt_string(zmq.LAST_ENDPOINT)


class Worker(ZmqPullConnection):
    """Squares each number it pulls and pushes the result to the sink."""

    def __init__(self, factory: ZmqFactory, name: str, sinkAddress: str) -> None:
        super().__init__(factory)
        self.name = name
        self.address = bindRandomPort(self)
        self.results = ZmqPushConnection(
            factory, ZmqEndpoint(ZmqEndpointType.connect, sinkAddress)
        )

    def onPull(self, message: list[bytes]) -> None:
        taskId, number = message  # a multipart message: [task id, number]
        square = int(number) ** 2
        # Results travel as three frames: who did it, which task, the answer.
        self.results.push([self.name.encode(), taskId, str(square).encode()])


class Sink(ZmqPullConnection):
    """Collects results until it has one per task."""

    def __init__(self, factory: ZmqFactory, onResult: Callable[[], None]) -> None:
        super().__init__(factory)
        self.address = bindRandomPort(self)
        self.onResult = onResult
        self.results: dict[int, tuple[str, int]] = {}  # task id -> (worker, value)

    def onPull(self, message: list[bytes]) -> None:
        worker, taskId, value = message
        self.results[int(taskId)] = (worker.decode(), int(value))
        print(
            f"  sink <- task {int(taskId):>2} = {int(value):>3} from {worker.decode()}"
        )
        self.onResult()


async def pushWithRetry(
    reactor: IReactorTime, ventilator: ZmqPushConnection, message: list[bytes]
) -> int:
    """
    Push C{message}; while libzmq cannot take it, wait 10 ms and try again.

    C{push()} never blocks the reactor: when every worker's queue is at its
    high-water mark (1000 messages by default) or there is no worker at
    all, it raises L{ZmqWouldBlockError} and nothing was sent.  A producer
    must then slow down.  Returns the number of retries (0 here: 12 tasks
    are far below the high-water mark).
    """
    retries = 0
    while True:
        try:
            ventilator.push(message)
            return retries
        except ZmqWouldBlockError:
            retries += 1
            await deferLater(reactor, 0.01, lambda: None)


async def main(reactor: IReactorTime) -> None:
    factory = ZmqFactory(reactor)
    done: Deferred[None] = Deferred()

    def check() -> None:
        if len(sink.results) >= TASKS and not done.called:
            done.callback(None)

    sink = Sink(factory, check)
    workers = [
        Worker(factory, f"worker-{i}", sink.address) for i in range(1, WORKERS + 1)
    ]
    ventilator = ZmqPushConnection(factory)
    ventilator.addEndpoints(
        [ZmqEndpoint(ZmqEndpointType.connect, w.address) for w in workers]
    )
    print(f"sink on {sink.address}; workers on", ", ".join(w.address for w in workers))

    retries = 0
    for taskId in range(1, TASKS + 1):
        retries += await pushWithRetry(
            reactor, ventilator, [str(taskId).encode(), str(taskId).encode()]
        )
    print(f"ventilator pushed {TASKS} tasks ({retries} retries)")

    done.addTimeout(TIMEOUT, reactor)
    try:
        await done
    except defer.TimeoutError:
        pass  # the summary below says what is missing
    factory.shutdown()

    perWorker = Counter(worker for worker, _ in sink.results.values())
    wrong = [t for t, (_, value) in sink.results.items() if value != t * t]
    print("summary:")
    for worker in workers:
        print(f"  {worker.name} did {perWorker[worker.name]} tasks")
    total = sum(value for _, value in sink.results.values())
    print(f"  sink got {len(sink.results)}/{TASKS} results, sum of squares {total}")
    if len(sink.results) != TASKS or wrong:
        print(f"FAILED: missing or wrong results (wrong: {wrong})")
        raise SystemExit(1)
    print(f"OK: {TASKS} tasks went through {WORKERS} workers to the sink")


if __name__ == "__main__":
    react(main)

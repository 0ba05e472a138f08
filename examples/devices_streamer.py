#!/usr/bin/env python3
"""
A pipeline with a streamer in the middle: ventilator -> streamer -> workers -> sink.

                                              +--> worker-1 --+
    ventilator (PUSH) --> PULL [ streamer ] PUSH +--> worker-2 --+--> sink (PULL)
                                              +--> worker-3 --+

The ventilator knows one address, the streamer's frontend; workers
connect to its backend and may come and go without the ventilator
knowing.  The streamer (C{STREAMER}: a PULL frontend, a PUSH backend)
hands each task to one worker, in turn, like a PUSH socket would: no
task is copied, none is lost.

It runs in a background thread (a C{ThreadDevice}): libzmq's own proxy
moves the messages, at libzmq's speed, while the reactor runs the
ventilator, the workers and the sink.  The device's sockets are made in
that thread, on the factory's context, so inproc addresses would work
too.  Give C{reactor} or C{process} as argument to run the same
streamer on the reactor or in a child process instead:

    .venv/bin/python examples/devices_streamer.py [thread|reactor|process]

A PUSH socket deals only to the peers connected right now, so the
program waits until every worker has connected (C{whenConnected()})
before the first task.  Everything runs over TCP on random local ports
and stops by itself.  Exit status 0 when the sink got the right result
for every task, each exactly once.
"""

from __future__ import annotations

import sys
from collections import Counter

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import react

from txzmq import (
    STREAMER,
    ProcessDevice,
    ReactorDevice,
    ThreadDevice,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPullConnection,
    ZmqPushConnection,
)

TIMEOUT = 10.0  # seconds: give up (and exit 1) if results are missing by then
TASKS = 60
WORKERS = 3
MODES = {"thread": ThreadDevice, "reactor": ReactorDevice, "process": ProcessDevice}


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


class Worker(ZmqPullConnection):
    """Squares each number it pulls and pushes the result to the sink."""

    def __init__(
        self, factory: ZmqFactory, name: str, tasks: str, sinkAddress: str
    ) -> None:
        # Watch the connection's handshake, for whenConnected().
        super().__init__(factory, monitorEvents=zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.addEndpoints([connect(tasks)])
        self.name = name
        self.results = ZmqPushConnection(factory, connect(sinkAddress))

    def onPull(self, message: list[bytes]) -> None:
        taskId, number = message
        square = int(number) ** 2
        self.results.push([self.name.encode(), taskId, b"%d" % square])


class Sink(ZmqPullConnection):
    """Collects results, counting how often each task came back."""

    def __init__(self, factory: ZmqFactory, done: Deferred[None]) -> None:
        super().__init__(factory, bind("tcp://127.0.0.1:*"))
        self.address = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.done = done
        self.seen: Counter[int] = Counter()
        self.byWorker: Counter[str] = Counter()
        self.wrong: list[int] = []

    def onPull(self, message: list[bytes]) -> None:
        worker, taskId, value = message
        task = int(taskId)
        self.seen[task] += 1
        self.byWorker[worker.decode()] += 1
        if int(value) != task * task:
            self.wrong.append(task)
        if len(self.seen) == TASKS and not self.done.called:
            self.done.callback(None)


async def main(reactor: IReactorTime, mode: str = "thread") -> None:
    if mode not in MODES:
        print(f"usage: devices_streamer.py [{'|'.join(MODES)}]", file=sys.stderr)
        raise SystemExit(2)
    factory = ZmqFactory(reactor)
    streamer = MODES[mode](
        factory, STREAMER, bind("tcp://127.0.0.1:*"), bind("tcp://127.0.0.1:*")
    )
    await streamer.start()
    [front] = streamer.addresses["frontend"]
    [back] = streamer.addresses["backend"]
    print(f"streamer ({type(streamer).__name__}): tasks in at {front}, out at {back}")

    done: Deferred[None] = Deferred()
    sink = Sink(factory, done)
    workers = [
        Worker(factory, f"worker-{i}", back, sink.address)
        for i in range(1, WORKERS + 1)
    ]
    await defer.gatherResults([w.whenConnected(timeout=TIMEOUT) for w in workers])
    print(f"{WORKERS} workers connected to the streamer; sink on {sink.address}")

    ventilator = ZmqPushConnection(factory, connect(front))
    for task in range(1, TASKS + 1):
        # pushDeferred waits (without blocking the reactor) if the
        # streamer cannot take the task yet.
        await ventilator.pushDeferred([b"%d" % task, b"%d" % task])
    print(f"ventilator pushed {TASKS} tasks")

    done.addTimeout(TIMEOUT, reactor)
    try:
        await done
    except defer.TimeoutError:
        pass  # the summary says what is missing
    await streamer.stop()
    factory.shutdown()

    print("summary:")
    for worker in workers:
        print(f"  {worker.name} did {sink.byWorker[worker.name]} tasks")
    repeated = [task for task, count in sink.seen.items() if count > 1]
    print(
        f"  sink got {len(sink.seen)}/{TASKS} results, "
        f"{len(repeated)} repeated, {len(sink.wrong)} wrong"
    )
    if len(sink.seen) != TASKS or repeated or sink.wrong:
        print("FAILED: results were lost, repeated or wrong")
        raise SystemExit(1)
    print(
        f"OK: {TASKS} tasks went through the streamer to {WORKERS} workers and on "
        "to the sink, each exactly once"
    )


if __name__ == "__main__":
    react(main, sys.argv[1:])

"""
The zmq.asyncio peer: pyzmq's asyncio sockets on the default asyncio
event loop, written the way its documentation suggests
(C{await sock.recv()} in a loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import zmq
import zmq.asyncio

from benchmarks.peers.common import (
    END,
    PROBE,
    SUBSCRIBED,
    TOPIC_SEP,
    TOPICS,
    BasePeer,
    LateTicks,
    SeqStats,
    attach,
    latencyFields,
    now,
    nowNs,
    seqOf,
    setLimits,
    subscribedCount,
    watchStdin,
)


class Peer(BasePeer):
    """One role of the zmq.asyncio peer, run by L{main}."""

    def __init__(self, config: dict[str, Any], loop: asyncio.AbstractEventLoop):
        super().__init__(config)
        self.loop = loop
        self.context = zmq.asyncio.Context(1)
        self.go = asyncio.Event()
        self.stop = asyncio.Event()
        self.sockets: list[zmq.asyncio.Socket] = []
        """Every socket, kept open until the runner says stop (a socket
        garbage-collected with LINGER 0 would drop what it still holds)."""

    def line(self, name: str) -> None:
        if name == "go":
            self.go.set()

    def socket(self, kind: int) -> zmq.asyncio.Socket:
        sock = self.context.socket(kind)
        self.sockets.append(sock)
        setLimits(sock, self.hwm)
        attach(sock, self.config)
        return sock

    # Senders

    async def push(self) -> None:
        sock = self.socket(zmq.PUSH)
        count = self.count
        make = self.payloads()
        send = sock.send
        sent = 0
        self.partial = lambda: self.result(sent, sent=sent)
        self.usage.mark()
        while sent < count:
            await send(make(sent))
            sent += 1
        self.result(sent, sent=sent)

    async def pub(self) -> None:
        sock = self.socket(zmq.PUB)
        count = self.count
        make = self.payloads()
        prefixes = [tag + TOPIC_SEP for tag in TOPICS]
        topics = len(prefixes)
        probe = prefixes[SUBSCRIBED] + make(PROBE)
        while not self.go.is_set():
            await sock.send(probe)
            await asyncio.sleep(0.001)
        send = sock.send
        self.usage.mark()
        for i in range(count):
            await send(prefixes[i % topics] + make(i // topics))
        self.result(count, sent=count)
        ends = [prefix + make(END) for prefix in prefixes]
        while True:
            for end in ends:
                await sock.send(end)
            await asyncio.sleep(0.001)

    # Receivers

    async def pull(self) -> None:
        sock = self.socket(zmq.PULL)
        stats = SeqStats(self.count)
        self.partial = lambda: self.result(stats.received, **stats.fields())
        recv = sock.recv
        expect = 0
        self.usage.mark()
        while stats.received < stats.expected:
            frame = await recv()
            seq = seqOf(frame)[0]
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if stats.firstAt is None:
                stats.firstAt = now()
        stats.lastAt = now()
        self.result(stats.received, **stats.fields())

    async def floodPull(self) -> None:
        """PULL as fast as possible while a 10 ms timer chain runs."""
        ticks = LateTicks(self.loop.call_later, float(self.config["tick"]))
        self.extras.append(ticks.report)
        await self.pull()

    async def sub(self) -> None:
        sock = self.socket(zmq.SUB)
        sock.set(zmq.SUBSCRIBE, TOPICS[SUBSCRIBED])
        stats = SeqStats(subscribedCount(self.count))
        self.partial = lambda: self.result(stats.received, **stats.fields())
        offset = len(TOPICS[SUBSCRIBED] + TOPIC_SEP)
        recv = sock.recv
        expect = 0
        while True:
            frame = await recv()
            seq = seqOf(frame, offset)[0]
            if seq >= PROBE:
                if seq == END:
                    break
                self.probed()
                continue
            stats.lastAt = now()
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if stats.firstAt is None:
                stats.firstAt = stats.lastAt
        self.result(stats.received, **stats.fields())

    # Request/reply

    async def rep(self) -> None:
        sock = self.socket(zmq.REP)
        await self._serve(sock.recv, sock.send)

    async def router(self) -> None:
        sock = self.socket(zmq.ROUTER)
        await self._serve(sock.recv_multipart, sock.send_multipart)

    async def _serve(
        self,
        recv: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[Any]],
    ) -> None:
        served = 0
        self.partial = lambda: self.result(served, served=served)
        self.usage.mark()
        while True:
            await send(await recv())
            served += 1

    async def req(self) -> None:
        sock = self.socket(zmq.REQ)
        count = self.count
        make = self.payloads()
        send, recv = sock.send, sock.recv
        for i in range(int(self.config.get("warmup", 0))):
            await send(make(i))
            await recv()
        stats = SeqStats(count)
        rtts: list[int] = []
        self.partial = lambda: self.result(
            stats.received, **stats.fields(), **latencyFields(rtts)
        )
        self.usage.mark()
        stats.firstAt = now()
        for i in range(count):
            started = nowNs()
            await send(make(i))
            reply = await recv()
            rtts.append(nowNs() - started)
            seq = seqOf(reply)[0]
            if seq != i:
                stats.mismatch(seq, i)
            stats.received += 1
        stats.lastAt = now()
        self.result(stats.received, **stats.fields(), **latencyFields(rtts))

    async def dealer(self) -> None:
        sock = self.socket(zmq.DEALER)
        count = self.count
        window = int(self.config["inflight"])
        make = self.payloads()
        send, recv = sock.send, sock.recv
        stats = SeqStats(count)
        self.partial = lambda: self.result(stats.received, **stats.fields())
        self.usage.mark()
        stats.firstAt = now()
        sent = 0
        while sent < min(window, count):
            await send(make(sent))
            sent += 1
        expect = 0
        while stats.received < count:
            reply = await recv()
            seq = seqOf(reply)[0]
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if sent < count:
                await send(make(sent))
                sent += 1
        stats.lastAt = now()
        self.result(stats.received, **stats.pipelinedFields())


ROLES: dict[str, Callable[[Peer], Coroutine[Any, Any, None]]] = {
    "push": Peer.push,
    "pull": Peer.pull,
    "flood_pull": Peer.floodPull,
    "pub": Peer.pub,
    "sub": Peer.sub,
    "rep": Peer.rep,
    "req": Peer.req,
    "rep_pipeline": Peer.router,
    "req_pipeline": Peer.dealer,
}


async def run(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    peer = Peer(config, loop)
    watchStdin(peer.line, peer.stop.set, via=loop.call_soon_threadsafe)
    work = asyncio.ensure_future(ROLES[config["role"]](peer))
    stopped = asyncio.ensure_future(peer.stop.wait())
    await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not work.done():
        # Stopped early (a stall, or a server's normal end): report what
        # was done so far.
        work.cancel()
        if peer.partial is not None:
            peer.partial()
    else:
        work.result()
        await stopped
    peer.context.destroy(linger=0)


def main(config: dict[str, Any]) -> None:
    """Run the role C{config["role"]} on a new asyncio event loop."""
    asyncio.run(run(config))

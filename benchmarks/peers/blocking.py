"""
The blocking pyzmq peer: plain sockets, no event loop; the baseline.

Blocking calls carry a timeout (C{RCVTIMEO}/C{SNDTIMEO}) only so that a
stalled run still notices the runner's stop and reports what it has.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import zmq

from benchmarks.peers.common import (
    END,
    PROBE,
    SUBSCRIBED,
    TOPIC_SEP,
    TOPICS,
    BasePeer,
    Control,
    SeqStats,
    attach,
    boundEndpoint,
    emit,
    latencyFields,
    now,
    nowNs,
    seqOf,
    setLimits,
    subscribedCount,
)

POLL_MS = 200
"""Longest a blocking call waits before looking at the runner's stop."""


class Peer(BasePeer):
    """One role of the blocking peer, run by L{main}."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.control = Control()
        self.context = zmq.Context(1)
        self.sockets: list[zmq.Socket[bytes]] = []

    def socket(self, kind: int) -> zmq.Socket[bytes]:
        """A socket with the run's high-water marks, bound or connected."""
        sock: zmq.Socket[bytes] = self.context.socket(kind)
        self.sockets.append(sock)  # open until the runner says stop
        setLimits(sock, self.hwm)
        sock.set(zmq.RCVTIMEO, POLL_MS)
        sock.set(zmq.SNDTIMEO, POLL_MS)
        attach(sock, self.config)
        return sock

    @property
    def stopped(self) -> bool:
        return self.control.stop.is_set()

    def finish(self) -> None:
        """Wait for the runner's stop, then close everything."""
        self.control.stop.wait()
        self.context.destroy(linger=0)

    # Senders

    def push(self) -> None:
        sock = self.socket(zmq.PUSH)
        count = self.count
        make = self.payloads()
        send = sock.send
        self.usage.mark()
        started = now()
        sent = 0
        while sent < count:
            try:
                send(make(sent))
            except zmq.Again:
                if self.stopped:
                    break
                continue
            sent += 1
        elapsed = now() - started
        self.result(sent, sent=sent, send_elapsed_s=elapsed)
        self.finish()

    def pub(self) -> None:
        sock = self.socket(zmq.PUB)
        count = self.count
        make = self.payloads()
        # One topic (the device forwarder) or four, round robin (pub_sub).
        tags = [TOPICS[SUBSCRIBED]] if self.config.get("topics") == 1 else TOPICS
        prefixes = [tag + TOPIC_SEP for tag in tags]
        topics = len(prefixes)
        probe = TOPICS[SUBSCRIBED] + TOPIC_SEP + make(PROBE)
        send: Callable[[bytes], Any] = sock.send
        if self.config.get("nodrop"):
            # At the HWM, wait (send raises zmq.Again after SNDTIMEO)
            # instead of dropping: every message reaches the device.
            sock.set(zmq.XPUB_NODROP, 1)
            send = self._sendNoDrop(sock)
        probes = 0
        # Probe until the subscriber saw one (relayed by the runner as "go").
        while not self.control.go.is_set() and not self.stopped:
            send(probe)
            probes += 1
            self.control.go.wait(0.001)
        self.usage.mark()
        for i in range(count):
            send(prefixes[i % topics] + make(i // topics))
        self.result(count, sent=count, probes=probes)
        ends = [prefix + make(END) for prefix in prefixes]
        while not self.stopped:
            for end in ends:
                try:
                    sock.send(end, zmq.NOBLOCK)
                except zmq.Again:
                    pass
            self.control.stop.wait(0.001)
        self.context.destroy(linger=0)

    def _sendNoDrop(self, sock: zmq.Socket[bytes]) -> Callable[[bytes], None]:
        def send(frame: bytes) -> None:
            while True:
                try:
                    sock.send(frame)
                    return
                except zmq.Again:
                    if self.stopped:
                        return

        return send

    # Receivers

    def pull(self) -> None:
        sock = self.socket(zmq.PULL)
        stats = SeqStats(self.count)
        pace = float(self.config.get("pace") or 0.0)
        recv = sock.recv
        expect = 0
        self.usage.mark()
        while stats.received < stats.expected:
            try:
                frame = recv()
            except zmq.Again:
                if self.stopped:
                    break
                continue
            seq = seqOf(frame)[0]
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if stats.firstAt is None:
                stats.firstAt = now()
            elif pace and not stats.received % 64:
                # Read at `pace` messages per second, whatever is queued.
                ahead = stats.firstAt + stats.received / pace - now()
                if ahead > 0:
                    self.control.stop.wait(ahead)
        stats.lastAt = now()
        self.result(stats.received, pace=pace or None, **stats.fields())
        self.finish()

    def sub(self) -> None:
        sock = self.socket(zmq.SUB)
        sock.set(zmq.SUBSCRIBE, TOPICS[SUBSCRIBED])
        count = self.count
        one = self.config.get("topics") == 1
        stats = SeqStats(count if one else subscribedCount(count))
        offset = len(TOPICS[SUBSCRIBED] + TOPIC_SEP)
        recv = sock.recv
        expect = 0
        while True:
            try:
                frame = recv()
            except zmq.Again:
                if self.stopped:
                    break
                continue
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
        self.finish()

    # Request/reply

    def rep(self) -> None:
        sock = self.socket(zmq.REP)
        self._serve(sock.recv, sock.send)

    def router(self) -> None:
        sock = self.socket(zmq.ROUTER)
        self._serve(sock.recv_multipart, sock.send_multipart)

    def dealerEcho(self) -> None:
        """The device queue's worker: echo [identity, payload] messages."""
        sock = self.socket(zmq.DEALER)
        self._serve(sock.recv_multipart, sock.send_multipart)

    def _serve(self, recv: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        served = 0
        self.usage.mark()
        while not self.stopped:
            try:
                message = recv()
            except zmq.Again:
                continue
            send(message)
            served += 1
        self.result(served, served=served)
        self.context.destroy(linger=0)

    def _recvReply(self, recv: Callable[[], bytes]) -> bytes | None:
        while True:
            try:
                return recv()
            except zmq.Again:
                if self.stopped:
                    return None

    def _requester(
        self, socketType: int
    ) -> tuple[Callable[[int], Any], Callable[[Any], Any], Callable[[], bytes]]:
        """
        (make, send, recv) of a requesting socket: C{socketType} sending
        one payload frame; or with C{config["envelope"]} a DEALER sending
        the frames of a txzmq REQ connection, C{[id, b"", payload]}, and
        taking the payload out of the reply's same envelope.
        """
        payload = self.payloads()
        if not self.config.get("envelope"):
            sock = self.socket(socketType)
            return payload, sock.send, sock.recv
        sock = self.socket(zmq.DEALER)
        prefix = os.urandom(8)

        def make(i: int) -> list[bytes]:
            return [prefix + i.to_bytes(8, "big"), b"", payload(i)]

        def recv() -> bytes:
            return sock.recv_multipart()[2]

        return make, sock.send_multipart, recv

    def req(self) -> None:
        count = self.count
        warmup = int(self.config.get("warmup", 0))
        make, send, recv = self._requester(zmq.REQ)
        stats = SeqStats(count)
        for i in range(warmup):
            send(make(i))
            if self._recvReply(recv) is None:
                break
        rtts: list[int] = []
        self.usage.mark()
        stats.firstAt = now()
        for i in range(count):
            started = nowNs()
            send(make(i))
            reply = self._recvReply(recv)
            if reply is None:
                break
            rtts.append(nowNs() - started)
            seq = seqOf(reply)[0]
            if seq != i:
                stats.mismatch(seq, i)
            stats.received += 1
        stats.lastAt = now()
        self.result(stats.received, **stats.fields(), **latencyFields(rtts))
        self.finish()

    def dealer(self) -> None:
        """Pipelined requests on a DEALER (see L{_requester})."""
        count = self.count
        window = int(self.config["inflight"])
        make, send, recv = self._requester(zmq.DEALER)
        stats = SeqStats(count)
        self.usage.mark()
        stats.firstAt = now()
        sent = 0
        while sent < min(window, count):
            send(make(sent))
            sent += 1
        expect = 0
        while stats.received < count:
            reply = self._recvReply(recv)
            if reply is None:
                break
            seq = seqOf(reply)[0]
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if sent < count:
                send(make(sent))
                sent += 1
        stats.lastAt = now()
        self.result(stats.received, **stats.pipelinedFields())
        self.finish()

    # Devices

    def device(self) -> None:
        """The yardstick device: zmq.proxy(frontend, backend) in a thread."""
        forwarder = self.config["device"] == "forwarder"
        types = (zmq.XSUB, zmq.XPUB) if forwarder else (zmq.ROUTER, zmq.DEALER)
        frontend, backend = (self.context.socket(t) for t in types)
        for sock in (frontend, backend):
            setLimits(sock, self.hwm)
            sock.bind("tcp://127.0.0.1:*")

        def run() -> None:
            try:
                zmq.proxy(frontend, backend)
            except zmq.ContextTerminated:
                pass
            finally:
                frontend.close(linger=0)
                backend.close(linger=0)

        thread = threading.Thread(target=run, name="zmq.proxy", daemon=True)
        thread.start()
        emit(
            "ready",
            endpoint=boundEndpoint(frontend),
            backend=boundEndpoint(backend),
        )
        self.usage.mark()
        self.control.stop.wait()
        self.result(self.count, impl="zmq.proxy")
        self.context.term()
        thread.join(5)


ROLES: dict[str, Callable[[Peer], None]] = {
    "push": Peer.push,
    "pull": Peer.pull,
    "paced_pull": Peer.pull,
    "pub": Peer.pub,
    "sub": Peer.sub,
    "rep": Peer.rep,
    "req": Peer.req,
    "rep_pipeline": Peer.router,
    "req_pipeline": Peer.dealer,
    "dealer_echo": Peer.dealerEcho,
    "device": Peer.device,
}


def main(config: dict[str, Any]) -> None:
    """Run the role C{config["role"]}."""
    ROLES[config["role"]](Peer(config))

#!/usr/bin/env python3
"""
Publish structured data as timestamped JSON; survive bad payloads.

ZeroMQ moves bytes; what they mean is up to the application.  Here:

  - C{ReadingPublisher.publishReading(topic, data)} wraps C{data} in an
    envelope {"sent": <UTC ISO-8601 time>, "data": data} and publishes it
    as UTF-8 JSON;
  - C{ReadingSubscriber} decodes and checks every message.  A payload that
    is not UTF-8, not JSON, or not a proper envelope is *rejected*: reported
    and counted, never allowed to crash the subscriber.  Good readings are
    shown with their age (time since they were sent).

A publisher cannot vouch for every peer, so validating at the receiving
end is the only safe choice; the example publishes three broken payloads
on purpose to prove it.

The publisher is a C{ZmqXPubConnection}: it sees subscriptions arrive, and
C{whenSubscribed(topic)} tells it when the subscriber would receive what it
publishes under C{topic}.  Publishing only then avoids the "slow joiner"
loss (a PUB socket drops what it publishes before a subscription reached
it) without sleeping or probing.

The sockets talk over ipc (a Unix socket in a temporary directory), and the
program stops by itself:

    .venv/bin/python examples/json_pubsub.py   # or any Python with txzmq installed

Exit status 0 when every good reading arrived and every bad one was
rejected.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import react

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqSubConnection,
    ZmqXPubConnection,
)

TIMEOUT = 5.0  # seconds: give up (and exit 1) if messages are missing by then


class BadPayloadError(ValueError):
    """A message that is not a valid reading envelope."""


def encodeReading(data: dict[str, Any], now: datetime) -> bytes:
    """Wrap C{data} in a timestamped envelope, as UTF-8 JSON."""
    return json.dumps({"sent": now.isoformat(), "data": data}).encode("utf-8")


def decodeReading(payload: bytes) -> tuple[datetime, dict[str, Any]]:
    """
    Return C{(sent, data)} from an envelope made by L{encodeReading}.

    @raise BadPayloadError: saying what is wrong with C{payload}.
    """
    try:
        envelope = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadPayloadError("not UTF-8") from None
    except json.JSONDecodeError as e:
        raise BadPayloadError(f"not JSON ({e.msg})") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
        raise BadPayloadError("no 'data' object")
    try:
        sent = datetime.fromisoformat(envelope["sent"])
    except (KeyError, TypeError, ValueError):
        raise BadPayloadError("no valid 'sent' timestamp") from None
    if sent.tzinfo is None:
        raise BadPayloadError("'sent' timestamp has no time zone")
    return sent, envelope["data"]


class ReadingPublisher(ZmqXPubConnection):
    """Publishes timestamped JSON readings; sees who subscribes to what."""

    def publishReading(self, topic: bytes, data: dict[str, Any]) -> None:
        self.publish(encodeReading(data, datetime.now(timezone.utc)), topic)

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        print(
            f"  publisher: {'subscription to' if subscribed else 'unsubscription from'} {tag!r}"
        )


class ReadingSubscriber(ZmqSubConnection):
    """Decodes readings; rejects (and counts) anything malformed."""

    def __init__(
        self, factory: ZmqFactory, endpoint: ZmqEndpoint, onAny: Callable[[], None]
    ) -> None:
        super().__init__(factory, endpoint)
        self.onAny = onAny
        self.readings: list[tuple[bytes, dict[str, Any]]] = []
        self.rejected: list[tuple[bytes, str]] = []

    def gotMessage(self, message: bytes, tag: bytes) -> None:
        try:
            sent, data = decodeReading(message)
        except BadPayloadError as e:
            self.rejected.append((tag, str(e)))
            print(f"  rejected  {tag.decode():<16} {message[:24]!r}: {e}")
        else:
            self.readings.append((tag, data))
            age = (datetime.now(timezone.utc) - sent).total_seconds() * 1000
            print(f"  reading   {tag.decode():<16} {data} ({age:.1f} ms old)")
        self.onAny()


async def main(reactor: IReactorTime) -> None:
    directory = tempfile.mkdtemp(prefix="txzmq-json-")
    address = f"ipc://{directory}/readings.sock"
    factory = ZmqFactory(reactor)
    try:
        await run(reactor, factory, address)
    finally:
        factory.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


async def run(reactor: IReactorTime, factory: ZmqFactory, address: str) -> None:
    publisher = ReadingPublisher(factory, ZmqEndpoint(ZmqEndpointType.bind, address))
    print(f"publishing readings on {address}")

    good: list[tuple[bytes, dict[str, Any]]] = [
        (b"sensors.kitchen", {"temperature": 21.5, "humidity": 40}),
        (b"sensors.garage", {"temperature": 12.0, "door": "closed"}),
        (b"sensors.kitchen", {"temperature": 21.7, "humidity": 41}),
    ]
    bad = [
        (b"sensors.attic", b"\xff\xfe\x00 not text"),
        (b"sensors.attic", b'{"sent": "2024-01-01T00:00:00+00:00", "data": '),
        (b"sensors.attic", b'{"data": {"temperature": 30}}'),
    ]

    done: Deferred[None] = Deferred()

    def check() -> None:
        total = len(subscriber.readings) + len(subscriber.rejected)
        if total >= len(good) + len(bad) and not done.called:
            done.callback(None)

    subscriber = ReadingSubscriber(
        factory, ZmqEndpoint(ZmqEndpointType.connect, address), check
    )
    subscriber.subscribe(b"sensors.")

    # No sleep, no probe: wait until the subscription has reached the
    # publisher.  Then what it publishes under b"sensors.kitchen" is sent
    # to the subscriber (b"sensors." is a prefix of that tag).
    try:
        await publisher.whenSubscribed(b"sensors.kitchen", timeout=TIMEOUT)
    except defer.TimeoutError:
        print("FAILED: the subscriber never connected")
        raise SystemExit(1) from None

    # Good and bad payloads, interleaved.
    for (topic, data), (badTopic, payload) in zip(good, bad, strict=True):
        publisher.publishReading(topic, data)
        publisher.publish(payload, badTopic)  # raw bytes, bypassing the envelope

    done.addTimeout(TIMEOUT, reactor)
    try:
        await done
    except defer.TimeoutError:
        pass  # the summary below says what is missing

    print("summary:")
    print(f"  valid readings   {len(subscriber.readings)}/{len(good)}")
    print(f"  rejected payload {len(subscriber.rejected)}/{len(bad)}")
    for tag, reason in subscriber.rejected:
        print(f"    {tag.decode()}: {reason}")
    if subscriber.readings != good or len(subscriber.rejected) != len(bad):
        print("FAILED: readings were lost or bad payloads were not rejected")
        raise SystemExit(1)
    print("OK: every valid reading decoded, every bad payload rejected")


if __name__ == "__main__":
    react(main)

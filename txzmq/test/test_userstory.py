"""
How a user of txzmq tests their own code with L{txzmq.testing}.

This module plays the part of an application's test suite.  The
application code comes first, as it would live in the application's own
package:

  - L{TemperatureAlerts} subscribes to temperature readings, keeps a
    moving average per room, publishes an alert when a room gets too
    hot (and when it cools down or goes silent), and pages someone
    through a PUSH socket, waiting for room rather than losing a page.
  - L{SetpointClient} asks a thermostat service for a room's setpoint
    over request/reply, retrying when a request times out.

The tests after them run that code on a L{FakeFactory}: no socket is
opened, messages from the "network" are delivered with
C{factory.deliver()} or C{factory.reply()}, what the code sent is read
back with C{factory.sent()}, time passes with
C{factory.reactor.advance()}, and a slow peer is C{factory.setRoom()}.
docs/testing.md walks through the same example.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import zmq
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import deferLater
from twisted.logger import Logger, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from txzmq import (
    ZmqConnectionClosedError,
    ZmqFactory,
    ZmqPubConnection,
    ZmqPushConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
    ZmqSubConnection,
    jsonCodec,
)
from txzmq.endpoints import parseEndpoint
from txzmq.testing import FakeFactory, FakeSocket

# ---------------------------------------------------------------------------
# The application code under test


class _ReadingSubscriber(ZmqSubConnection):
    """Hands each decoded reading to a callback."""

    codec = jsonCodec

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: str,
        onReading: Callable[[bytes, Any], None],
    ) -> None:
        self.onReading = onReading
        super().__init__(factory, parseEndpoint(endpoint))

    def gotMessage(self, message: Any, tag: bytes) -> None:
        self.onReading(tag, message)


class TemperatureAlerts:
    """
    Watch rooms' temperatures.

    Readings are published by sensors under the tag C{b"temp.ROOM"} as
    JSON C{{"celsius": 21.5}}.  When the average of a room's last
    C{window} readings goes above C{threshold}, an alert
    C{{"room": ROOM, "state": "hot", "average": ...}} is published under
    C{b"alert.ROOM"} and a page is pushed to the pager; when it comes
    back down, C{"state": "cleared"}.  A room with no reading for
    C{staleAfter} seconds gets a C{"stale"} alert.

    Pages must not be lost: they wait (C{pushDeferred}) while the pager
    is slow, and go out in order.
    """

    log = Logger()

    def __init__(
        self,
        factory: ZmqFactory,
        readings: str,
        alerts: str,
        pager: str,
        threshold: float = 30.0,
        window: int = 3,
        staleAfter: float = 60.0,
    ) -> None:
        self.clock = factory.reactor
        self.threshold = threshold
        self.window = window
        self.staleAfter = staleAfter
        self.rejected = 0
        self._recent: dict[str, deque[float]] = {}
        self._hot: set[str] = set()
        self._watchdogs: dict[str, IDelayedCall] = {}
        self.readings = _ReadingSubscriber(factory, readings, self._reading)
        self.readings.subscribe(b"temp.")
        self.alerts = ZmqPubConnection(factory, parseEndpoint(alerts), codec=jsonCodec)
        self.pager = ZmqPushConnection(factory, parseEndpoint(pager), codec=jsonCodec)

    def _reading(self, tag: bytes, reading: Any) -> None:
        room = tag[len(b"temp.") :].decode("utf-8", "replace")
        celsius = reading.get("celsius") if isinstance(reading, dict) else None
        if isinstance(celsius, bool) or not isinstance(celsius, (int, float)):
            self.rejected += 1
            self.log.warn("Ignoring a bad reading for {room}", room=room)
            return
        self._watch(room)
        recent = self._recent.setdefault(room, deque(maxlen=self.window))
        recent.append(float(celsius))
        if len(recent) < self.window:
            return
        average = sum(recent) / len(recent)
        if average > self.threshold and room not in self._hot:
            self._hot.add(room)
            self._alert(room, "hot", average)
            self.pager.pushDeferred(
                {"page": f"{room} is at {average:.1f} C"}
            ).addErrback(self._pageLost)
        elif average <= self.threshold and room in self._hot:
            self._hot.discard(room)
            self._alert(room, "cleared", average)

    def _watch(self, room: str) -> None:
        watchdog = self._watchdogs.get(room)
        if watchdog is not None and watchdog.active():
            watchdog.reset(self.staleAfter)
        else:
            self._watchdogs[room] = self.clock.callLater(
                self.staleAfter, self._stale, room
            )

    def _stale(self, room: str) -> None:
        del self._watchdogs[room]
        self._recent.pop(room, None)
        self._hot.discard(room)
        self._alert(room, "stale", None)

    def _alert(self, room: str, state: str, average: float | None) -> None:
        alert = {"room": room, "state": state, "average": average}
        self.alerts.publish(alert, b"alert." + room.encode())

    def _pageLost(self, failure: Any) -> None:
        if not failure.check(ZmqConnectionClosedError):
            self.log.failure("A page was not sent", failure)

    def stop(self) -> None:
        for watchdog in self._watchdogs.values():
            if watchdog.active():
                watchdog.cancel()
        self._watchdogs.clear()
        for connection in (self.readings, self.alerts, self.pager):
            connection.shutdown()


class SetpointUnavailable(Exception):
    """The thermostat service did not answer, after every retry."""


class SetpointClient:
    """
    Ask the thermostat service for a room's setpoint: request
    C{{"room": ROOM}}, reply C{{"celsius": 21.0}} or
    C{{"error": "..."}}.

    A request that gets no reply within C{timeout} seconds is sent again
    after C{backoff * attempt} seconds, up to C{attempts} times in all.
    """

    def __init__(
        self,
        factory: ZmqFactory,
        endpoint: str,
        timeout: float = 2.0,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.clock = factory.reactor
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.connection = ZmqREQConnection(
            factory, parseEndpoint(endpoint), codec=jsonCodec
        )

    def setpoint(self, room: str) -> Deferred[float]:
        return Deferred.fromCoroutine(self._setpoint(room))

    async def _setpoint(self, room: str) -> float:
        for attempt in range(1, self.attempts + 1):
            try:
                [reply] = await self.connection.sendMsg(
                    {"room": room}, timeout=self.timeout
                )
            except ZmqRequestTimeoutError:
                if attempt == self.attempts:
                    raise SetpointUnavailable(
                        f"no setpoint for {room} after {attempt} attempts"
                    ) from None
                await deferLater(self.clock, self.backoff * attempt)
                continue
            if "error" in reply:
                raise LookupError(reply["error"])
            return float(reply["celsius"])
        raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# The application's tests


def fakeSocket(connection: Any) -> FakeSocket:
    socket = connection.socket
    assert isinstance(socket, FakeSocket)
    return socket


def reading(room: str, celsius: Any) -> list[bytes]:
    """The message a sensor publishes (txzmq's one-frame pub/sub format)."""
    return [b"temp." + room.encode() + b"\0" + jsonCodec.encode({"celsius": celsius})]


def published(factory: FakeFactory, pub: ZmqPubConnection) -> list[tuple[bytes, Any]]:
    """What a PUB connection published, as (tag, decoded value) pairs."""
    result = []
    for [frame] in factory.sent(pub):
        tag, _, body = frame.partition(b"\0")
        result.append((tag, jsonCodec.decode(body)))
    return result


class TemperatureAlertsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = FakeFactory()
        self.clock = self.factory.reactor
        self.addCleanup(self.factory.shutdown)
        self.service = TemperatureAlerts(
            self.factory,
            readings="connect:tcp://sensors:5556",
            alerts="bind:tcp://*:5557",
            pager="connect:tcp://pager:5558",
        )

    def deliver(self, *messages: list[bytes]) -> None:
        self.factory.deliver(self.service.readings, *messages)

    def alerts(self) -> list[tuple[bytes, Any]]:
        return published(self.factory, self.service.alerts)

    def pages(self) -> list[Any]:
        return [
            jsonCodec.decode(body) for [body] in self.factory.sent(self.service.pager)
        ]

    def test_wiring(self) -> None:
        """
        The service subscribes to the readings, connects and binds where it
        is told.
        """
        readings = fakeSocket(self.service.readings)
        self.assertEqual(readings.connected, ["tcp://sensors:5556"])
        self.assertEqual(readings.options[zmq.SUBSCRIBE], b"temp.")
        self.assertEqual(fakeSocket(self.service.alerts).bound, ["tcp://*:5557"])
        self.assertEqual(fakeSocket(self.service.pager).connected, ["tcp://pager:5558"])

    def test_quietBelowThreshold(self) -> None:
        self.deliver(
            reading("kitchen", 21), reading("kitchen", 22), reading("kitchen", 23)
        )
        self.assertEqual(self.alerts(), [])
        self.assertEqual(self.pages(), [])

    def test_hot(self) -> None:
        """
        An average above the threshold publishes one alert and one page;
        one hot reading alone does not.
        """
        self.deliver(reading("kitchen", 25), reading("kitchen", 40))
        self.assertEqual(self.alerts(), [])
        self.deliver(reading("kitchen", 40))
        self.assertEqual(
            self.alerts(),
            [(b"alert.kitchen", {"room": "kitchen", "state": "hot", "average": 35.0})],
        )
        self.assertEqual(self.pages(), [{"page": "kitchen is at 35.0 C"}])

    def test_alertOnce(self) -> None:
        self.deliver(*[reading("kitchen", 40) for _ in range(6)])
        self.assertEqual(len(self.alerts()), 1)
        self.assertEqual(len(self.pages()), 1)

    def test_cleared(self) -> None:
        self.deliver(*[reading("kitchen", 40) for _ in range(3)])
        self.deliver(*[reading("kitchen", 20) for _ in range(2)])
        self.assertEqual(
            [alert["state"] for _, alert in self.alerts()], ["hot", "cleared"]
        )
        self.assertEqual(self.alerts()[-1][1]["average"], 80 / 3)

    def test_roomsApart(self) -> None:
        self.deliver(
            reading("kitchen", 40),
            reading("cellar", 10),
            reading("kitchen", 40),
            reading("cellar", 10),
            reading("kitchen", 40),
            reading("cellar", 10),
        )
        self.assertEqual([tag for tag, _ in self.alerts()], [b"alert.kitchen"])

    def test_badReadings(self) -> None:
        """
        A reading the codec cannot decode is dropped by txzmq; one without
        a number is rejected by the service; neither counts.
        """
        with capturedLogs() as events:
            self.deliver(
                [b"temp.kitchen\0not json"],
                [b"temp.kitchen\0" + jsonCodec.encode({"celsius": "hot"})],
                reading("kitchen", True),
                reading("kitchen", 40),
                reading("kitchen", 40),
            )
        self.assertEqual(self.service.rejected, 2)
        self.assertEqual(len(events), 3)
        self.assertEqual(self.alerts(), [])
        self.deliver(reading("kitchen", 40))
        self.assertEqual(len(self.alerts()), 1)

    def test_stale(self) -> None:
        """
        A room silent for C{staleAfter} seconds gets a stale alert.
        """
        self.deliver(reading("kitchen", 20))
        self.clock.advance(59)
        self.deliver(reading("kitchen", 20))  # restarts the watchdog
        self.clock.advance(59)
        self.assertEqual(self.alerts(), [])
        self.clock.advance(1)
        self.assertEqual(
            self.alerts(),
            [
                (
                    b"alert.kitchen",
                    {"room": "kitchen", "state": "stale", "average": None},
                )
            ],
        )
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_staleReadingsForgotten(self) -> None:
        """
        Readings from before a room went stale no longer count.
        """
        self.deliver(reading("kitchen", 40), reading("kitchen", 40))
        self.clock.advance(60)
        self.deliver(reading("kitchen", 40))
        self.assertEqual([alert["state"] for _, alert in self.alerts()], ["stale"])
        self.deliver(reading("kitchen", 40), reading("kitchen", 40))
        self.assertEqual(
            [alert["state"] for _, alert in self.alerts()], ["stale", "hot"]
        )

    def test_pagesWaitForSlowPager(self) -> None:
        """
        While the pager cannot take pages (its socket at the high-water
        mark), they wait, and go out in order once it can.
        """
        self.factory.setRoom(self.service.pager, 0)
        self.deliver(*[reading("kitchen", 40) for _ in range(3)])
        self.deliver(*[reading("attic", 50) for _ in range(3)])
        self.assertEqual(len(self.alerts()), 2)
        self.assertEqual(self.pages(), [])
        self.assertEqual(self.service.pager.queuedMessages, 2)
        self.factory.setRoom(self.service.pager, None)
        self.assertEqual(
            self.pages(),
            [{"page": "kitchen is at 40.0 C"}, {"page": "attic is at 50.0 C"}],
        )

    def test_stop(self) -> None:
        """
        Stopping cancels the watchdogs and shuts the connections down; a
        page still waiting is dropped quietly.
        """
        self.factory.setRoom(self.service.pager, 0)
        self.deliver(*[reading("kitchen", 40) for _ in range(3)])
        self.service.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        for connection in (
            self.service.readings,
            self.service.alerts,
            self.service.pager,
        ):
            self.assertTrue(connection.closed)
            self.assertTrue(fakeSocket(connection).closed)
        self.assertEqual(self.flushLoggedErrors(), [])


def serve(
    factory: FakeFactory,
    connection: ZmqREQConnection,
    handler: Callable[[Any], Any],
    served: set[bytes],
) -> int:
    """
    A fake thermostat service: answer every request C{connection} sent
    that is not in C{served} yet with C{handler(request)}, newest first
    (the order a real server would not guarantee either).  Return how
    many were answered.
    """
    count = 0
    for requestId, _, body in reversed(factory.sent(connection)):
        if requestId not in served:
            served.add(requestId)
            reply = jsonCodec.encode(handler(jsonCodec.decode(body)))
            factory.deliver(connection, [requestId, b"", reply])
            count += 1
    return count


class SetpointClientTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = FakeFactory()
        self.clock = self.factory.reactor
        self.addCleanup(self.factory.shutdown)
        self.client = SetpointClient(self.factory, "connect:tcp://thermostat:5559")

    def requests(self) -> list[Any]:
        """The requests sent so far, decoded."""
        return [
            jsonCodec.decode(body)
            for _, _, body in self.factory.sent(self.client.connection)
        ]

    def test_answered(self) -> None:
        d = self.client.setpoint("kitchen")
        self.assertEqual(self.requests(), [{"room": "kitchen"}])
        self.assertNoResult(d)
        self.factory.reply(self.client.connection, jsonCodec.encode({"celsius": 21}))
        self.assertEqual(self.successResultOf(d), 21.0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_retryAfterTimeout(self) -> None:
        """
        After a timeout the client waits C{backoff} seconds and asks again;
        the answer to the second request is the result.
        """
        d = self.client.setpoint("kitchen")
        self.clock.advance(2)
        self.assertEqual(len(self.requests()), 1)
        self.clock.advance(0.5)
        self.assertEqual(self.requests(), [{"room": "kitchen"}] * 2)
        # Answer the newest request, with its id from sent().
        newest = self.factory.sent(self.client.connection)[-1][0]
        self.factory.deliver(
            self.client.connection, [newest, b"", jsonCodec.encode({"celsius": 19.5})]
        )
        self.assertEqual(self.successResultOf(d), 19.5)

    def test_lateAnswerToFirstRequest(self) -> None:
        """
        A slow server answers the first request after it timed out: that
        late answer is dropped, and the retry's answer counts.
        (C{factory.reply()} answers requests in the order they were sent.)
        """
        d = self.client.setpoint("kitchen")
        self.clock.advance(2)  # the first request times out
        self.clock.advance(0.5)  # the retry goes out
        self.factory.reply(self.client.connection, jsonCodec.encode({"celsius": 1}))
        self.assertNoResult(d)
        self.factory.reply(self.client.connection, jsonCodec.encode({"celsius": 2}))
        self.assertEqual(self.successResultOf(d), 2.0)

    def test_givesUp(self) -> None:
        d = self.client.setpoint("kitchen")
        # timeout 2, wait 0.5, timeout 2, wait 1.0, timeout 2
        for seconds in (2, 0.5, 2, 1.0):
            self.clock.advance(seconds)
            self.assertNoResult(d)
        self.assertEqual(len(self.requests()), 3)
        self.clock.advance(2)
        failure = self.failureResultOf(d, SetpointUnavailable)
        self.assertIn("3 attempts", str(failure.value))
        self.assertEqual(len(self.requests()), 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_serverError(self) -> None:
        d = self.client.setpoint("garage")
        self.factory.reply(
            self.client.connection, jsonCodec.encode({"error": "no such room"})
        )
        self.failureResultOf(d, LookupError)

    def test_manyAtOnce(self) -> None:
        """
        Requests in flight together each get their own answer, whatever
        the order of the replies.
        """
        setpoints = {"kitchen": 21, "attic": 16, "cellar": 12}
        results = {room: self.client.setpoint(room) for room in setpoints}
        served: set[bytes] = set()
        answered = serve(
            self.factory,
            self.client.connection,
            lambda request: {"celsius": setpoints[request["room"]]},
            served,
        )
        self.assertEqual(answered, 3)
        for room, d in results.items():
            self.assertEqual(self.successResultOf(d), setpoints[room])

    def test_waitsWhileServerBusy(self) -> None:
        """
        A request that cannot be sent yet (high-water mark) waits in the
        outgoing queue, and its timeout counts from the call: if it never
        left, the retry is what goes out.
        """
        self.factory.setRoom(self.client.connection, 0)
        d = self.client.setpoint("kitchen")
        self.clock.advance(2)
        self.clock.advance(0.5)
        self.assertEqual(self.requests(), [])
        self.factory.setRoom(self.client.connection, None)
        self.assertEqual(self.requests(), [{"room": "kitchen"}])
        self.factory.reply(self.client.connection, jsonCodec.encode({"celsius": 20}))
        self.assertEqual(self.successResultOf(d), 20.0)

    def test_shutdown(self) -> None:
        """
        Shutting the factory down fails the pending call at once; it is not
        retried.
        """
        d = self.client.setpoint("kitchen")
        self.factory.shutdown()
        self.failureResultOf(d, ZmqConnectionClosedError)
        self.assertEqual(self.clock.getDelayedCalls(), [])

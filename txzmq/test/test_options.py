"""
Tests for L{txzmq._options}: setting checks and their mapping to
C{setsockopt} calls, and (L{ConnectionOptionsTests}) the options a
connection sets on its socket, seen on a fake socket.
"""

from __future__ import annotations

import zmq
from twisted.trial.unittest import SynchronousTestCase

from txzmq import ZmqConnection, ZmqPullConnection, ZmqXPubConnection
from txzmq._options import (
    SOCKET_OPTIONS,
    SocketOption,
    anyInt,
    boolean,
    checkSettings,
    nonEmptyBytes,
    nonNegativeInt,
    positiveInt,
    socketOptionCalls,
)
from txzmq.testing import FakeContext, FakeFactory, FakeSocket

ALLOWED = {name: option.validate for name, option in SOCKET_OPTIONS.items()}
ALLOWED["readBatchSize"] = positiveInt


class ValidatorTests(SynchronousTestCase):
    """
    The validators accept the right values, return them, and name the
    setting in their errors.
    """

    def test_nonNegativeInt(self) -> None:
        self.assertEqual(nonNegativeInt("x", 0), 0)
        self.assertEqual(nonNegativeInt("x", 5), 5)
        e = self.assertRaises(ValueError, nonNegativeInt, "hwm", -1)
        self.assertEqual(str(e), "hwm must be >= 0, got -1")
        e2 = self.assertRaises(TypeError, nonNegativeInt, "hwm", "5")
        self.assertEqual(str(e2), "hwm must be an int, not str")
        self.assertRaises(TypeError, nonNegativeInt, "hwm", 5.0)
        self.assertRaises(TypeError, nonNegativeInt, "hwm", None)

    def test_nonNegativeIntRejectsBool(self) -> None:
        """
        C{True} is an int to Python, not a count of messages.
        """
        e = self.assertRaises(TypeError, nonNegativeInt, "hwm", True)
        self.assertIn("not bool", str(e))
        self.assertRaises(TypeError, nonNegativeInt, "hwm", False)

    def test_positiveInt(self) -> None:
        self.assertEqual(positiveInt("x", 1), 1)
        e = self.assertRaises(ValueError, positiveInt, "batch", 0)
        self.assertEqual(str(e), "batch must be >= 1, got 0")
        self.assertRaises(ValueError, positiveInt, "batch", -3)
        self.assertRaises(TypeError, positiveInt, "batch", True)
        self.assertRaises(TypeError, positiveInt, "batch", 1.5)

    def test_anyInt(self) -> None:
        self.assertEqual(anyInt("x", -1), -1)
        self.assertEqual(anyInt("x", 0), 0)
        self.assertEqual(anyInt("x", 7), 7)
        e = self.assertRaises(TypeError, anyInt, "keepalive", True)
        self.assertEqual(str(e), "keepalive must be an int, not bool")
        self.assertRaises(TypeError, anyInt, "keepalive", "1")

    def test_boolean(self) -> None:
        self.assertIs(boolean("x", True), True)
        self.assertIs(boolean("x", False), False)
        # 0 and 1, as txZMQ accepted them.
        self.assertIs(boolean("x", 1), True)
        self.assertIs(boolean("x", 0), False)
        for bad in (2, -1, "yes", None, 1.0, [], b"\x01"):
            e = self.assertRaises(TypeError, boolean, "loop", bad)
            self.assertIn("loop must be a bool", str(e))

    def test_nonEmptyBytes(self) -> None:
        self.assertEqual(nonEmptyBytes("sep", b"|"), b"|")
        e = self.assertRaises(ValueError, nonEmptyBytes, "sep", b"")
        self.assertEqual(str(e), "sep must not be empty")
        e2 = self.assertRaises(TypeError, nonEmptyBytes, "sep", "|")
        self.assertEqual(str(e2), "sep must be bytes, not str")
        self.assertRaises(TypeError, nonEmptyBytes, "sep", bytearray(b"|"))


class CheckSettingsTests(SynchronousTestCase):
    """
    L{checkSettings} validates keyword settings by name.
    """

    def test_empty(self) -> None:
        self.assertEqual(checkSettings(ALLOWED, {}), {})

    def test_valid(self) -> None:
        self.assertEqual(
            checkSettings(
                ALLOWED,
                {"highWaterMark": 5, "allowLoopbackMulticast": 1, "readBatchSize": 3},
            ),
            {"highWaterMark": 5, "allowLoopbackMulticast": True, "readBatchSize": 3},
        )

    def test_returnsValidatedValues(self) -> None:
        """
        The values returned are those the validators return.
        """
        result = checkSettings({"flag": boolean}, {"flag": 1})
        self.assertIs(result["flag"], True)

    def test_unknownName(self) -> None:
        e = self.assertRaises(
            TypeError, checkSettings, ALLOWED, {"highWaterMark": 1, "hwm": 5}
        )
        message = str(e)
        self.assertIn("unknown setting(s) hwm;", message)
        self.assertIn("known settings are", message)
        for name in ALLOWED:
            self.assertIn(name, message)

    def test_unknownNamesSorted(self) -> None:
        e = self.assertRaises(
            TypeError, checkSettings, {"a": anyInt, "b": anyInt}, {"zz": 1, "yy": 2}
        )
        self.assertEqual(str(e), "unknown setting(s) yy, zz; known settings are a, b")

    def test_unknownBeforeValues(self) -> None:
        """
        An unknown name is reported even when another value is also bad.
        """
        e = self.assertRaises(
            TypeError, checkSettings, ALLOWED, {"highWaterMark": "x", "bogus": 1}
        )
        self.assertIn("bogus", str(e))

    def test_wrongType(self) -> None:
        e = self.assertRaises(
            TypeError, checkSettings, ALLOWED, {"highWaterMark": "10"}
        )
        self.assertIn("highWaterMark must be an int", str(e))

    def test_boolForInt(self) -> None:
        e = self.assertRaises(TypeError, checkSettings, ALLOWED, {"lingerPeriod": True})
        self.assertIn("lingerPeriod", str(e))
        self.assertRaises(TypeError, checkSettings, ALLOWED, {"tcpKeepalive": True})
        self.assertRaises(TypeError, checkSettings, ALLOWED, {"readBatchSize": True})

    def test_negative(self) -> None:
        for name in (
            "highWaterMark",
            "sendHighWaterMark",
            "receiveHighWaterMark",
            "lingerPeriod",
        ):
            e = self.assertRaises(ValueError, checkSettings, ALLOWED, {name: -1})
            self.assertIn(name, str(e))
        self.assertRaises(ValueError, checkSettings, ALLOWED, {"multicastRate": 0})
        self.assertRaises(ValueError, checkSettings, ALLOWED, {"readBatchSize": 0})

    def test_minusOneAllowedWhereLibzmqUsesIt(self) -> None:
        """
        libzmq's "-1 = system default" is accepted for the keepalive and
        reconnect options.
        """
        for name in (
            "tcpKeepalive",
            "tcpKeepaliveCount",
            "tcpKeepaliveIdle",
            "tcpKeepaliveInterval",
            "reconnectInterval",
            "reconnectIntervalMax",
        ):
            self.assertEqual(checkSettings(ALLOWED, {name: -1}), {name: -1})


class SocketOptionCallsTests(SynchronousTestCase):
    """
    L{socketOptionCalls} maps named settings onto C{socket.set()} calls.
    """

    def test_nothing(self) -> None:
        self.assertEqual(socketOptionCalls(SOCKET_OPTIONS, {}), [])

    def test_highWaterMarkSetsBoth(self) -> None:
        self.assertEqual(
            socketOptionCalls(SOCKET_OPTIONS, {"highWaterMark": 5}),
            [(zmq.SNDHWM, 5), (zmq.RCVHWM, 5)],
        )

    def test_zeroHighWaterMarkIsSet(self) -> None:
        """
        0 is a real high-water mark (unlimited), not "unset".
        """
        self.assertEqual(
            socketOptionCalls(SOCKET_OPTIONS, {"highWaterMark": 0, "lingerPeriod": 0}),
            [(zmq.SNDHWM, 0), (zmq.RCVHWM, 0), (zmq.LINGER, 0)],
        )

    def test_unsetSkipped(self) -> None:
        values = {
            "highWaterMark": None,
            "sendHighWaterMark": None,
            "lingerPeriod": None,
            "tcpKeepalive": 0,
            "tcpKeepaliveCount": 0,
            "tcpKeepaliveIdle": 0,
            "tcpKeepaliveInterval": 0,
            "reconnectInterval": 0,
            "reconnectIntervalMax": 0,
        }
        self.assertEqual(socketOptionCalls(SOCKET_OPTIONS, values), [])

    def test_noSockoptForLoopback(self) -> None:
        """
        C{allowLoopbackMulticast} is accepted but maps to no libzmq option.
        """
        self.assertEqual(
            socketOptionCalls(SOCKET_OPTIONS, {"allowLoopbackMulticast": True}), []
        )

    def test_specificHighWaterMarksAfterShared(self) -> None:
        """
        Whatever order they are given in, the shared high-water mark comes
        first, so the send/receive specific ones win.
        """
        calls = socketOptionCalls(
            SOCKET_OPTIONS,
            {"receiveHighWaterMark": 7, "sendHighWaterMark": 3, "highWaterMark": 5},
        )
        self.assertEqual(
            calls,
            [(zmq.SNDHWM, 5), (zmq.RCVHWM, 5), (zmq.SNDHWM, 3), (zmq.RCVHWM, 7)],
        )
        # The last call for each option is the effective one.
        self.assertEqual(dict(calls), {zmq.SNDHWM: 3, zmq.RCVHWM: 7})

    def test_tableOrder(self) -> None:
        calls = socketOptionCalls(
            SOCKET_OPTIONS,
            {
                "reconnectIntervalMax": 900,
                "tcpKeepalive": 1,
                "multicastRate": 50,
                "lingerPeriod": 10,
            },
        )
        self.assertEqual(
            calls,
            [
                (zmq.LINGER, 10),
                (zmq.RATE, 50),
                (zmq.TCP_KEEPALIVE, 1),
                (zmq.RECONNECT_IVL_MAX, 900),
            ],
        )

    def test_everyOption(self) -> None:
        values = {
            "sendHighWaterMark": 1,
            "receiveHighWaterMark": 2,
            "tcpKeepaliveCount": 3,
            "tcpKeepaliveIdle": 4,
            "tcpKeepaliveInterval": 5,
            "reconnectInterval": 6,
        }
        self.assertEqual(
            dict(socketOptionCalls(SOCKET_OPTIONS, values)),
            {
                zmq.SNDHWM: 1,
                zmq.RCVHWM: 2,
                zmq.TCP_KEEPALIVE_CNT: 3,
                zmq.TCP_KEEPALIVE_IDLE: 4,
                zmq.TCP_KEEPALIVE_INTVL: 5,
                zmq.RECONNECT_IVL: 6,
            },
        )

    def test_namesNotInTableIgnored(self) -> None:
        """
        Settings that are not socket options (C{readBatchSize}) make no
        call.
        """
        self.assertEqual(socketOptionCalls(SOCKET_OPTIONS, {"readBatchSize": 3}), [])

    def test_customTable(self) -> None:
        table = {
            "verbose": SocketOption((zmq.XPUB_VERBOSE,), boolean, False),
            "hwm": SocketOption((zmq.SNDHWM, zmq.RCVHWM), nonNegativeInt, None),
        }
        self.assertEqual(socketOptionCalls(table, {"verbose": False}), [])
        self.assertEqual(
            socketOptionCalls(table, {"hwm": 2, "verbose": True}),
            [(zmq.XPUB_VERBOSE, True), (zmq.SNDHWM, 2), (zmq.RCVHWM, 2)],
        )

    def test_everyOptionValidatesItsDefaultUnset(self) -> None:
        """
        Every table entry has a validator that accepts a sensible value and
        maps to known libzmq options.
        """
        for name, option in SOCKET_OPTIONS.items():
            self.assertTrue(callable(option.validate), name)
            for sockopt in option.sockopts:
                self.assertIsInstance(sockopt, int)
            sensible = b"domain" if name == "zapDomain" else 1
            self.assertEqual(option.validate(name, sensible), sensible)


class ConnectionOptionsTests(SynchronousTestCase):
    """
    The settings of a connection as they reach its socket, seen on the
    L{txzmq.testing.FakeSocket} of a L{FakeFactory}: its C{options} holds
    only the options actually set, so "left to libzmq's default" is
    visible as an absent option (on a real socket it can only be told
    from libzmq's default value).
    """

    def setUp(self) -> None:
        self.factory = FakeFactory()
        self.addCleanup(self.factory.shutdown)

    def options(self, connection: ZmqConnection) -> dict[int, object]:
        socket = connection.socket
        assert isinstance(socket, FakeSocket)
        return socket.options

    def sockets(self) -> list[FakeSocket]:
        context = self.factory.context
        assert isinstance(context, FakeContext)
        return context.sockets

    def test_defaults(self) -> None:
        """
        A connection made without settings sets the finite high-water
        mark, the factory's linger, and the defaults txzmq chose itself;
        the options left "unset" are never set.
        """
        self.assertEqual(
            self.options(ZmqPullConnection(self.factory)),
            {
                zmq.LINGER: 100,
                zmq.SNDHWM: 1000,
                zmq.RCVHWM: 1000,
                zmq.RATE: 100,
                zmq.RECONNECT_IVL: 100,
            },
        )

    def test_lingerFromFactory(self) -> None:
        self.factory.lingerPeriod = 42
        self.assertEqual(self.options(ZmqPullConnection(self.factory))[zmq.LINGER], 42)
        own = ZmqPullConnection(self.factory, lingerPeriod=0)
        self.assertEqual(self.options(own)[zmq.LINGER], 0)

    def test_specificHighWaterMarksWin(self) -> None:
        options = self.options(
            ZmqPullConnection(self.factory, sendHighWaterMark=3, highWaterMark=5)
        )
        self.assertEqual((options[zmq.SNDHWM], options[zmq.RCVHWM]), (3, 5))

    def test_keepaliveSetWhenGiven(self) -> None:
        options = self.options(
            ZmqPullConnection(self.factory, tcpKeepalive=1, tcpKeepaliveIdle=60)
        )
        self.assertEqual(options[zmq.TCP_KEEPALIVE], 1)
        self.assertEqual(options[zmq.TCP_KEEPALIVE_IDLE], 60)
        self.assertNotIn(zmq.TCP_KEEPALIVE_CNT, options)

    def test_explicitUnsetRestoresDefault(self) -> None:
        """
        Asking for "unset" again with C{setSocketOptions} sets libzmq's
        default back (the C{reset} of the table).
        """
        pull = ZmqPullConnection(self.factory, tcpKeepalive=1, zapDomain=b"d")
        pull.setSocketOptions(tcpKeepalive=0, reconnectInterval=0, zapDomain=None)
        options = self.options(pull)
        self.assertEqual(options[zmq.TCP_KEEPALIVE], -1)
        self.assertEqual(options[zmq.RECONNECT_IVL], 100)
        self.assertEqual(options[zmq.ZAP_DOMAIN], b"")

    def test_verboseSubscriptions(self) -> None:
        self.assertNotIn(
            zmq.XPUB_VERBOSE, self.options(ZmqXPubConnection(self.factory))
        )
        xpub = ZmqXPubConnection(self.factory, verboseSubscriptions=True)
        self.assertIs(self.options(xpub)[zmq.XPUB_VERBOSE], True)
        xpub.setSocketOptions(verboseSubscriptions=False)
        self.assertIs(self.options(xpub)[zmq.XPUB_VERBOSE], False)

    def test_badSettingsMakeNoSocket(self) -> None:
        """
        Settings are checked before the socket is made: a bad one leaves
        no socket behind.
        """
        self.assertRaises(TypeError, ZmqPullConnection, self.factory, hwm=5)
        self.assertRaises(TypeError, ZmqPullConnection, self.factory, highWaterMark="5")
        self.assertRaises(ValueError, ZmqPullConnection, self.factory, lingerPeriod=-1)
        self.assertEqual(self.sockets(), [])
        self.assertEqual(self.factory.connections, set())

    def test_setSocketOptionsChecksFirst(self) -> None:
        pull = ZmqPullConnection(self.factory)
        before = dict(self.options(pull))
        self.assertRaises(
            ValueError, pull.setSocketOptions, highWaterMark=3, lingerPeriod=-1
        )
        self.assertRaises(TypeError, pull.setSocketOptions, highWaterMark=3, bogus=1)
        self.assertEqual(self.options(pull), before)
        self.assertEqual(pull.highWaterMark, 1000)

"""
Tests for L{txzmq.endpoints}: the string form of endpoints.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txzmq import ZmqEndpoint, ZmqEndpointType
from txzmq.endpoints import checkEndpoint, formatEndpoint, parseEndpoint


class ParseEndpointTests(SynchronousTestCase):
    def test_bindAndConnect(self) -> None:
        self.assertEqual(
            parseEndpoint("bind:tcp://*:5555"),
            ZmqEndpoint(ZmqEndpointType.bind, "tcp://*:5555"),
        )
        self.assertEqual(
            parseEndpoint("connect:ipc:///tmp/a b/sock"),
            ZmqEndpoint(ZmqEndpointType.connect, "ipc:///tmp/a b/sock"),
        )
        self.assertEqual(
            parseEndpoint("connect:inproc://name:with:colons"),
            ZmqEndpoint("connect", "inproc://name:with:colons"),
        )

    def test_roundTrip(self) -> None:
        for text in ("bind:tcp://127.0.0.1:*", "connect:pgm://eth0;239.1.1.1:5555"):
            self.assertEqual(formatEndpoint(parseEndpoint(text)), text)

    def test_missingType(self) -> None:
        """
        An address without "bind:" or "connect:" says what is expected and
        suggests both forms.
        """
        e = self.assertRaises(ValueError, parseEndpoint, "tcp://127.0.0.1:5555")
        self.assertIn("must start with 'bind:' or 'connect:'", str(e))
        self.assertIn("'bind:tcp://127.0.0.1:5555'", str(e))
        self.assertIn("'connect:tcp://127.0.0.1:5555'", str(e))

    def test_unknownType(self) -> None:
        e = self.assertRaises(ValueError, parseEndpoint, "listen:tcp://a:1")
        self.assertIn("must start with 'bind:' or 'connect:'", str(e))
        self.assertNotIn("did you mean", str(e))

    def test_noAddress(self) -> None:
        for text in ("bind:", "connect:tcp", "bind:tcp://"):
            e = self.assertRaises(ValueError, parseEndpoint, text)
            self.assertIn("TRANSPORT://WHERE", str(e))

    def test_unknownTransport(self) -> None:
        e = self.assertRaises(ValueError, parseEndpoint, "bind:http://x:1")
        self.assertIn("unknown transport 'http'", str(e))
        self.assertIn("tcp, ipc, inproc", str(e))

    def test_notAString(self) -> None:
        e = self.assertRaises(TypeError, parseEndpoint, b"bind:tcp://*:1")
        self.assertIn("must be str, not bytes", str(e))


class CheckEndpointTests(SynchronousTestCase):
    def test_forms(self) -> None:
        """A ZmqEndpoint, a plain tuple and a string are all accepted."""
        expected = ZmqEndpoint("bind", "inproc://x")
        for given in (expected, ("bind", "inproc://x"), "bind:inproc://x"):
            result = checkEndpoint(given)
            self.assertEqual(result, expected)
            self.assertIsInstance(result, ZmqEndpoint)

    def test_badValues(self) -> None:
        self.assertRaises(TypeError, checkEndpoint, None)
        self.assertRaises(TypeError, checkEndpoint, ("bind", "inproc://x", 1))
        self.assertRaises(TypeError, checkEndpoint, ("bind", 5))
        e = self.assertRaises(ValueError, checkEndpoint, ("listen", "inproc://x"))
        self.assertIn("ZmqEndpointType.bind", str(e))

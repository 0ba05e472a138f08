"""
Pure tests of the security building blocks: the ZAP protocol functions of
L{txzmq._zap} (parsing requests, the static decision, encoding replies,
building a policy), the CURVE key checks, the mechanism classes and the
key tooling of L{txzmq.security}.

No reactor and no connection: the decision logic is a function of the
request frames and the policy.  (The mechanisms' C{apply} is checked on a
bare pyzmq socket.)  L{txzmq.test.test_security} shows the same rules
protecting real tcp sockets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import zmq
from twisted.trial.unittest import SynchronousTestCase

from txzmq import _zap
from txzmq._mechanisms import checkSecurity
from txzmq._zap import (
    ZAP_ENDPOINT,
    MalformedZapRequest,
    ZapReply,
    allowed,
    decide,
    denied,
    encodeReply,
    parseRequest,
)
from txzmq.security import (
    CurveClient,
    CurveServer,
    PlainClient,
    PlainServer,
    Security,
    ZapPolicy,
    ZapRequest,
    checkCurveKey,
    createCertificates,
    generateKeypair,
    loadCertificate,
    loadPublicKeys,
)

# Fixed keys (the CurveZMQ test vectors, also used by pyzmq's tests): a
# test needing *some* key does not depend on the random generator.
PUBLIC = b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
SECRET = b"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
RAW_PUBLIC = zmq.utils.z85.decode(PUBLIC)
OTHER_PUBLIC, OTHER_SECRET = (
    b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
    b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
)


def request(
    mechanism: bytes = b"NULL",
    credentials: Sequence[bytes] = (),
    *,
    requestId: bytes = b"req-1",
    domain: bytes = b"",
    address: bytes = b"127.0.0.1",
    identity: bytes = b"",
    version: bytes = b"1.0",
) -> list[bytes]:
    """The frames of a ZAP request, after the REQ envelope."""
    return [version, requestId, domain, address, identity, mechanism, *credentials]


def plain(user: bytes, password: bytes, **kwargs: Any) -> ZapRequest:
    return parseRequest(request(b"PLAIN", [user, password], **kwargs))


def curve(publicKey: bytes = PUBLIC, **kwargs: Any) -> ZapRequest:
    return parseRequest(request(b"CURVE", [zmq.utils.z85.decode(publicKey)], **kwargs))


def null(**kwargs: Any) -> ZapRequest:
    return parseRequest(request(**kwargs))


# ---------------------------------------------------------------------------
# parseRequest


class ParseRequestTests(SynchronousTestCase):
    """
    L{parseRequest} turns the frames libzmq sends into a L{ZapRequest}, and
    refuses anything else with L{MalformedZapRequest}, saying whether the
    request can still be answered (its C{requestId}).
    """

    def test_endpoint(self) -> None:
        """The handler address is the one RFC 27 fixes."""
        self.assertEqual(ZAP_ENDPOINT, "inproc://zeromq.zap.01")

    def test_null(self) -> None:
        """A NULL request has no credentials; every field is decoded."""
        parsed = parseRequest(
            request(
                requestId=b"\x00\x01",
                domain=b"global",
                address=b"192.0.2.7",
                identity=b"peer",
            )
        )
        self.assertEqual(
            parsed,
            ZapRequest(b"\x00\x01", "global", "192.0.2.7", b"peer", "NULL", ()),
        )
        self.assertIsNone(parsed.username)
        self.assertIsNone(parsed.password)
        self.assertIsNone(parsed.publicKey)
        self.assertEqual(parsed.describe(), "NULL anonymous from 192.0.2.7")

    def test_plain(self) -> None:
        """A PLAIN request carries a user name and a password, as text."""
        parsed = plain(b"alice", b"s3cret")
        self.assertEqual(parsed.mechanism, "PLAIN")
        self.assertEqual(parsed.credentials, (b"alice", b"s3cret"))
        self.assertEqual((parsed.username, parsed.password), ("alice", "s3cret"))
        self.assertIsNone(parsed.publicKey)
        self.assertEqual(parsed.describe(), "PLAIN alice from 127.0.0.1")
        self.assertNotIn("s3cret", parsed.describe())

    def test_plainNotUtf8(self) -> None:
        """Credentials that are not UTF-8 are decoded with replacements."""
        parsed = plain(b"\xff", b"\xfe")
        self.assertEqual((parsed.username, parsed.password), ("\ufffd", "\ufffd"))

    def test_curve(self) -> None:
        """
        A CURVE request carries the client's raw 32-byte public key;
        C{publicKey} gives it as Z85, the form certificates use.
        """
        parsed = curve()
        self.assertEqual(parsed.mechanism, "CURVE")
        self.assertEqual(parsed.credentials, (RAW_PUBLIC,))
        self.assertEqual(parsed.publicKey, PUBLIC)
        self.assertIsNone(parsed.username)
        self.assertEqual(parsed.describe(), f"CURVE {PUBLIC.decode()} from 127.0.0.1")

    def test_localPeer(self) -> None:
        """An ipc peer has no address; the description says so."""
        self.assertEqual(
            null(address=b"").describe(), "NULL anonymous from a local peer"
        )

    def test_nonUtf8Fields(self) -> None:
        """Domain and address that are not UTF-8 do not crash the parser."""
        parsed = null(domain=b"\xff", address=b"\xfe")
        self.assertEqual((parsed.domain, parsed.address), ("\ufffd", "\ufffd"))

    def assertMalformed(
        self, frames: Sequence[bytes], requestId: bytes | None, reason: str
    ) -> MalformedZapRequest:
        error = self.assertRaises(MalformedZapRequest, parseRequest, frames)
        self.assertIsInstance(error, ValueError)
        self.assertEqual(error.requestId, requestId)
        self.assertIn(reason, str(error))
        return error

    def test_noFrames(self) -> None:
        """Without frames there is no request id to answer."""
        self.assertMalformed([], None, "0 frames, at least 6 needed")

    def test_versionOnly(self) -> None:
        """With the version frame alone there is still no request id."""
        self.assertMalformed([b"1.0"], None, "1 frames, at least 6 needed")

    def test_tooFewFrames(self) -> None:
        """
        From two frames on, the second is the request id: a short request
        can be answered.
        """
        for count in range(2, 6):
            frames = request()[:count]
            self.assertMalformed(frames, b"req-1", f"{count} frames, at least 6")

    def test_badVersion(self) -> None:
        """Only ZAP version 1.0 is understood."""
        self.assertMalformed(
            request(version=b"2.0", requestId=b"r9"),
            b"r9",
            "unknown ZAP version b'2.0'",
        )

    def test_unknownMechanism(self) -> None:
        """A mechanism other than NULL, PLAIN and CURVE is refused."""
        self.assertMalformed(request(b"GSSAPI"), b"req-1", "unknown mechanism 'GSSAPI'")
        self.assertMalformed(request(b"null"), b"req-1", "unknown mechanism 'null'")
        self.assertMalformed(request(b"\xff"), b"req-1", "unknown mechanism")

    def test_wrongCredentialCount(self) -> None:
        """Each mechanism has its number of credential frames."""
        for mechanism, credentials, expected in [
            (b"NULL", [b"x"], "NULL needs 0 credential frames, got 1"),
            (b"PLAIN", [], "PLAIN needs 2 credential frames, got 0"),
            (b"PLAIN", [b"alice"], "PLAIN needs 2 credential frames, got 1"),
            (b"PLAIN", [b"a", b"b", b"c"], "PLAIN needs 2 credential frames, got 3"),
            (b"CURVE", [], "CURVE needs 1 credential frames, got 0"),
            (
                b"CURVE",
                [RAW_PUBLIC, RAW_PUBLIC],
                "CURVE needs 1 credential frames, got 2",
            ),
        ]:
            self.assertMalformed(request(mechanism, credentials), b"req-1", expected)

    def test_curveKeyLength(self) -> None:
        """
        A CURVE public key has 32 raw bytes: the Z85 text, or a short key,
        is malformed.
        """
        for key in (PUBLIC, RAW_PUBLIC[:31], RAW_PUBLIC + b"x", b""):
            self.assertMalformed(
                request(b"CURVE", [key]), b"req-1", "a CURVE public key has 32 bytes"
            )

    def test_emptyRequestId(self) -> None:
        """An empty request id is still an id (RFC 27 allows any bytes)."""
        self.assertEqual(null(requestId=b"").requestId, b"")
        error = self.assertMalformed(request(b"BAD", requestId=b""), b"", "unknown")
        self.assertIsNotNone(error.requestId)


# ---------------------------------------------------------------------------
# decide


class DecideTests(SynchronousTestCase):
    """
    L{decide} applies a L{ZapPolicy}: domain, then addresses, then the
    mechanism's rule; None when the policy has no rule for the mechanism.
    """

    def assertAllowed(
        self, request: ZapRequest, policy: ZapPolicy, userId: str = ""
    ) -> None:
        self.assertEqual(
            decide(request, policy), ZapReply(request.requestId, 200, "OK", userId)
        )

    def assertDenied(self, request: ZapRequest, policy: ZapPolicy, reason: str) -> None:
        reply = decide(request, policy)
        self.assertEqual(reply, ZapReply(request.requestId, 400, reason, ""))
        assert reply is not None
        self.assertFalse(reply.ok)

    def test_defaultPolicy(self) -> None:
        """
        The default policy lets NULL peers in and has no rule for PLAIN
        and CURVE.
        """
        policy = ZapPolicy.build()
        self.assertAllowed(null(), policy)
        self.assertIsNone(decide(plain(b"alice", b"pw"), policy))
        self.assertIsNone(decide(curve(), policy))

    def test_requestIdEchoed(self) -> None:
        """Every reply answers its request's id."""
        policy = ZapPolicy.build(passwords={"alice": "pw"})
        for parsed in (
            null(requestId=b"\x01"),
            plain(b"alice", b"pw", requestId=b"\x02"),
            plain(b"alice", b"no", requestId=b"\x03"),
        ):
            reply = decide(parsed, policy)
            assert reply is not None
            self.assertEqual(reply.requestId, parsed.requestId)

    def test_allowNull(self) -> None:
        """C{allowNull=False} keeps NULL peers out."""
        self.assertAllowed(null(), ZapPolicy.build(allowNull=True))
        self.assertDenied(null(), ZapPolicy.build(allowNull=False), "NULL refused")

    def test_plainPasswords(self) -> None:
        """
        A PLAIN peer gets in with a matching password; its user name
        becomes the user id.
        """
        policy = ZapPolicy.build(passwords={"alice": "pw", "bob": ""})
        self.assertAllowed(plain(b"alice", b"pw"), policy, "alice")
        for user, password in [
            (b"alice", b"PW"),
            (b"alice", b"pw "),
            (b"alice", b""),
            (b"carol", b"pw"),
            (b"Alice", b"pw"),
        ]:
            self.assertDenied(
                plain(user, password), policy, "invalid user name or password"
            )

    def test_plainEmptyPasswords(self) -> None:
        """An empty password table lets no PLAIN peer in (it is a rule)."""
        self.assertDenied(
            plain(b"alice", b"pw"),
            ZapPolicy.build(passwords={}),
            "invalid user name or password",
        )

    def test_plainUndecided(self) -> None:
        """Without C{passwords}, PLAIN is left to the checker."""
        self.assertIsNone(decide(plain(b"alice", b"pw"), ZapPolicy.build()))

    def test_curveKeys(self) -> None:
        """
        A CURVE peer gets in when its public key is listed; the Z85 key
        becomes the user id.
        """
        policy = ZapPolicy.build(curveKeys=[PUBLIC])
        self.assertAllowed(curve(PUBLIC), policy, PUBLIC.decode())
        self.assertDenied(curve(OTHER_PUBLIC), policy, "unknown public key")

    def test_curveKeysEmpty(self) -> None:
        """An empty key set lets no CURVE peer in (it is a rule)."""
        self.assertDenied(curve(), ZapPolicy.build(curveKeys=[]), "unknown public key")

    def test_curveUndecided(self) -> None:
        """Without C{curveKeys} or C{allowAnyCurve}, CURVE is left open."""
        self.assertIsNone(decide(curve(), ZapPolicy.build()))

    def test_allowAnyCurve(self) -> None:
        """C{allowAnyCurve} lets any key in, listed or not."""
        self.assertAllowed(
            curve(OTHER_PUBLIC),
            ZapPolicy.build(allowAnyCurve=True),
            OTHER_PUBLIC.decode(),
        )
        self.assertAllowed(
            curve(OTHER_PUBLIC),
            ZapPolicy.build(allowAnyCurve=True, curveKeys=[PUBLIC]),
            OTHER_PUBLIC.decode(),
        )

    def test_mechanismsIndependent(self) -> None:
        """
        Rules for one mechanism do not decide another: passwords do not
        let CURVE peers in, keys do not let PLAIN peers in.
        """
        passwords = ZapPolicy.build(passwords={"alice": "pw"})
        self.assertIsNone(decide(curve(), passwords))
        self.assertAllowed(null(), passwords)
        keys = ZapPolicy.build(curveKeys=[PUBLIC], allowNull=False)
        self.assertIsNone(decide(plain(b"alice", b"pw"), keys))
        self.assertDenied(null(), keys, "NULL refused")

    def test_allowList(self) -> None:
        """With C{allow}, only listed addresses get as far as the mechanism."""
        policy = ZapPolicy.build(
            allow=["10.9.9.9", "127.0.0.1"],
            passwords={"alice": "pw"},
            curveKeys=[PUBLIC],
        )
        self.assertAllowed(null(), policy)
        self.assertAllowed(plain(b"alice", b"pw"), policy, "alice")
        self.assertAllowed(curve(), policy, PUBLIC.decode())
        other = b"192.0.2.1"
        for parsed in (
            null(address=other),
            plain(b"alice", b"pw", address=other),
            curve(address=other),
            null(address=b""),
        ):
            self.assertDenied(parsed, policy, "address not allowed")

    def test_allowListBeforeChecker(self) -> None:
        """
        An address outside the allow list is denied even when the
        mechanism has no rule (the checker is never asked).
        """
        policy = ZapPolicy.build(allow=["10.9.9.9"])
        self.assertDenied(curve(), policy, "address not allowed")
        self.assertDenied(plain(b"a", b"b"), policy, "address not allowed")

    def test_denyList(self) -> None:
        """
        A denied address is refused whatever its credentials, even under
        C{allowAnyCurve}; other addresses are not affected.
        """
        policy = ZapPolicy.build(
            deny=["127.0.0.1"], passwords={"alice": "pw"}, allowAnyCurve=True
        )
        for parsed in (null(), plain(b"alice", b"pw"), curve()):
            self.assertDenied(parsed, policy, "address denied")
        self.assertAllowed(null(address=b"10.0.0.1"), policy)
        self.assertDenied(
            plain(b"alice", b"pw", address=b"127.0.0.1"), policy, "address denied"
        )

    def test_denyListBeforeChecker(self) -> None:
        """A denied address is refused even when the mechanism is undecided."""
        self.assertDenied(
            curve(), ZapPolicy.build(deny=["127.0.0.1"]), "address denied"
        )

    def test_allowAndDeny(self) -> None:
        """An address in both lists is denied: deny wins."""
        policy = ZapPolicy.build(allow=["127.0.0.1"], deny=["127.0.0.1"])
        self.assertDenied(null(), policy, "address denied")

    def test_domains(self) -> None:
        """
        With C{domains}, requests for other ZAP domains are denied before
        anything else is looked at.
        """
        policy = ZapPolicy.build(
            domains=["inside"], allow=["10.9.9.9"], allowAnyCurve=True
        )
        self.assertDenied(null(domain=b"outside"), policy, "unknown domain 'outside'")
        self.assertDenied(null(domain=b""), policy, "unknown domain ''")
        self.assertDenied(null(domain=b"inside"), policy, "address not allowed")
        self.assertAllowed(null(domain=b"inside", address=b"10.9.9.9"), policy)

    def test_noDomains(self) -> None:
        """Without C{domains}, every domain is considered."""
        self.assertAllowed(null(domain=b"anything"), ZapPolicy.build())

    def test_everyCombination(self) -> None:
        """
        Every combination of address rule, NULL rule and mechanism rule
        gives the answer the precedence predicts.
        """
        addressRules: list[dict[str, Any]] = [
            {},
            {"allow": ["127.0.0.1"]},
            {"allow": ["10.9.9.9"]},
            {"deny": ["127.0.0.1"]},
            {"deny": ["10.9.9.9"]},
        ]
        mechanismRules: list[dict[str, Any]] = [
            {},
            {"allowNull": False},
            {"passwords": {"alice": "pw"}},
            {"curveKeys": [PUBLIC]},
            {"curveKeys": [OTHER_PUBLIC]},
            {"allowAnyCurve": True},
            {"passwords": {"alice": "pw"}, "curveKeys": [PUBLIC], "allowNull": False},
        ]
        requests = {
            "null": null(),
            "good plain": plain(b"alice", b"pw"),
            "bad plain": plain(b"alice", b"x"),
            "curve": curve(),
        }
        for addressRule in addressRules:
            for mechanismRule in mechanismRules:
                policy = ZapPolicy.build(**addressRule, **mechanismRule)
                for name, parsed in requests.items():
                    reply = decide(parsed, policy)
                    expected = self._predict(addressRule, mechanismRule, name)
                    got = None if reply is None else reply.statusCode
                    self.assertEqual(
                        got, expected, f"{addressRule} {mechanismRule} {name}: {reply}"
                    )

    @staticmethod
    def _predict(
        addressRule: dict[str, Any], mechanismRule: dict[str, Any], name: str
    ) -> int | None:
        if "10.9.9.9" in addressRule.get("allow", ["127.0.0.1"]):
            return 400
        if "127.0.0.1" in addressRule.get("deny", []):
            return 400
        if name == "null":
            return 200 if mechanismRule.get("allowNull", True) else 400
        if name.endswith("plain"):
            if "passwords" not in mechanismRule:
                return None
            return 200 if name == "good plain" else 400
        if mechanismRule.get("allowAnyCurve"):
            return 200
        if "curveKeys" not in mechanismRule:
            return None
        return 200 if PUBLIC in mechanismRule["curveKeys"] else 400


class RepliesTests(SynchronousTestCase):
    """L{allowed}, L{denied} and L{encodeReply} make RFC 27 replies."""

    def test_allowed(self) -> None:
        reply = allowed(null(requestId=b"7"), "alice")
        self.assertEqual(reply, ZapReply(b"7", 200, "OK", "alice"))
        self.assertTrue(reply.ok)
        self.assertEqual(allowed(null()).userId, "")

    def test_denied(self) -> None:
        reply = denied(null(requestId=b"8"), "go away")
        self.assertEqual(reply, ZapReply(b"8", 400, "go away", ""))
        self.assertFalse(reply.ok)

    def test_okOnlyFor200(self) -> None:
        """Only status 200 lets a peer in (300 and 500 do not)."""
        for code, ok in [(200, True), (300, False), (400, False), (500, False)]:
            self.assertEqual(ZapReply(b"", code, "").ok, ok)

    def test_encode(self) -> None:
        """
        A reply is six frames: version, request id, status code, status
        text, user id and (empty) metadata.
        """
        self.assertEqual(
            encodeReply(ZapReply(b"\x00id", 200, "OK", "alice")),
            [b"1.0", b"\x00id", b"200", b"OK", b"alice", b""],
        )
        self.assertEqual(
            encodeReply(ZapReply(b"x", 400, "unknown public key")),
            [b"1.0", b"x", b"400", b"unknown public key", b"", b""],
        )

    def test_encodeText(self) -> None:
        """Status text and user id are sent as UTF-8."""
        frames = encodeReply(ZapReply(b"x", 500, "d\u00e9j\u00e0", "\u00e9mile"))
        self.assertEqual(
            frames[3:5], ["d\u00e9j\u00e0".encode(), "\u00e9mile".encode()]
        )

    def test_roundTrip(self) -> None:
        """The decision for a parsed request encodes to its own id."""
        parsed = plain(b"alice", b"pw", requestId=b"\x00\xff")
        reply = decide(parsed, ZapPolicy.build(passwords={"alice": "pw"}))
        assert reply is not None
        self.assertEqual(encodeReply(reply)[:3], [b"1.0", b"\x00\xff", b"200"])


# ---------------------------------------------------------------------------
# ZapPolicy.build


class PolicyBuildTests(SynchronousTestCase):
    """L{ZapPolicy.build} checks the rules and freezes them."""

    def test_defaults(self) -> None:
        self.assertEqual(
            ZapPolicy.build(),
            ZapPolicy(frozenset(), frozenset(), True, None, None, False, None),
        )

    def test_frozen(self) -> None:
        """The lists become frozensets; the policy itself is immutable."""
        passwords = {"alice": "pw"}
        policy = ZapPolicy.build(
            allow=["1.2.3.4", "1.2.3.4"],
            deny=("5.6.7.8",),
            passwords=passwords,
            curveKeys=[PUBLIC],
            domains=["a"],
        )
        self.assertEqual(policy.allow, frozenset({"1.2.3.4"}))
        self.assertEqual(policy.deny, frozenset({"5.6.7.8"}))
        self.assertEqual(policy.curveKeys, frozenset({PUBLIC}))
        self.assertEqual(policy.domains, frozenset({"a"}))
        passwords["alice"] = "changed"
        self.assertEqual(policy.passwords, {"alice": "pw"})
        self.assertRaises(AttributeError, setattr, policy, "allowNull", False)

    def test_addressesNotAString(self) -> None:
        """
        C{allow} and C{deny} take lists: a bare string (a classic mistake
        that would allow its characters) is refused.
        """
        for name in ("allow", "deny"):
            for value in ("127.0.0.1", b"127.0.0.1"):
                error = self.assertRaises(TypeError, ZapPolicy.build, **{name: value})
                self.assertIn(f"{name} must be a list of IP addresses", str(error))

    def test_domainsNotAString(self) -> None:
        """
        C{domains} takes a list too: C{domains="global"} must not become
        the set of its letters (which denies every request, silently).
        """
        error = self.assertRaises(TypeError, ZapPolicy.build, domains="global")
        self.assertIn("domains", str(error))

    def test_domainsAreText(self) -> None:
        """
        Domains are compared with the request's decoded domain: bytes
        domains (as C{zapDomain=b"..."} is given on a connection) must be
        accepted as their text or refused, not silently never match.
        """
        try:
            policy = ZapPolicy.build(domains=[b"inside"])  # type: ignore[list-item]
        except TypeError:
            return
        reply = decide(null(domain=b"inside"), policy)
        assert reply is not None
        self.assertTrue(reply.ok, reply)

    def test_passwordsChecked(self) -> None:
        """C{passwords} maps str to str."""
        for bad in (
            [("alice", "pw")],
            {"alice": b"pw"},
            {b"alice": "pw"},
            {"alice": None},
            "alice:pw",
        ):
            error = self.assertRaises(TypeError, ZapPolicy.build, passwords=bad)
            self.assertIn(
                "passwords must map user names (str) to passwords", str(error)
            )

    def test_curveKeysChecked(self) -> None:
        """
        C{curveKeys} are checked like any CURVE key; raw 32-byte keys and
        str keys are stored as Z85 bytes, so they match requests.
        """
        keys: list[Any] = [RAW_PUBLIC, OTHER_PUBLIC.decode()]
        policy = ZapPolicy.build(curveKeys=keys)
        self.assertEqual(policy.curveKeys, frozenset({PUBLIC, OTHER_PUBLIC}))
        self.assertEqual(
            decide(curve(PUBLIC), policy), allowed(curve(), PUBLIC.decode())
        )
        error = self.assertRaises(ValueError, ZapPolicy.build, curveKeys=[PUBLIC[:-1]])
        self.assertIn("curve key must be 40 characters of Z85", str(error))
        self.assertRaises(TypeError, ZapPolicy.build, curveKeys=[None])

    def test_curveKeysNotOneKey(self) -> None:
        """A single key instead of a list of keys is refused, not iterated."""
        self.assertRaises((TypeError, ValueError), ZapPolicy.build, curveKeys=PUBLIC)
        self.assertRaises(
            (TypeError, ValueError), ZapPolicy.build, curveKeys=PUBLIC.decode()
        )

    def test_flagsAreBooleans(self) -> None:
        policy = ZapPolicy.build(allowNull=0, allowAnyCurve=1)  # type: ignore[arg-type]
        self.assertIs(policy.allowNull, False)
        self.assertIs(policy.allowAnyCurve, True)

    def test_reexported(self) -> None:
        """The public names of L{txzmq.security} are the ones of L{_zap}."""
        self.assertIs(ZapPolicy, _zap.ZapPolicy)
        self.assertIs(ZapRequest, _zap.ZapRequest)


# ---------------------------------------------------------------------------
# checkCurveKey and the mechanisms


class CheckCurveKeyTests(SynchronousTestCase):
    """
    L{checkCurveKey} accepts a CURVE key in the forms libzmq does and
    refuses anything else with a message naming the argument.
    """

    def test_z85Bytes(self) -> None:
        self.assertEqual(checkCurveKey("k", PUBLIC), PUBLIC)

    def test_z85Text(self) -> None:
        self.assertEqual(checkCurveKey("k", PUBLIC.decode()), PUBLIC)

    def test_rawBytes(self) -> None:
        """32 raw bytes are encoded as Z85."""
        self.assertEqual(checkCurveKey("k", RAW_PUBLIC), PUBLIC)
        self.assertEqual(
            checkCurveKey("k", b"\x00" * 32), zmq.utils.z85.encode(b"\x00" * 32)
        )

    def test_everyZ85Character(self) -> None:
        """Each of the 85 characters is accepted."""
        alphabet = (
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            ".-:+=^!/*?&<>()[]{}@%$#"
        )
        self.assertEqual(len(alphabet), 85)
        for start in range(0, 85, 40):
            key = (alphabet * 2)[start : start + 40]
            self.assertEqual(checkCurveKey("k", key), key.encode())

    def test_wrongLength(self) -> None:
        """A key of the wrong length says how long it was and what to use."""
        for key in (PUBLIC[:-1], PUBLIC + b"x", b"", "short", RAW_PUBLIC[:31]):
            error = self.assertRaises(ValueError, checkCurveKey, "serverKey", key)
            message = str(error)
            self.assertIn(
                "serverKey must be 40 characters of Z85 (or 32 raw bytes)", message
            )
            self.assertIn(f"got {len(key)}", message)
            self.assertIn("generateKeypair()", message)

    def test_notZ85(self) -> None:
        """Forty characters outside the Z85 alphabet are refused."""
        for key in (
            b" " * 40,
            PUBLIC[:-1] + b'"',
            PUBLIC[:-1] + b",",
            PUBLIC[:-1] + b"\\",
            PUBLIC[:-1] + b"~",
            PUBLIC[:-1] + b"\x00",
            PUBLIC[:-1] + b"\xff",
        ):
            error = self.assertRaises(ValueError, checkCurveKey, "publicKey", key)
            self.assertIn("publicKey is not Z85", str(error))

    def test_hexIsNotZ85(self) -> None:
        """A 64-character hex key (another common format) is refused."""
        error = self.assertRaises(ValueError, checkCurveKey, "k", RAW_PUBLIC.hex())
        self.assertIn("got 64", str(error))

    def test_nonAsciiText(self) -> None:
        error = self.assertRaises(ValueError, checkCurveKey, "secretKey", "\u00e9" * 40)
        self.assertIn(
            "secretKey must be Z85 text; it has non-ASCII characters", str(error)
        )

    def test_notBytes(self) -> None:
        """Only bytes and str are keys."""
        for key in (None, 42, bytearray(PUBLIC), memoryview(PUBLIC), [PUBLIC]):
            error = self.assertRaises(TypeError, checkCurveKey, "secretKey", key)
            self.assertIn("secretKey must be a Z85 key (bytes or str), not", str(error))
            self.assertIn(type(key).__name__, str(error))


class MechanismTests(SynchronousTestCase):
    """
    The mechanism classes check their arguments when they are made (the
    call site) and set the socket options libzmq needs.
    """

    def setUp(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.addCleanup(self.context.term)

    def socket(self) -> zmq.Socket[Any]:
        sock = self.context.socket(zmq.DEALER)
        sock.set(zmq.LINGER, 0)
        self.addCleanup(sock.close)
        return sock

    def test_curveServer(self) -> None:
        server = CurveServer(SECRET.decode())
        self.assertEqual(server.secretKey, SECRET)
        self.assertEqual(server.mechanism, "CURVE")
        self.assertIsInstance(server, Security)
        sock = self.socket()
        server.apply(sock)
        self.assertEqual(sock.get(zmq.MECHANISM), zmq.CURVE)
        self.assertEqual(sock.get(zmq.CURVE_SERVER), 1)

    def test_curveServerRawKey(self) -> None:
        self.assertEqual(CurveServer(zmq.utils.z85.decode(SECRET)).secretKey, SECRET)

    def test_curveServerBadKey(self) -> None:
        """The error names the argument."""
        error = self.assertRaises(ValueError, CurveServer, SECRET[:20])
        self.assertIn("secretKey must be 40 characters", str(error))
        error2 = self.assertRaises(TypeError, CurveServer, None)
        self.assertIn("secretKey must be a Z85 key", str(error2))

    def test_curveClient(self) -> None:
        client = CurveClient(PUBLIC, OTHER_PUBLIC.decode(), OTHER_SECRET)
        self.assertEqual(
            (client.serverKey, client.publicKey, client.secretKey),
            (PUBLIC, OTHER_PUBLIC, OTHER_SECRET),
        )
        self.assertEqual(client.mechanism, "CURVE")
        sock = self.socket()
        client.apply(sock)
        self.assertEqual(sock.get(zmq.MECHANISM), zmq.CURVE)
        self.assertEqual(sock.get(zmq.CURVE_SERVER), 0)

    def test_curveClientBadKeys(self) -> None:
        """Each key is checked, and the error says which one is wrong."""
        good = [PUBLIC, OTHER_PUBLIC, OTHER_SECRET]
        for index, name in enumerate(["serverKey", "publicKey", "secretKey"]):
            keys: list[Any] = list(good)
            keys[index] = b"x" * 39
            error = self.assertRaises(ValueError, CurveClient, *keys)
            self.assertIn(f"{name} must be 40 characters", str(error))
            keys[index] = "~" * 40
            error = self.assertRaises(ValueError, CurveClient, *keys)
            self.assertIn(f"{name} is not Z85", str(error))
            keys[index] = 0
            error3 = self.assertRaises(TypeError, CurveClient, *keys)
            self.assertIn(f"{name} must be a Z85 key", str(error3))

    def test_plainServer(self) -> None:
        server = PlainServer()
        self.assertEqual(server.mechanism, "PLAIN")
        self.assertEqual(repr(server), "PlainServer()")
        sock = self.socket()
        server.apply(sock)
        self.assertEqual(sock.get(zmq.MECHANISM), zmq.PLAIN)
        self.assertEqual(sock.get(zmq.PLAIN_SERVER), 1)

    def test_plainClient(self) -> None:
        client = PlainClient("\u00e9mile", b"pw")
        self.assertEqual(
            (client.username, client.password), ("\u00e9mile".encode(), b"pw")
        )
        self.assertEqual(client.mechanism, "PLAIN")
        sock = self.socket()
        client.apply(sock)
        self.assertEqual(sock.get(zmq.MECHANISM), zmq.PLAIN)
        self.assertEqual(sock.get(zmq.PLAIN_SERVER), 0)
        self.assertEqual(sock.get(zmq.PLAIN_USERNAME), "\u00e9mile".encode())

    def test_plainClientHidesPassword(self) -> None:
        """The repr shows the user name, never the password."""
        text = repr(PlainClient("alice", "hunter2"))
        self.assertIn("alice", text)
        self.assertNotIn("hunter2", text)

    def test_plainClientBadArguments(self) -> None:
        for name, args in [
            ("username", ("", "pw")),
            ("username", ("x" * 256, "pw")),
            ("password", ("alice", b"")),
            ("password", ("alice", b"x" * 256)),
        ]:
            error = self.assertRaises(ValueError, PlainClient, *args)
            self.assertEqual(str(error), f"{name} must be 1 to 255 bytes long")
        PlainClient("x" * 255, b"y" * 255)
        for name, args2 in [("username", (None, "pw")), ("password", ("alice", 1234))]:
            error2 = self.assertRaises(TypeError, PlainClient, *args2)
            self.assertIn(f"{name} must be str or bytes", str(error2))

    def test_plainClientMultibyteLength(self) -> None:
        """The length limit is on the UTF-8 bytes, as sent."""
        self.assertRaises(ValueError, PlainClient, "\u00e9" * 128, "pw")

    def test_baseApply(self) -> None:
        self.assertRaises(NotImplementedError, Security().apply, self.socket())

    def test_checkSecurity(self) -> None:
        """The C{security} setting takes None or a mechanism."""
        self.assertIsNone(checkSecurity("security", None))
        server = PlainServer()
        self.assertIs(checkSecurity("security", server), server)
        for bad in ("CURVE", SECRET, PlainServer, {"secretKey": SECRET}):
            error = self.assertRaises(TypeError, checkSecurity, "security", bad)
            self.assertIn(
                "security must be None or a txzmq.security mechanism", str(error)
            )


# ---------------------------------------------------------------------------
# Keys and certificates


class KeyToolTests(SynchronousTestCase):
    """Keypairs and pyzmq certificate files, as functions."""

    def test_generateKeypair(self) -> None:
        """A keypair is two Z85 keys; the public one matches the secret one."""
        public, secret = generateKeypair()
        self.assertEqual(checkCurveKey("public", public), public)
        self.assertEqual(checkCurveKey("secret", secret), secret)
        self.assertEqual(zmq.curve_public(secret), public)
        self.assertNotEqual(generateKeypair(), (public, secret))

    def test_createCertificates(self) -> None:
        """
        Two files, in a directory created if needed: the public one loads
        with no secret key, the secret one with both.
        """
        directory = os.path.join(self.mktemp(), "nested", "certs")
        publicFile, secretFile = createCertificates(directory, "alice")
        self.assertEqual(publicFile, os.path.join(directory, "alice.key"))
        self.assertEqual(secretFile, os.path.join(directory, "alice.key_secret"))
        public, none = loadCertificate(publicFile)
        self.assertIsNone(none)
        public2, secret = loadCertificate(secretFile)
        self.assertEqual(public, public2)
        assert secret is not None
        self.assertEqual(zmq.curve_public(secret), public)
        self.assertEqual(checkCurveKey("k", public), public)

    def test_metadata(self) -> None:
        """Metadata goes into the secret certificate file (as pyzmq does)."""
        directory = self.mktemp()
        _, secretFile = createCertificates(
            directory, "bob", {"email": "bob@example.com"}
        )
        with open(secretFile) as f:
            self.assertIn("email = bob@example.com", f.read())

    def test_existingDirectory(self) -> None:
        """More certificates can go into an existing directory."""
        directory = self.mktemp()
        createCertificates(directory, "a")
        createCertificates(directory, "b")
        self.assertEqual(
            sorted(os.listdir(directory)),
            ["a.key", "a.key_secret", "b.key", "b.key_secret"],
        )

    def test_loadPublicKeys(self) -> None:
        """
        Every certificate's public key; secret files add nothing, other
        files are ignored.
        """
        directory = self.mktemp()
        alice, _ = createCertificates(directory, "alice")
        bob, _ = createCertificates(directory, "bob")
        with open(os.path.join(directory, "README"), "w") as f:
            f.write("not a certificate")
        keys = loadPublicKeys(directory)
        self.assertIsInstance(keys, frozenset)
        self.assertEqual(keys, {loadCertificate(alice)[0], loadCertificate(bob)[0]})

    def test_loadPublicKeysEmpty(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        self.assertEqual(loadPublicKeys(directory), frozenset())

    def test_loadPublicKeysMissing(self) -> None:
        """A missing directory is an error, not an empty allow list."""
        missing = self.mktemp()
        error = self.assertRaises(ValueError, loadPublicKeys, missing)
        self.assertIn("no certificate directory at", str(error))
        self.assertIn(repr(missing), str(error))

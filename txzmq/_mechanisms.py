"""
Security mechanisms for connections, and CURVE key tooling.

Public through L{txzmq.security}; here so that connections can check a
C{security} setting without importing the authenticator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import zmq
import zmq.auth

__all__ = [
    "CurveClient",
    "CurveServer",
    "PlainClient",
    "PlainServer",
    "Security",
    "checkCurveKey",
    "checkSecurity",
    "createCertificates",
    "generateKeypair",
    "loadCertificate",
    "loadPublicKeys",
]

_Z85 = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)


def checkCurveKey(name: str, key: object) -> bytes:
    """
    Return a CURVE key as 40 bytes of Z85 text.

    Accepts Z85 text (C{bytes} or C{str}, 40 characters) or the raw
    32-byte key.

    @raise TypeError: for something that is not bytes or text.
    @raise ValueError: for a key of the wrong length or with characters
        outside Z85.
    """
    if isinstance(key, str):
        try:
            key = key.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(
                f"{name} must be Z85 text; it has non-ASCII characters"
            ) from None
    if not isinstance(key, bytes):
        raise TypeError(
            f"{name} must be a Z85 key (bytes or str), not {type(key).__name__}"
        )
    if len(key) == 32:
        return zmq.utils.z85.encode(key)
    if len(key) != 40:
        raise ValueError(
            f"{name} must be 40 characters of Z85 (or 32 raw bytes), got "
            f"{len(key)}; generate keys with txzmq.security.generateKeypair()"
        )
    if not set(key) <= _Z85:
        raise ValueError(
            f"{name} is not Z85: it has characters outside the Z85 alphabet"
        )
    return key


def _checkText(name: str, value: object) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")
    if not 0 < len(value) < 256:
        raise ValueError(f"{name} must be 1 to 255 bytes long")
    return value


class Security:
    """A security mechanism for a connection's socket."""

    mechanism: ClassVar[str]

    def apply(self, socket: zmq.Socket[Any]) -> None:
        """Set the socket's options (before it binds or connects)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CurveServer(Security):
    """
    Accept CURVE clients: the server's own secret key (the clients need
    its public key).
    """

    mechanism = "CURVE"

    def __init__(self, secretKey: bytes | str) -> None:
        self.secretKey = checkCurveKey("secretKey", secretKey)

    def apply(self, socket: zmq.Socket[Any]) -> None:
        socket.set(zmq.CURVE_SERVER, 1)
        socket.set(zmq.CURVE_SECRETKEY, self.secretKey)


class CurveClient(Security):
    """
    Connect with CURVE: the server's public key and this client's own
    keypair.
    """

    mechanism = "CURVE"

    def __init__(
        self, serverKey: bytes | str, publicKey: bytes | str, secretKey: bytes | str
    ) -> None:
        self.serverKey = checkCurveKey("serverKey", serverKey)
        self.publicKey = checkCurveKey("publicKey", publicKey)
        self.secretKey = checkCurveKey("secretKey", secretKey)

    def apply(self, socket: zmq.Socket[Any]) -> None:
        socket.set(zmq.CURVE_SERVERKEY, self.serverKey)
        socket.set(zmq.CURVE_PUBLICKEY, self.publicKey)
        socket.set(zmq.CURVE_SECRETKEY, self.secretKey)


class PlainServer(Security):
    """
    Accept PLAIN clients (user name and password, in the clear: use it on
    trusted networks or ipc only).  The authenticator checks passwords.
    """

    mechanism = "PLAIN"

    def apply(self, socket: zmq.Socket[Any]) -> None:
        socket.set(zmq.PLAIN_SERVER, 1)


class PlainClient(Security):
    """Connect with PLAIN: a user name and a password."""

    mechanism = "PLAIN"

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self.username = _checkText("username", username)
        self.password = _checkText("password", password)

    def apply(self, socket: zmq.Socket[Any]) -> None:
        socket.set(zmq.PLAIN_USERNAME, self.username)
        socket.set(zmq.PLAIN_PASSWORD, self.password)

    def __repr__(self) -> str:
        return f"PlainClient({self.username!r}, <password>)"


def checkSecurity(name: str, value: object) -> Security | None:
    """Accept None or a L{Security} mechanism."""
    if value is None or isinstance(value, Security):
        return value
    raise TypeError(
        f"{name} must be None or a txzmq.security mechanism (CurveServer, "
        f"CurveClient, PlainServer, PlainClient), not {type(value).__name__}"
    )


# Keys and certificates


def generateKeypair() -> tuple[bytes, bytes]:
    """A new CURVE keypair: C{(publicKey, secretKey)}, Z85 text."""
    return zmq.curve_keypair()


def createCertificates(
    directory: str | os.PathLike[str],
    name: str,
    metadata: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """
    Write a new keypair as pyzmq certificate files C{name.key} (public)
    and C{name.key_secret} (secret) in C{directory}, created if needed.

    @return: the paths of the public and the secret file.
    """
    os.makedirs(directory, exist_ok=True)
    return zmq.auth.create_certificates(directory, name, dict(metadata or {}))


def loadCertificate(path: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    """
    Read a certificate file: C{(publicKey, secretKey)}; the secret key is
    None for a public certificate.
    """
    return zmq.auth.load_certificate(path)


def loadPublicKeys(directory: str | os.PathLike[str]) -> frozenset[bytes]:
    """The public keys of every certificate in C{directory}."""
    if not os.path.isdir(directory):
        raise ValueError(f"no certificate directory at {os.fspath(directory)!r}")
    return frozenset(zmq.auth.load_certificates(directory))

"""
Publish/subscribe: PUB, SUB, XPUB and XSUB connections.

Messages travel in txZMQ's wire format: one frame, C{tag + topicSep +
message}, with C{topicSep} a NUL byte by default.  Subscriptions are
prefixes of that frame, so subscribing to C{b"news"} also matches the tag
C{b"newsletter"}.

A PUB socket drops messages for a subscriber whose queue is at the
high-water mark, and drops everything while no subscriber is connected:
that is ZeroMQ's design, not an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import zmq
from twisted.internet.defer import Deferred, succeed

from txzmq._framing import (
    MalformedMessage,
    asBytes,
    checkFrame,
    decodeSubscription,
    decodeTopic,
    encodeSubscription,
    encodeText,
    encodeTopic,
    subscriptionMatches,
)
from txzmq._options import (
    SOCKET_OPTIONS,
    SocketOption,
    Validator,
    boolean,
    nonEmptyBytes,
)
from txzmq._waiters import Waiters
from txzmq.connection import ZmqConnection
from txzmq.errors import ZmqConnectionClosedError

__all__ = [
    "ZmqPubConnection",
    "ZmqSubConnection",
    "ZmqXPubConnection",
    "ZmqXSubConnection",
]

_TOPIC_SETTINGS: Mapping[str, Validator] = {
    **ZmqConnection._extraSettings,
    "topicSep": nonEmptyBytes,
}


class ZmqPubConnection(ZmqConnection):
    """
    Publish messages, each with a topic tag, to every subscriber.

    @ivar topicSep: the bytes between tag and message (default C{b"\\0"});
        a setting, like the socket options: change it with
        C{setSocketOptions}, not by assigning the attribute.
    """

    socketType: ClassVar[int | None] = zmq.PUB
    topicSep: bytes = b"\0"
    _extraSettings: ClassVar[Mapping[str, Validator]] = _TOPIC_SETTINGS
    _canReceive: ClassVar[bool] = False

    _MAX_PREFIXES: ClassVar[int] = 1024
    """How many checked tags L{publish} remembers (then it starts over)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # bytes tag -> tag + topicSep, for tags already checked: checking
        # a tag for the separator costs as much as the rest of publish().
        self._topicPrefixes: dict[bytes, bytes] = {}
        super().__init__(*args, **kwargs)

    def setSocketOptions(self, **settings: Any) -> None:
        super().setSocketOptions(**settings)
        self._topicPrefixes.clear()  # topicSep may have changed

    def publish(self, message: Any, tag: bytes | str = b"") -> None:
        """
        Publish C{message} under C{tag}.

        Text (C{str}) is encoded as UTF-8, as txZMQ 1.0 accepted it; with
        a C{codec}, C{message} is any value it encodes.  Subscribers whose
        subscription is a prefix of C{tag} receive it.

        @raise ValueError: when C{tag} contains C{topicSep}.
        @raise ZmqWouldBlockError: never for PUB in practice: a PUB socket
            drops messages for slow subscribers instead.
        """
        prefix = self._topicPrefixes.get(tag)  # type: ignore[arg-type]
        if prefix is not None and type(message) is bytes and self.codec is None:
            self.send(prefix + message)
        else:
            self.send(self._topicFrame(message, tag))

    def publishDeferred(self, message: Any, tag: bytes | str = b"") -> Deferred[None]:
        """
        Publish like L{publish}, through the outgoing queue: see
        C{sendDeferred}.  A PUB socket never blocks (it drops messages for
        subscribers at their high-water mark), so this matters for XPUB
        sockets with C{ZMQ_XPUB_NODROP} set.
        """
        return self.sendDeferred(self._topicFrame(message, tag))

    def _topicFrame(self, message: Any, tag: bytes | str) -> bytes:
        tagBytes = tag if type(tag) is bytes else encodeText(tag, "tag")
        separator = self.topicSep
        if tagBytes and separator in tagBytes:
            raise ValueError(
                f"tag {tagBytes!r} contains the topic separator {separator!r}; "
                "subscribers would split the message at the wrong place"
            )
        if type(tag) is bytes:
            prefixes = self._topicPrefixes
            if len(prefixes) >= self._MAX_PREFIXES:
                prefixes.clear()
            prefixes[tag] = tag + separator
        codec = self.codec
        if codec is not None:
            body = codec.encode(message)
        elif type(message) is bytes:
            body = message
        else:
            body = encodeText(message, "message")
        return encodeTopic(body, tagBytes, separator)


class _TopicReceiver(ZmqConnection):
    """
    Decode received messages into C{gotMessage(message, tag)}.
    """

    topicSep: bytes = b"\0"
    _extraSettings: ClassVar[Mapping[str, Validator]] = _TOPIC_SETTINGS

    def messageReceived(self, message: list[bytes]) -> None:
        """Split the topic off and call L{gotMessage}."""
        try:
            body, tag = decodeTopic(message, self.topicSep)
        except MalformedMessage as e:
            self._log.warn(
                "Dropping a malformed published message on {connection!r}: {reason}",
                connection=self,
                reason=str(e),
            )
            return
        if self.codec is None:
            self.gotMessage(body, tag)
            return
        values = self._decodeParts([body])
        if values is not None:
            self.gotMessage(values[0], tag)

    def gotMessage(self, message: Any, tag: bytes) -> None:
        """
        Called with each message received (with a C{codec}: its decoded
        value) and the tag it was published with.  Override it; if you
        don't, C{(message, tag)} pairs are kept for C{receive()}.
        """
        self._keep((message, tag))


class ZmqSubConnection(_TopicReceiver):
    """
    Receive published messages whose tag starts with a subscribed prefix.

    Subclass it and override L{gotMessage}; call L{subscribe} for each
    prefix (C{b""} receives everything).
    """

    socketType: ClassVar[int | None] = zmq.SUB

    def subscribe(self, tag: bytes) -> None:
        """Receive messages whose tag starts with C{tag}."""
        self._setSubscription(zmq.SUBSCRIBE, tag)

    def unsubscribe(self, tag: bytes) -> None:
        """Undo one earlier L{subscribe} of the same C{tag}."""
        self._setSubscription(zmq.UNSUBSCRIBE, tag)

    def _setSubscription(self, option: int, tag: bytes) -> None:
        self._checkOpen()
        self.socket.set(option, asBytes(checkFrame(tag, "tag")))
        # Changing a subscription touches the socket like a send does.
        self._schedulePass()


class ZmqXSubConnection(_TopicReceiver):
    """
    An XSUB connection: a subscriber whose subscriptions are messages it
    sends upstream, as a forwarder needs.

    L{subscribe} and L{unsubscribe} send those messages; received
    messages arrive at L{gotMessage} like on L{ZmqSubConnection}.
    """

    socketType: ClassVar[int | None] = zmq.XSUB

    def subscribe(self, tag: bytes) -> None:
        """Send a subscription to C{tag} to the publishers."""
        self.send(encodeSubscription(asBytes(checkFrame(tag, "tag")), True))

    def unsubscribe(self, tag: bytes) -> None:
        """Send an unsubscription from C{tag} to the publishers."""
        self.send(encodeSubscription(asBytes(checkFrame(tag, "tag")), False))


class ZmqXPubConnection(ZmqPubConnection):
    """
    A publisher that sees its subscribers' subscriptions.

    Each subscription and unsubscription that reaches the socket is
    passed to L{gotSubscription}.  libzmq passes on only the first
    subscription to a tag and the last unsubscription from it, unless
    C{verboseSubscriptions} is set (C{ZMQ_XPUB_VERBOSE}).

    Use one instead of a L{ZmqPubConnection} to avoid the "slow joiner"
    loss: L{whenSubscribed} fires once a subscriber's subscription has
    reached the socket, so a message published then reaches it.
    """

    socketType: ClassVar[int | None] = zmq.XPUB
    verboseSubscriptions: bool = False
    _socketOptions: ClassVar[Mapping[str, SocketOption]] = {
        **SOCKET_OPTIONS,
        "verboseSubscriptions": SocketOption(
            (zmq.XPUB_VERBOSE,), boolean, False, False
        ),
    }
    _canReceive: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._subscriptions: set[bytes] = set()
        self._subscribedWaiters: Waiters[bytes, bytes] = Waiters()
        """Keyed by the tag they wait for."""
        super().__init__(*args, **kwargs)

    @property
    def activeSubscriptions(self) -> frozenset[bytes]:
        """The subscription prefixes some subscriber holds."""
        return frozenset(self._subscriptions)

    def whenSubscribed(
        self, tag: bytes | str = b"", timeout: float | None = None
    ) -> Deferred[bytes]:
        """
        A Deferred that fires once a subscriber would receive a message
        published under C{tag}: at once if one would, else when its
        subscription arrives.  It fires with the matching subscription.

        @param timeout: seconds before it fails with
            C{twisted.internet.defer.TimeoutError}.
        """
        self._checkOpen()
        tagBytes = encodeText(tag, "tag")
        for subscription in self._subscriptions:
            if subscriptionMatches(subscription, tagBytes, self.topicSep):
                return succeed(subscription)
        return self._withTimeout(self._subscribedWaiters.wait(tagBytes), timeout)

    def messageReceived(self, message: list[bytes]) -> None:
        """Decode a subscription message and call L{gotSubscription}."""
        try:
            tag, subscribed = decodeSubscription(message)
        except MalformedMessage as e:
            self._log.warn(
                "Dropping a malformed subscription on {connection!r}: {reason}",
                connection=self,
                reason=str(e),
            )
            return
        # libzmq passes on the first subscription to a tag and the last
        # unsubscription from it (verbose mode: every subscription, still
        # only the last unsubscription), so a set is exact in both modes.
        if subscribed:
            self._subscriptions.add(tag)
        else:
            self._subscriptions.discard(tag)
        self.gotSubscription(tag, subscribed)
        if subscribed and self._subscribedWaiters:
            separator = self.topicSep
            for d in self._subscribedWaiters.take(
                lambda wanted: subscriptionMatches(tag, wanted, separator)
            ):
                d.callback(tag)

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        """
        Called when a subscriber subscribes to (C{subscribed} true) or
        unsubscribes from C{tag}.  Override it; if you don't, the
        C{(tag, subscribed)} pairs are kept for C{receive()} (the oldest
        are dropped past C{receiveBufferSize}: reading subscriptions never
        pauses, so L{whenSubscribed} always works).
        """
        buffer = self._buffer
        if buffer.full:
            buffer.dropOldest()
        buffer.put((tag, subscribed))

    def shutdown(self) -> None:
        """Shut down; L{whenSubscribed} Deferreds fail."""
        if self.closed:
            return
        super().shutdown()
        self._subscribedWaiters.fail(
            lambda: ZmqConnectionClosedError(
                "the connection was shut down before a subscription came"
            )
        )

"""
The factory: one ZeroMQ context and the reactor its connections use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq
from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from txzmq.errors import ZmqConnectionClosedError

if TYPE_CHECKING:
    from txzmq.connection import ZmqConnection

_log = Logger()

__all__ = ["ZmqFactory"]


class ZmqFactory:
    """
    I own a ZeroMQ context and the connections made with it.

    @ivar reactor: the reactor every connection of this factory uses.  It
        is the one given to the constructor; without one, the global
        reactor, looked up when first needed (so that txZMQ 1.0 code that
        assigns C{factory.reactor} keeps working).
    @ivar ioThreads: number of libzmq I/O threads of the context.
    @ivar lingerPeriod: default milliseconds a closed socket keeps trying
        to deliver unsent messages; L{shutdown} blocks at most this long.
    @ivar connections: the connections not yet shut down.
    @ivar context: the C{zmq.Context}.
    """

    ioThreads: int = 1
    lingerPeriod: int = 100
    trigger: Any = None

    def __init__(
        self,
        reactor: Any = None,
        *,
        ioThreads: int | None = None,
        lingerPeriod: int | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        """
        @param reactor: the reactor to use (default: the global one).
        @param ioThreads: overrides the class attribute.
        @param lingerPeriod: overrides the class attribute (milliseconds,
            >= 0).
        @param context: an existing C{zmq.Context} to share (for inproc
            with other pyzmq code); the factory then does not terminate
            it.
        """
        if ioThreads is not None:
            if isinstance(ioThreads, bool) or not isinstance(ioThreads, int):
                raise TypeError(
                    f"ioThreads must be an int, not {type(ioThreads).__name__}"
                )
            if ioThreads < 0:
                raise ValueError(f"ioThreads must be >= 0, got {ioThreads}")
            self.ioThreads = ioThreads
        if lingerPeriod is not None:
            if isinstance(lingerPeriod, bool) or not isinstance(lingerPeriod, int):
                raise TypeError(
                    f"lingerPeriod must be an int, not {type(lingerPeriod).__name__}"
                )
            if lingerPeriod < 0:
                raise ValueError(
                    "lingerPeriod must be >= 0 (an infinite linger could block "
                    f"the reactor at shutdown), got {lingerPeriod}"
                )
            self.lingerPeriod = lingerPeriod
        if context is not None and not isinstance(context, zmq.Context):
            raise TypeError(
                f"context must be a zmq.Context, not {type(context).__name__}"
            )
        self._reactor = reactor
        self._ownsContext = context is None
        self.context: zmq.Context[Any] = (
            self._newContext() if context is None else context
        )
        self.connections: set[ZmqConnection] = set()
        self._closers: list[Callable[[], None]] = []
        self._shutDown = False
        self._registered = False
        self._passDepth = 0
        """How many read passes of this factory's connections are running."""
        self._afterPasses: dict[ZmqConnection, None] = {}
        """
        Connections that sent during another connection's pass and must
        read C{EVENTS} when the outermost pass ends (an ordered set).
        """

    def _endOfPasses(self) -> None:
        """
        The outermost read pass ended: let the connections that sent
        during it read C{EVENTS} once each, before the reactor polls again.
        """
        while self._afterPasses:
            waiting, self._afterPasses = self._afterPasses, {}
            for connection in waiting:
                try:
                    connection._checkEvents()
                except zmq.ZMQError as e:
                    _log.error(
                        "Reading the events of {connection!r} failed ({error})",
                        connection=connection,
                        error=e,
                    )

    def _newContext(self) -> zmq.Context[Any]:
        return zmq.Context(self.ioThreads)

    @property
    def reactor(self) -> Any:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    @reactor.setter
    def reactor(self, reactor: Any) -> None:
        self._reactor = reactor

    def __repr__(self) -> str:
        return "ZmqFactory()"

    @property
    def closed(self) -> bool:
        """True once L{shutdown} has been called."""
        return self._shutDown

    def _checkOpen(self) -> None:
        if self._shutDown:
            raise ZmqConnectionClosedError(
                "this ZmqFactory has been shut down; create a new one"
            )

    def shutdown(self) -> None:
        """
        Shut down every connection and terminate the context.

        Sockets are closed with a finite linger, so terminating the
        context blocks for at most the longest linger period (the
        factory's C{lingerPeriod} unless a connection set its own).
        Calling it again does nothing.
        """
        if self._shutDown:
            return
        self._shutDown = True
        closers, self._closers = self._closers, []
        for closer in closers:
            closer()
        for connection in list(self.connections):
            connection.shutdown()
        self.connections.clear()
        if self._ownsContext:
            self.context.term()
        if self._registered:
            self._registered = False
            trigger, self.trigger = self.trigger, None
            self.reactor.removeSystemEventTrigger(trigger)

    def _addCloser(self, closer: Callable[[], None]) -> None:
        """
        Call C{closer} at L{shutdown}, before the connections are closed
        (for sockets the factory does not know, such as a device's).
        """
        self._checkOpen()
        self._closers.append(closer)

    def _removeCloser(self, closer: Callable[[], None]) -> None:
        if closer in self._closers:
            self._closers.remove(closer)

    def terminate(self) -> Deferred[None]:
        """
        Shut down like L{shutdown}, but terminate the context in a thread
        of the reactor's pool, so that the reactor never waits for the
        linger of unsent messages.

        @return: a Deferred firing once the context is terminated.
        """
        if self._shutDown:
            return succeed(None)
        owns, self._ownsContext = self._ownsContext, False
        self.shutdown()
        if not owns:
            return succeed(None)
        reactor = self.reactor
        return deferToThreadPool(reactor, reactor.getThreadPool(), self.context.term)

    def _shutdownFromReactor(self) -> None:
        # The trigger is firing: it must not be removed again.
        self._registered = False
        self.trigger = None
        self.shutdown()

    def registerForShutdown(self) -> None:
        """
        Shut this factory down automatically when the reactor stops.

        Calling it more than once registers once.
        """
        if not self._registered and not self._shutDown:
            self._registered = True
            self.trigger = self.reactor.addSystemEventTrigger(
                "during", "shutdown", self._shutdownFromReactor
            )

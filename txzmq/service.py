"""
Twisted application services: a factory and its connections in an
C{Application}.

L{ZmqService} owns a L{ZmqFactory}; put L{ConnectionService}s, devices
(L{txzmq.devices}) and a L{txzmq.security.ZapAuthenticator} under it.
Stopping it stops them, then terminates the context in a thread so the
reactor never blocks on the linger of unsent messages::

    application = Application("relay")
    zmq = ZmqService()
    zmq.setServiceParent(application)
    ConnectionService(zmq.factory, Relay, "bind:tcp://*:5555").setServiceParent(zmq)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, succeed

from txzmq.connection import ZmqConnection
from txzmq.endpoints import ZmqEndpoint, checkEndpoint
from txzmq.factory import ZmqFactory

__all__ = ["ConnectionService", "ZmqService"]

_C = TypeVar("_C", bound=ZmqConnection)


class ZmqService(MultiService):
    """
    A service owning a L{ZmqFactory} (created on demand with the given
    reactor and options, or passed in).  It stops its children first,
    then shuts the factory down with L{ZmqFactory.terminate}.
    """

    def __init__(
        self, factory: ZmqFactory | None = None, **factoryOptions: Any
    ) -> None:
        """
        @param factory: the factory to own; or none, and C{factoryOptions}
            (C{reactor}, C{ioThreads}, C{lingerPeriod}) make one.
        """
        super().__init__()
        if factory is not None and factoryOptions:
            raise TypeError("give a factory or factory options, not both")
        self.factory = factory if factory is not None else ZmqFactory(**factoryOptions)
        self.name = "zmq"

    def stopService(self) -> Deferred[None]:
        """Stop the children, then terminate the context off the reactor."""
        d: Deferred[Any] = super().stopService()
        d.addCallback(lambda _: self.factory.terminate())
        return d


class ConnectionService(Service, Generic[_C]):
    """
    A connection that exists while the service runs: C{startService}
    creates it (binding and connecting its endpoints), C{stopService}
    shuts it down.

    @ivar connection: the connection while running, else None.
    """

    def __init__(
        self,
        factory: ZmqFactory,
        connectionClass: Callable[..., _C],
        *endpoints: ZmqEndpoint | str,
        **settings: Any,
    ) -> None:
        """
        @param connectionClass: a connection class (or any callable taking
            the factory and settings and returning a connection).
        @param endpoints: L{ZmqEndpoint}s or strings such as
            C{"bind:tcp://*:5555"}, checked now.
        @param settings: keyword settings for the connection.
        """
        self.factory = factory
        self.connectionClass = connectionClass
        self.endpoints: Sequence[ZmqEndpoint] = [checkEndpoint(e) for e in endpoints]
        self.settings = settings
        self.connection: _C | None = None

    def startService(self) -> None:
        """Create the connection and attach its endpoints."""
        connection = self.connectionClass(self.factory, **self.settings)
        try:
            connection.addEndpoints(self.endpoints)
        except BaseException:
            connection.shutdown()
            raise
        self.connection = connection
        super().startService()

    def stopService(self) -> Deferred[None]:
        """Shut the connection down."""
        super().stopService()
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.shutdown()
        return succeed(None)

"""Readiness: whether a load balancer should send this replica requests.

Not ready while shutting down (SIGTERM: the load balancer stops sending before
the listener closes) or while the channel to the identity service is failing.
The check reads the channel's connectivity state, so a probe never makes a call.
"""

from __future__ import annotations

import grpc

_FAILING = {grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN}


class Readiness:
    def __init__(self) -> None:
        self.shutting_down = False

    def ready(self, channel: grpc.aio.Channel) -> bool:
        """True unless shutting down or the identity channel is failing."""
        if self.shutting_down:
            return False
        # try_to_connect: an idle channel starts connecting, so a dead peer shows.
        return channel.get_state(try_to_connect=True) not in _FAILING

"""Who the client is: the transport peer, or behind trusted proxies the peer they saw.

Behind the Ingress every request's peer is the ingress controller, so the
failed-auth limit (gateway/auth_limit.py) would put every client in one
address bucket. With `GATEWAY_TRUSTED_PROXIES` set, a request from one of
those networks is attributed to the rightmost `X-Forwarded-For` hop outside
them: the address the outermost trusted proxy itself saw, which the client
cannot forge (it can only add hops to the left).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.168.1.7` as networks; ValueError names a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an address or CIDR network") from exc
    return tuple(networks)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_address(request: web.Request, trusted: Sequence[Network]) -> str:
    peer = request.remote or ""
    if not _trusted(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer

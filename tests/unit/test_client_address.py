"""The client address behind trusted proxies (pure logic over a made-up request)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.client_address import client_address, parse_networks

INGRESS = parse_networks("10.0.0.0/8, 192.168.1.7")
CONTROLLER = "10.1.2.3"


class _Transport:
    """Just what aiohttp reads for `request.remote`."""

    def __init__(self, peer: str) -> None:
        self._peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self._peer, 40000) if name == "peername" else default


def _request(peer: str, *forwarded: str) -> web.Request:
    headers = [("X-Forwarded-For", value) for value in forwarded]
    return make_mocked_request("GET", "/", headers=headers, transport=_Transport(peer))


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address(_request(CONTROLLER, "203.0.113.9"), ()) == CONTROLLER


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        (("203.0.113.9",), "203.0.113.9"),
        # A client's own X-Forwarded-For is to the left of what the proxy added.
        (("1.2.3.4, 203.0.113.9",), "203.0.113.9"),
        (("1.2.3.4", "203.0.113.9, 10.9.9.9"), "203.0.113.9"),
        (("garbage, 203.0.113.9",), "203.0.113.9"),
        (("10.9.9.9",), "10.9.9.9"),  # only proxies: the farthest one
        ((), CONTROLLER),
    ],
)
def test_behind_a_trusted_proxy_the_rightmost_outside_hop_is_the_client(forwarded, client):
    assert client_address(_request(CONTROLLER, *forwarded), INGRESS) == client


def test_a_peer_outside_the_trusted_proxies_cannot_name_another_client():
    assert client_address(_request("198.51.100.4", "203.0.113.9"), INGRESS) == "198.51.100.4"


def test_bad_networks_are_named():
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        parse_networks("10.0.0.0/8, 10.0.0.0/33")
    assert parse_networks(" , ") == ()

"""How a client (the gateway, identityctl) reaches the identity service over TLS.

Hand-written, unlike the generated code below this package: one definition of
the client-side TLS settings and channel credentials, read by every client, and
`aio_channel`, the one way the asyncio clients (gateway, console) open a channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc


class TlsConfigError(ValueError):
    """The IDENTITY_TLS_* variables do not describe a usable TLS client."""


def _file(env: Mapping[str, str], name: str) -> str:
    path = env.get(name, "")
    if path and not Path(path).is_file():
        raise TlsConfigError(f"{name} names {path}, which is not a readable file")
    return path


@dataclass(frozen=True)
class IdentityTls:
    """TLS to the identity service (PEM files); with a certificate, mutual TLS."""

    # The CA that signed the identity service's certificate.
    ca_file: str
    # The client's certificate and key; the name in it says who the caller is.
    cert_file: str = ""
    key_file: str = ""
    # The name to expect in the server's certificate, when not the address's host.
    server_name: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IdentityTls | None:
        """The TLS settings, or None for a plaintext channel."""
        ca = _file(env, "IDENTITY_TLS_CA_FILE")
        cert = _file(env, "IDENTITY_TLS_CERT_FILE")
        key = _file(env, "IDENTITY_TLS_KEY_FILE")
        server_name = env.get("IDENTITY_TLS_SERVER_NAME", "")
        if bool(cert) != bool(key):
            raise TlsConfigError("IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE go together")
        if (cert or server_name) and not ca:
            raise TlsConfigError(
                "IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_SERVER_NAME need IDENTITY_TLS_CA_FILE, "
                "the CA that signed the identity service's certificate"
            )
        return cls(ca, cert, key, server_name) if ca else None

    def credentials_pem(self) -> tuple[bytes, bytes | None, bytes | None]:
        """(root CA, client key, client certificate chain) for ssl_channel_credentials."""

        def read(path: str) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return Path(self.ca_file).read_bytes(), read(self.key_file), read(self.cert_file)

    def channel_options(self) -> list[tuple[str, str]]:
        """For an address whose host is not a name in the server's certificate."""
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def aio_channel(address: str, tls: IdentityTls | None) -> grpc.aio.Channel:
    """An asyncio channel to the identity service: TLS, mutual with a client cert, if set."""
    if tls is None:
        return grpc.aio.insecure_channel(address)
    credentials = grpc.ssl_channel_credentials(*tls.credentials_pem())
    return grpc.aio.secure_channel(address, credentials, options=tls.channel_options())

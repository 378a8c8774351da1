"""identityctl's configuration, read from an environment mapping (never os.environ here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDR = "127.0.0.1:50051"
DEFAULT_SCIM_PUBLIC_URL = "http://127.0.0.1:8080"
DEFAULT_DATA_DIR = ".data"

CREDENTIAL_HINT = (
    "set IDENTITY_OPERATOR_TOKEN, or IDENTITY_OPERATOR_TOKEN_FILE to a file holding it "
    "(`make run` writes a dev token to ${DATA_DIR:-.data}/operator-token)"
)


class ConfigError(Exception):
    """The environment does not give identityctl what it needs; the message says how to fix it."""


def _file(environ: Mapping[str, str], name: str) -> str:
    path = environ.get(name, "")
    if path and not Path(path).is_file():
        raise ConfigError(f"{name} names {path}, which is not a readable file")
    return path


@dataclass(frozen=True)
class IdentityTls:
    """TLS to the identity service (PEM files); with a certificate, mutual TLS."""

    # The CA that signed the identity service's certificate.
    ca_file: str
    # The operator's client certificate and key.
    cert_file: str = ""
    key_file: str = ""
    # The name to expect in the server's certificate, when not the address's host.
    server_name: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> IdentityTls | None:
        """The TLS settings, or None for a plaintext channel."""
        ca = _file(environ, "IDENTITY_TLS_CA_FILE")
        cert = _file(environ, "IDENTITY_TLS_CERT_FILE")
        key = _file(environ, "IDENTITY_TLS_KEY_FILE")
        server_name = environ.get("IDENTITY_TLS_SERVER_NAME", "")
        if bool(cert) != bool(key):
            raise ConfigError("IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE go together")
        if (cert or server_name) and not ca:
            raise ConfigError(
                "IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_SERVER_NAME need IDENTITY_TLS_CA_FILE, "
                "the CA that signed the identity service's certificate"
            )
        return cls(ca, cert, key, server_name) if ca else None


@dataclass(frozen=True)
class Settings:
    identity_addr: str
    # Empty only when a client certificate (mutual TLS) is the credential.
    operator_token: str
    scim_public_url: str
    tls: IdentityTls | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``environ``; raise ConfigError when no credential is found."""
        tls = IdentityTls.from_env(environ)
        return cls(
            identity_addr=environ.get("IDENTITY_ADDR") or DEFAULT_ADDR,
            operator_token=_operator_token(environ, required=not (tls and tls.cert_file)),
            scim_public_url=environ.get("SCIM_PUBLIC_URL") or DEFAULT_SCIM_PUBLIC_URL,
            tls=tls,
        )

    def scim_url(self, org_id: str) -> str:
        """Return the SCIM base URL of an org (SPEC §2): ``{SCIM_PUBLIC_URL}/scim/v2/{org}``."""
        return f"{self.scim_public_url.rstrip('/')}/scim/v2/{org_id}"


def _operator_token(environ: Mapping[str, str], *, required: bool) -> str:
    token = environ.get("IDENTITY_OPERATOR_TOKEN", "").strip()
    if token:
        return token
    token_file = environ.get("IDENTITY_OPERATOR_TOKEN_FILE", "")
    if token_file:
        return _read_token(Path(token_file), "IDENTITY_OPERATOR_TOKEN_FILE")
    dev_file = Path(environ.get("DATA_DIR") or DEFAULT_DATA_DIR) / "operator-token"
    if dev_file.is_file():
        return _read_token(dev_file, "the dev token file")
    if not required:
        return ""
    raise ConfigError(f"no operator token: {CREDENTIAL_HINT}")


def _read_token(path: Path, source: str) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {source} {path}: {exc.strerror}") from exc
    if not token:
        raise ConfigError(f"{source} {path} is empty: {CREDENTIAL_HINT}")
    return token

"""identityctl's configuration, read from an environment mapping (never os.environ here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from identity_api.client_tls import IdentityTls, TlsConfigError

DEFAULT_ADDR = "127.0.0.1:50051"
DEFAULT_SCIM_PUBLIC_URL = "http://127.0.0.1:8080"
DEFAULT_CONSOLE_PUBLIC_URL = "http://127.0.0.1:8081"
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
class Settings:
    identity_addr: str
    # Empty only when a client certificate (mutual TLS) is the credential.
    operator_token: str
    scim_public_url: str
    tls: IdentityTls | None = None
    # Where admins reach the console (the origin of `console-link` URLs).
    console_public_url: str = DEFAULT_CONSOLE_PUBLIC_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``environ``; raise ConfigError when no credential is found."""
        try:
            tls = IdentityTls.from_env(environ)
        except TlsConfigError as exc:
            raise ConfigError(str(exc)) from exc
        return cls(
            identity_addr=environ.get("IDENTITY_ADDR") or DEFAULT_ADDR,
            operator_token=_operator_token(environ, required=not (tls and tls.cert_file)),
            scim_public_url=environ.get("SCIM_PUBLIC_URL") or DEFAULT_SCIM_PUBLIC_URL,
            tls=tls,
            console_public_url=environ.get("CONSOLE_PUBLIC_URL") or DEFAULT_CONSOLE_PUBLIC_URL,
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

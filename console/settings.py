"""The console's configuration: Settings.from_env(mapping) is the only reader of env."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.client_address import Network, parse_networks
from identityctl.settings import ConfigError
from identityctl.settings import Settings as IdentityAccess

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081
DEFAULT_SESSION_SECONDS = 3600


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value}")
    return value


def _log_format(env: Mapping[str, str]) -> str:
    value = env.get("LOG_FORMAT", "").strip().lower() or "json"
    if value not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, got {value!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Settings:
    """How to reach the identity service is identityctl's (same variables, same credential)."""

    identity: IdentityAccess
    session_secret: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Under `make run`: the session cookie is not `Secure` (plain http://127.0.0.1).
    dev: bool = False
    session_seconds: int = DEFAULT_SESSION_SECONDS
    # X-Forwarded-Email counts only from these peers and with this secret header.
    trusted_proxies: tuple[Network, ...] = ()
    proxy_secret: str = ""
    log_format: str = "json"

    @property
    def proxy_enabled(self) -> bool:
        return bool(self.trusted_proxies and self.proxy_secret)

    def scim_url(self, org_id: str) -> str:
        return self.identity.scim_url(org_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Raise ConfigError, naming the variable, for anything unusable."""
        dev = _flag(env, "CONSOLE_DEV")
        secret = env.get("CONSOLE_SESSION_SECRET", "").strip()
        if not secret and not dev:
            raise ConfigError(
                "CONSOLE_SESSION_SECRET is required (every replica signs sessions with it); "
                "CONSOLE_DEV=1 makes a throwaway one"
            )
        if secret and len(secret) < 32:
            raise ConfigError("CONSOLE_SESSION_SECRET must be at least 32 characters")
        try:
            proxies = parse_networks(env.get("CONSOLE_TRUSTED_PROXIES", ""))
        except ValueError as exc:
            raise ConfigError(f"CONSOLE_TRUSTED_PROXIES: {exc}") from exc
        proxy_secret = env.get("CONSOLE_PROXY_SECRET", "").strip()
        if bool(proxies) != bool(proxy_secret):
            raise ConfigError("CONSOLE_TRUSTED_PROXIES and CONSOLE_PROXY_SECRET go together")
        return cls(
            identity=IdentityAccess.from_env(env),
            session_secret=secret or secrets.token_urlsafe(32),
            host=env.get("CONSOLE_HOST") or DEFAULT_HOST,
            port=_int(env, "CONSOLE_PORT", DEFAULT_PORT),
            dev=dev,
            session_seconds=_int(env, "CONSOLE_SESSION_SECONDS", DEFAULT_SESSION_SECONDS),
            trusted_proxies=proxies,
            proxy_secret=proxy_secret,
            log_format=_log_format(env),
        )

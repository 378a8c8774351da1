"""Configuration of the gateway: the only reader of the environment."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.client_address import Network, parse_networks
from identity_api.client_tls import IdentityTls, TlsConfigError


class ConfigError(ValueError):
    """The environment does not describe a runnable gateway."""


# Below this, a cursor secret is guessable enough to forge cursors with.
MIN_CURSOR_SECRET_CHARS = 32


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _file(env: Mapping[str, str], name: str) -> str:
    path = env.get(name, "")
    if path and not Path(path).is_file():
        raise ConfigError(f"{name} names {path}, which is not a readable file")
    return path


def log_format(env: Mapping[str, str]) -> str:
    """LOG_FORMAT: json (the default) or text."""
    value = env.get("LOG_FORMAT", "").strip().lower() or "json"
    if value not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, got {value!r}")
    return value


def _cursor_timeout(env: Mapping[str, str]) -> int:
    # RFC 9865 §4: cursorTimeout is a positive integer.
    timeout = _number(env, "SCIM_CURSOR_TIMEOUT_SECONDS", 3600)
    if timeout < 1 or timeout != int(timeout):
        raise ConfigError(f"SCIM_CURSOR_TIMEOUT_SECONDS must be a whole number ≥ 1, got {timeout}")
    return int(timeout)


def _auth_failure_budget(env: Mapping[str, str]) -> int:
    budget = _number(env, "SCIM_AUTH_FAILURE_BUDGET", 20)
    if budget < 1 or budget != int(budget):
        raise ConfigError(f"SCIM_AUTH_FAILURE_BUDGET must be a whole number ≥ 1, got {budget}")
    return int(budget)


def _auth_failure_window(env: Mapping[str, str]) -> float:
    window = _number(env, "SCIM_AUTH_FAILURE_WINDOW_SECONDS", 60.0)
    if window <= 0:
        raise ConfigError(f"SCIM_AUTH_FAILURE_WINDOW_SECONDS must be above 0, got {window}")
    return window


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default)
    if value < 1 or value != int(value):
        raise ConfigError(f"{name} must be a whole number ≥ 1, got {value}")
    return int(value)


def _request_log_flush(env: Mapping[str, str]) -> float:
    seconds = _number(env, "GATEWAY_REQUEST_LOG_FLUSH_SECONDS", 1.0)
    if seconds <= 0:
        raise ConfigError(f"GATEWAY_REQUEST_LOG_FLUSH_SECONDS must be above 0, got {seconds}")
    return seconds


def _trusted_proxies(env: Mapping[str, str]) -> tuple[Network, ...]:
    try:
        return parse_networks(env.get("GATEWAY_TRUSTED_PROXIES", ""))
    except ValueError as exc:
        raise ConfigError(f"GATEWAY_TRUSTED_PROXIES: {exc}") from exc


def _cursor_secret(env: Mapping[str, str]) -> str:
    secret = env.get("SCIM_CURSOR_SECRET", "")
    if secret and len(secret) < MIN_CURSOR_SECRET_CHARS:
        raise ConfigError(
            f"SCIM_CURSOR_SECRET must be at least {MIN_CURSOR_SECRET_CHARS} characters"
        )
    return secret


@dataclass(frozen=True)
class Settings:
    identity_addr: str
    # Bearer credential the identity service accepts from internal services;
    # optional when the gateway's client certificate proves it (mutual TLS).
    service_token: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    # External origin (behind an Ingress it differs from the bind address).
    public_url: str = "http://127.0.0.1:8080"
    max_page_size: int = 1000
    # Groups with more members than this are listed without members.
    group_members_inline_max: int = 1000
    # A PATCH of a group with more members than this answers 204, not the
    # resource, so a membership change costs the same at any group size.
    patch_members_inline_max: int = 100
    max_body_bytes: int = 1024 * 1024
    bulk_max_operations: int = 1000
    # Per key and replica: sustained requests/s and burst.
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 500
    # Per client address and key id: failed authentications allowed within a
    # window; past them 429 from memory, without asking the identity service.
    auth_failure_budget: int = 20
    auth_failure_window_seconds: float = 60.0
    # Proxies (the ingress controller's networks) whose X-Forwarded-For names
    # the client, for the failed-auth limit; empty: the transport peer is.
    trusted_proxies: tuple[Network, ...] = ()
    # How long a verified key is trusted without asking again.
    key_cache_seconds: float = 2.0
    identity_timeout_seconds: float = 10.0
    # None: a plaintext channel to the identity service.
    identity_tls: IdentityTls | None = None
    # On SIGTERM: not ready at once, keep serving this long (load balancers
    # stop sending), then stop accepting and let in-flight requests finish
    # within `drain_seconds`.
    shutdown_delay_seconds: float = 5.0
    drain_seconds: float = 20.0
    # "json" (one object per line) or "text".
    log_format: str = "json"
    # RFC 9865 cursorTimeout: a cursor is honoured this long after its page.
    cursor_timeout_seconds: int = 3600
    # Signs cursors; unset, a key derived from service_token does (see cursor_key).
    cursor_secret: str = ""
    # The request log: entries queued at most (then dropped and counted), sent
    # in batches of `request_log_batch` at least every `request_log_flush_seconds`.
    request_log_queue_max: int = 10_000
    request_log_batch: int = 500
    request_log_flush_seconds: float = 1.0

    def cursor_key(self) -> bytes:
        """The HMAC key of cursors, the same on every replica.

        SCIM_CURSOR_SECRET if set, else derived from IDENTITY_SERVICE_TOKEN,
        which every replica already shares; a replica's own random key would
        refuse the cursors its peers issued.
        """
        secret = self.cursor_secret or self.service_token
        if not secret:
            raise ConfigError(
                "SCIM_CURSOR_SECRET is required when the gateway has no IDENTITY_SERVICE_TOKEN: "
                "every replica must verify the cursors the others sign"
            )
        return hmac.new(secret.encode(), b"graphos-scim cursor key v1", hashlib.sha256).digest()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        try:
            tls = IdentityTls.from_env(env)
        except TlsConfigError as exc:
            raise ConfigError(str(exc)) from exc
        token = env.get("IDENTITY_SERVICE_TOKEN", "")
        if not token and not (tls and tls.cert_file):
            raise ConfigError(
                "IDENTITY_SERVICE_TOKEN is required, unless IDENTITY_TLS_CERT_FILE and "
                "IDENTITY_TLS_KEY_FILE give the gateway a client certificate"
            )
        host = env.get("GATEWAY_HOST", "127.0.0.1")
        port = int(_number(env, "GATEWAY_PORT", 8080))
        # Unset, the public origin is where we listen (http://127.0.0.1:8080).
        public_url = env.get("SCIM_PUBLIC_URL") or f"http://{host}:{port}"
        settings = cls(
            identity_addr=env.get("IDENTITY_ADDR", "127.0.0.1:50051"),
            service_token=token,
            host=host,
            port=port,
            public_url=public_url.rstrip("/"),
            max_page_size=int(_number(env, "SCIM_MAX_PAGE_SIZE", 1000)),
            group_members_inline_max=int(_number(env, "SCIM_GROUP_MEMBERS_INLINE_MAX", 1000)),
            patch_members_inline_max=int(_number(env, "SCIM_PATCH_MEMBERS_INLINE_MAX", 100)),
            max_body_bytes=int(_number(env, "SCIM_MAX_BODY_BYTES", 1024 * 1024)),
            bulk_max_operations=int(_number(env, "SCIM_BULK_MAX_OPERATIONS", 1000)),
            rate_limit_per_second=_number(env, "SCIM_RATE_LIMIT_PER_SECOND", 100.0),
            rate_limit_burst=int(_number(env, "SCIM_RATE_LIMIT_BURST", 500)),
            auth_failure_budget=_auth_failure_budget(env),
            auth_failure_window_seconds=_auth_failure_window(env),
            trusted_proxies=_trusted_proxies(env),
            key_cache_seconds=_number(env, "SCIM_KEY_CACHE_SECONDS", 2.0),
            identity_timeout_seconds=_number(env, "GATEWAY_IDENTITY_TIMEOUT_SECONDS", 10.0),
            identity_tls=tls,
            shutdown_delay_seconds=_number(env, "SHUTDOWN_DELAY_SECONDS", 5.0),
            drain_seconds=_number(env, "GATEWAY_DRAIN_SECONDS", 20.0),
            log_format=log_format(env),
            cursor_timeout_seconds=_cursor_timeout(env),
            cursor_secret=_cursor_secret(env),
            request_log_queue_max=_at_least_one(env, "GATEWAY_REQUEST_LOG_QUEUE_MAX", 10_000),
            request_log_batch=_at_least_one(env, "GATEWAY_REQUEST_LOG_BATCH", 500),
            request_log_flush_seconds=_request_log_flush(env),
        )
        settings.cursor_key()  # fail at startup, not on the first cursor
        return settings

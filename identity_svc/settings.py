"""Configuration of the identity service: the only reader of the environment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


class ConfigError(ValueError):
    """The environment does not describe a runnable service."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not (value > 0 and math.isfinite(value)):  # NaN compares false
        raise ConfigError(f"{name} must be a number greater than 0, got {env.get(name)!r}")
    return value


def _days(env: Mapping[str, str], name: str, default: float) -> timedelta:
    try:
        return timedelta(days=_positive_number(env, name, default))
    except OverflowError as exc:
        raise ConfigError(f"{name} is too large, got {env.get(name)!r}") from exc


def _log_format(env: Mapping[str, str]) -> str:
    value = env.get("LOG_FORMAT", "").strip().lower() or "json"
    if value not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, got {value!r}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _file(env: Mapping[str, str], name: str) -> str:
    path = env.get(name, "")
    if path and not Path(path).is_file():
        raise ConfigError(f"{name} names {path}, which is not a readable file")
    return path


def _names(env: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(n.strip() for n in env.get(name, "").split(",") if n.strip())


@dataclass(frozen=True)
class Tls:
    """TLS on the API port (PEM files); with a client CA, mutual TLS.

    With mutual TLS every client must present a certificate signed by
    `client_ca_file`; its common name or a DNS subject alternative name listed
    in `operators` or `services` makes the caller that kind.
    """

    cert_file: str
    key_file: str
    client_ca_file: str = ""
    operators: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    # Certificates alone authenticate: bearer tokens are ignored.
    require_mtls: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Tls | None:
        """The TLS settings, or None when the API port is plaintext."""
        cert = _file(env, "IDENTITY_TLS_CERT_FILE")
        key = _file(env, "IDENTITY_TLS_KEY_FILE")
        client_ca = _file(env, "IDENTITY_TLS_CLIENT_CA_FILE")
        operators = _names(env, "IDENTITY_MTLS_OPERATORS")
        services = _names(env, "IDENTITY_MTLS_SERVICES")
        require = _bool(env, "IDENTITY_REQUIRE_MTLS")
        if bool(cert) != bool(key):
            raise ConfigError("IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE go together")
        if client_ca and not cert:
            raise ConfigError(
                "IDENTITY_TLS_CLIENT_CA_FILE needs IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE"
            )
        if (operators or services or require) and not client_ca:
            raise ConfigError(
                "IDENTITY_MTLS_OPERATORS, IDENTITY_MTLS_SERVICES and IDENTITY_REQUIRE_MTLS "
                "need mutual TLS: set IDENTITY_TLS_CLIENT_CA_FILE"
            )
        if both := operators & services:
            raise ConfigError(
                f"{', '.join(sorted(both))}: listed in both IDENTITY_MTLS_OPERATORS "
                "and IDENTITY_MTLS_SERVICES"
            )
        if require and not (operators or services):
            raise ConfigError(
                "IDENTITY_REQUIRE_MTLS=true refuses every caller unless "
                "IDENTITY_MTLS_OPERATORS or IDENTITY_MTLS_SERVICES names some"
            )
        return cls(cert, key, client_ca, operators, services, require) if cert else None


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 50051
    # Bearer credential of operators (identityctl, GraphOS Studio's backend):
    # required for OrgAdmin RPCs, accepted everywhere.
    operator_token: str = ""
    # Bearer credential of internal services (the gateway): Provisioning RPCs.
    service_token: str = ""
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_command_timeout: float = 30.0
    # Largest page a listing answers, advertised by the gateway.
    max_page_size: int = 1000
    # None: a plaintext API port, callers known by bearer token only.
    tls: Tls | None = None
    # Plaintext gRPC health only (kubelet `grpc:` probes, whatever the API
    # port requires) and Prometheus /metrics; 0 picks a free port.
    health_port: int = 50052
    metrics_port: int = 9090
    # On SIGTERM: NOT_SERVING at once, keep serving this long (load balancers
    # stop sending), then stop accepting and let calls finish within `drain_seconds`.
    shutdown_delay_seconds: float = 5.0
    drain_seconds: float = 20.0
    # "json" (one object per line) or "text".
    log_format: str = "json"
    # A member deleted through SCIM stays restorable this long (issue 10);
    # every `purge_interval_seconds` the service purges the expired ones.
    restore_window: timedelta = timedelta(days=30)
    purge_interval_seconds: float = 300.0
    # The request log keeps entries this long, and at most this many per org.
    request_log_retention_days: int = 30
    request_log_max_per_org: int = 100_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        database_url = env.get("DATABASE_URL", "")
        if not database_url:
            raise ConfigError("DATABASE_URL is required")
        tls = Tls.from_env(env)
        operator_token = env.get("IDENTITY_OPERATOR_TOKEN", "")
        # Operators may instead be known by their certificates alone.
        if (operator_token or not (tls and tls.operators)) and len(operator_token) < 16:
            raise ConfigError(
                "IDENTITY_OPERATOR_TOKEN must be set (at least 16 characters), "
                "unless IDENTITY_MTLS_OPERATORS names the operators' certificates"
            )
        return cls(
            database_url=database_url,
            host=env.get("IDENTITY_HOST", "127.0.0.1"),
            port=_int(env, "IDENTITY_PORT", 50051),
            operator_token=operator_token,
            service_token=env.get("IDENTITY_SERVICE_TOKEN", ""),
            db_pool_min=_int(env, "IDENTITY_DB_POOL_MIN", 2),
            db_pool_max=_int(env, "IDENTITY_DB_POOL_MAX", 10),
            db_command_timeout=float(_int(env, "IDENTITY_DB_COMMAND_TIMEOUT", 30)),
            max_page_size=_int(env, "SCIM_MAX_PAGE_SIZE", 1000),
            tls=tls,
            health_port=_int(env, "IDENTITY_HEALTH_PORT", 50052),
            metrics_port=_int(env, "IDENTITY_METRICS_PORT", 9090),
            shutdown_delay_seconds=_float(env, "SHUTDOWN_DELAY_SECONDS", 5.0),
            drain_seconds=_float(env, "IDENTITY_DRAIN_SECONDS", 20.0),
            log_format=_log_format(env),
            restore_window=_days(env, "IDENTITY_RESTORE_WINDOW_DAYS", 30),
            purge_interval_seconds=_positive_number(env, "IDENTITY_PURGE_INTERVAL_SECONDS", 300.0),
            request_log_retention_days=_positive(env, "REQUEST_LOG_RETENTION_DAYS", 30),
            request_log_max_per_org=_positive(env, "REQUEST_LOG_MAX_PER_ORG", 100_000),
        )

"""Configuration of the identity service: the only reader of the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        database_url = env.get("DATABASE_URL", "")
        if not database_url:
            raise ConfigError("DATABASE_URL is required")
        operator_token = env.get("IDENTITY_OPERATOR_TOKEN", "")
        if len(operator_token) < 16:
            raise ConfigError("IDENTITY_OPERATOR_TOKEN must be set (at least 16 characters)")
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
        )

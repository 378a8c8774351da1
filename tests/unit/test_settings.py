from datetime import timedelta

import pytest

from identity_svc.settings import ConfigError, Settings

BASE = {"DATABASE_URL": "postgresql://db/x", "IDENTITY_OPERATOR_TOKEN": "x" * 32}


def test_defaults():
    settings = Settings.from_env(BASE)
    assert (settings.host, settings.port, settings.max_page_size) == ("127.0.0.1", 50051, 1000)


def test_overrides():
    settings = Settings.from_env({**BASE, "IDENTITY_PORT": "6000", "SCIM_MAX_PAGE_SIZE": "50"})
    assert (settings.port, settings.max_page_size) == (6000, 50)


def test_request_log_retention_defaults_to_30_days_and_100k_per_org():
    defaults = Settings.from_env(BASE)
    assert (defaults.request_log_retention_days, defaults.request_log_max_per_org) == (30, 100_000)
    env = {**BASE, "REQUEST_LOG_RETENTION_DAYS": "7", "REQUEST_LOG_MAX_PER_ORG": "500"}
    changed = Settings.from_env(env)
    assert (changed.request_log_retention_days, changed.request_log_max_per_org) == (7, 500)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DATABASE_URL"),
        ({**BASE, "IDENTITY_OPERATOR_TOKEN": "short"}, "IDENTITY_OPERATOR_TOKEN"),
        ({**BASE, "IDENTITY_PORT": "eighty"}, "IDENTITY_PORT"),
        ({**BASE, "REQUEST_LOG_RETENTION_DAYS": "0"}, "REQUEST_LOG_RETENTION_DAYS"),
        ({**BASE, "REQUEST_LOG_MAX_PER_ORG": "lots"}, "REQUEST_LOG_MAX_PER_ORG"),
    ],
)
def test_bad_configuration_is_refused_with_the_variable_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


@pytest.fixture
def pem(tmp_path):
    """Stand-ins for PEM files: settings only check that they exist."""
    for name in ("cert", "key", "ca"):
        (tmp_path / name).write_text("pem")
    return {name: str(tmp_path / name) for name in ("cert", "key", "ca")}


def test_without_tls_variables_the_port_is_plaintext():
    assert Settings.from_env(BASE).tls is None


def test_cert_and_key_serve_tls_and_a_client_ca_makes_it_mutual(pem):
    env = {**BASE, "IDENTITY_TLS_CERT_FILE": pem["cert"], "IDENTITY_TLS_KEY_FILE": pem["key"]}
    tls = Settings.from_env(env).tls
    assert tls is not None
    assert (tls.cert_file, tls.key_file, tls.client_ca_file) == (pem["cert"], pem["key"], "")
    mutual = Settings.from_env(
        {
            **env,
            "IDENTITY_TLS_CLIENT_CA_FILE": pem["ca"],
            "IDENTITY_MTLS_OPERATORS": "identityctl, studio-backend",
            "IDENTITY_MTLS_SERVICES": "scim-gateway,",
            "IDENTITY_REQUIRE_MTLS": "TRUE",
        }
    ).tls
    assert mutual is not None
    assert mutual.operators == {"identityctl", "studio-backend"}
    assert (mutual.services, mutual.require_mtls) == (frozenset({"scim-gateway"}), True)


def test_operators_known_by_certificate_need_no_operator_token(pem):
    env = {
        "DATABASE_URL": "postgresql://db/x",
        "IDENTITY_TLS_CERT_FILE": pem["cert"],
        "IDENTITY_TLS_KEY_FILE": pem["key"],
        "IDENTITY_TLS_CLIENT_CA_FILE": pem["ca"],
        "IDENTITY_MTLS_OPERATORS": "identityctl",
    }
    assert Settings.from_env(env).operator_token == ""
    # A token that is set must still be a real one.
    with pytest.raises(ConfigError, match="IDENTITY_OPERATOR_TOKEN"):
        Settings.from_env({**env, "IDENTITY_OPERATOR_TOKEN": "short"})


def _tls_env(pem: dict[str, str], **extra: str) -> dict[str, str]:
    env = {**BASE, "IDENTITY_TLS_CERT_FILE": pem["cert"], "IDENTITY_TLS_KEY_FILE": pem["key"]}
    return {**env, "IDENTITY_TLS_CLIENT_CA_FILE": pem["ca"], **extra}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"IDENTITY_TLS_KEY_FILE": ""}, "IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE"),
        ({"IDENTITY_TLS_CERT_FILE": ""}, "IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE"),
        ({"IDENTITY_TLS_KEY_FILE": "/nonexistent/key.pem"}, "IDENTITY_TLS_KEY_FILE names"),
        ({"IDENTITY_TLS_CERT_FILE": "", "IDENTITY_TLS_KEY_FILE": ""}, "needs IDENTITY_TLS_CERT"),
        (
            {"IDENTITY_TLS_CLIENT_CA_FILE": "", "IDENTITY_MTLS_SERVICES": "gw"},
            "set IDENTITY_TLS_CLIENT_CA_FILE",
        ),
        (
            {"IDENTITY_TLS_CLIENT_CA_FILE": "", "IDENTITY_REQUIRE_MTLS": "true"},
            "set IDENTITY_TLS_CLIENT_CA_FILE",
        ),
        ({"IDENTITY_REQUIRE_MTLS": "true"}, "refuses every caller"),
        ({"IDENTITY_REQUIRE_MTLS": "sometimes"}, "IDENTITY_REQUIRE_MTLS must be true or false"),
        (
            {"IDENTITY_MTLS_OPERATORS": "a,b", "IDENTITY_MTLS_SERVICES": "b"},
            "b: listed in both",
        ),
    ],
)
def test_bad_tls_configuration_is_refused_with_the_variable_named(pem, change, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(_tls_env(pem, **change))


def test_health_metrics_shutdown_and_log_settings():
    default = Settings.from_env(BASE)
    assert (default.health_port, default.metrics_port) == (50052, 9090)
    assert (default.shutdown_delay_seconds, default.drain_seconds, default.log_format) == (
        5.0,
        20.0,
        "json",
    )
    set_ = Settings.from_env(
        {
            **BASE,
            "IDENTITY_HEALTH_PORT": "0",
            "IDENTITY_METRICS_PORT": "0",
            "SHUTDOWN_DELAY_SECONDS": "0.5",
            "IDENTITY_DRAIN_SECONDS": "7",
            "LOG_FORMAT": "text",
        }
    )
    assert (set_.health_port, set_.metrics_port) == (0, 0)
    assert (set_.shutdown_delay_seconds, set_.drain_seconds, set_.log_format) == (0.5, 7, "text")
    for bad in ({"LOG_FORMAT": "xml"}, {"SHUTDOWN_DELAY_SECONDS": "soon"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Settings.from_env({**BASE, **bad})


def test_the_restore_window_defaults_to_30_days_and_is_configurable():
    default = Settings.from_env(BASE)
    assert (default.restore_window, default.purge_interval_seconds) == (timedelta(days=30), 300.0)
    env = {**BASE, "IDENTITY_RESTORE_WINDOW_DAYS": "7", "IDENTITY_PURGE_INTERVAL_SECONDS": "60"}
    custom = Settings.from_env(env)
    assert (custom.restore_window, custom.purge_interval_seconds) == (timedelta(days=7), 60.0)


_WINDOW_SETTINGS = ("IDENTITY_RESTORE_WINDOW_DAYS", "IDENTITY_PURGE_INTERVAL_SECONDS")


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        *((name, raw) for name in _WINDOW_SETTINGS for raw in ("0", "-1", "nan", "inf", "soon")),
        ("IDENTITY_RESTORE_WINDOW_DAYS", "1e300"),  # more days than a timedelta holds
    ],
)
def test_a_window_or_interval_that_is_not_a_positive_number_is_refused(name, raw):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**BASE, name: raw})

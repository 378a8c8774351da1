import pytest

from gateway.settings import MIN_CURSOR_SECRET_CHARS, ConfigError, Settings
from identity_api.client_tls import IdentityTls


def test_defaults_follow_the_bind_address():
    settings = Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t", "GATEWAY_PORT": "9090"})
    assert (settings.port, settings.public_url) == (9090, "http://127.0.0.1:9090")
    assert settings.identity_addr == "127.0.0.1:50051"
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (100.0, 500)


def test_the_failed_auth_limit_is_configurable():
    assert Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t"}).auth_failure_budget == 20
    settings = Settings.from_env(
        {
            "IDENTITY_SERVICE_TOKEN": "t",
            "SCIM_AUTH_FAILURE_BUDGET": "5",
            "SCIM_AUTH_FAILURE_WINDOW_SECONDS": "0.5",
        }
    )
    assert (settings.auth_failure_budget, settings.auth_failure_window_seconds) == (5, 0.5)


def test_the_request_log_queue_batch_and_flush_are_configurable():
    defaults = Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t"})
    assert (
        defaults.request_log_queue_max,
        defaults.request_log_batch,
        defaults.request_log_flush_seconds,
    ) == (10_000, 500, 1.0)
    settings = Settings.from_env(
        {
            "IDENTITY_SERVICE_TOKEN": "t",
            "GATEWAY_REQUEST_LOG_QUEUE_MAX": "50",
            "GATEWAY_REQUEST_LOG_BATCH": "10",
            "GATEWAY_REQUEST_LOG_FLUSH_SECONDS": "0.25",
        }
    )
    assert (
        settings.request_log_queue_max,
        settings.request_log_batch,
        settings.request_log_flush_seconds,
    ) == (50, 10, 0.25)


def test_public_url_loses_its_trailing_slash():
    settings = Settings.from_env(
        {"IDENTITY_SERVICE_TOKEN": "t", "SCIM_PUBLIC_URL": "https://scim.example.com/"}
    )
    assert settings.public_url == "https://scim.example.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "IDENTITY_SERVICE_TOKEN"),
        ({"IDENTITY_SERVICE_TOKEN": "t", "SCIM_RATE_LIMIT_BURST": "lots"}, "SCIM_RATE_LIMIT_BURST"),
        ({"IDENTITY_SERVICE_TOKEN": "t", "SCIM_AUTH_FAILURE_BUDGET": "0"}, "AUTH_FAILURE_BUDGET"),
        ({"IDENTITY_SERVICE_TOKEN": "t", "SCIM_AUTH_FAILURE_BUDGET": "2.5"}, "AUTH_FAILURE_BUDGET"),
        (
            {"IDENTITY_SERVICE_TOKEN": "t", "SCIM_AUTH_FAILURE_WINDOW_SECONDS": "0"},
            "SCIM_AUTH_FAILURE_WINDOW_SECONDS",
        ),
        (
            {"IDENTITY_SERVICE_TOKEN": "t", "GATEWAY_REQUEST_LOG_QUEUE_MAX": "0"},
            "GATEWAY_REQUEST_LOG_QUEUE_MAX",
        ),
        (
            {"IDENTITY_SERVICE_TOKEN": "t", "GATEWAY_REQUEST_LOG_BATCH": "1.5"},
            "GATEWAY_REQUEST_LOG_BATCH",
        ),
        (
            {"IDENTITY_SERVICE_TOKEN": "t", "GATEWAY_REQUEST_LOG_FLUSH_SECONDS": "-1"},
            "GATEWAY_REQUEST_LOG_FLUSH_SECONDS",
        ),
    ],
)
def test_bad_configuration_names_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


@pytest.fixture
def pem(tmp_path):
    """Stand-ins for PEM files: settings only check that they exist."""
    for name in ("cert", "key", "ca"):
        (tmp_path / name).write_text("pem")
    return {name: str(tmp_path / name) for name in ("cert", "key", "ca")}


def test_without_tls_variables_the_channel_is_plaintext():
    assert Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t"}).identity_tls is None


def test_a_client_certificate_replaces_the_service_token(pem):
    settings = Settings.from_env(
        {
            "IDENTITY_TLS_CA_FILE": pem["ca"],
            "IDENTITY_TLS_CERT_FILE": pem["cert"],
            "IDENTITY_TLS_KEY_FILE": pem["key"],
            "IDENTITY_TLS_SERVER_NAME": "identity-svc",
            "SCIM_CURSOR_SECRET": "c" * MIN_CURSOR_SECRET_CHARS,
        }
    )
    assert settings.service_token == ""
    assert settings.identity_tls == IdentityTls(pem["ca"], pem["cert"], pem["key"], "identity-svc")


def test_tls_without_a_client_certificate_still_needs_the_token(pem):
    with pytest.raises(ConfigError, match="IDENTITY_SERVICE_TOKEN is required"):
        Settings.from_env({"IDENTITY_TLS_CA_FILE": pem["ca"]})
    settings = Settings.from_env({"IDENTITY_TLS_CA_FILE": pem["ca"], "IDENTITY_SERVICE_TOKEN": "t"})
    assert settings.identity_tls == IdentityTls(pem["ca"])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IDENTITY_TLS_CERT_FILE": "cert"}, "IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE"),
        (
            {"IDENTITY_TLS_CERT_FILE": "cert", "IDENTITY_TLS_KEY_FILE": "key"},
            "need IDENTITY_TLS_CA",
        ),
        ({"IDENTITY_TLS_SERVER_NAME": "identity-svc"}, "need IDENTITY_TLS_CA_FILE"),
        ({"IDENTITY_TLS_CA_FILE": "/nonexistent/ca.pem"}, "IDENTITY_TLS_CA_FILE names"),
    ],
)
def test_bad_tls_configuration_names_the_variable(pem, env, message):
    env = {"IDENTITY_SERVICE_TOKEN": "t", **{k: pem.get(v, v) for k, v in env.items()}}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_shutdown_and_log_settings():
    default = Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t"})
    assert (default.shutdown_delay_seconds, default.drain_seconds, default.log_format) == (
        5.0,
        20.0,
        "json",
    )
    set_ = Settings.from_env(
        {
            "IDENTITY_SERVICE_TOKEN": "t",
            "SHUTDOWN_DELAY_SECONDS": "0",
            "GATEWAY_DRAIN_SECONDS": "3.5",
            "LOG_FORMAT": "TEXT",
        }
    )
    assert (set_.shutdown_delay_seconds, set_.drain_seconds, set_.log_format) == (0, 3.5, "text")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t", "LOG_FORMAT": "xml"})


def test_cursor_timeout_defaults_to_an_hour_and_must_be_a_positive_whole_number():
    assert Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t"}).cursor_timeout_seconds == 3600
    set_ = Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t", "SCIM_CURSOR_TIMEOUT_SECONDS": "60"})
    assert set_.cursor_timeout_seconds == 60
    for bad in ("0", "-5", "1.5"):
        with pytest.raises(ConfigError, match="SCIM_CURSOR_TIMEOUT_SECONDS"):
            Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t", "SCIM_CURSOR_TIMEOUT_SECONDS": bad})


def test_every_replica_derives_the_same_cursor_key():
    one = Settings.from_env({"IDENTITY_SERVICE_TOKEN": "shared-token"})
    other = Settings.from_env({"IDENTITY_SERVICE_TOKEN": "shared-token", "GATEWAY_PORT": "9"})
    assert one.cursor_key() == other.cursor_key()
    # Derived, never the token itself; an explicit secret takes precedence.
    assert b"shared-token" not in one.cursor_key()
    secret = "s" * MIN_CURSOR_SECRET_CHARS
    explicit = Settings.from_env(
        {"IDENTITY_SERVICE_TOKEN": "shared-token", "SCIM_CURSOR_SECRET": secret}
    )
    assert explicit.cursor_key() not in (one.cursor_key(), b"")


def test_without_a_service_token_cursors_need_their_own_secret(pem):
    env = {
        "IDENTITY_TLS_CA_FILE": pem["ca"],
        "IDENTITY_TLS_CERT_FILE": pem["cert"],
        "IDENTITY_TLS_KEY_FILE": pem["key"],
    }
    with pytest.raises(ConfigError, match="SCIM_CURSOR_SECRET is required"):
        Settings.from_env(env)
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env({**env, "SCIM_CURSOR_SECRET": "short"})

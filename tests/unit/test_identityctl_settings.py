import pytest

from identity_api.client_tls import IdentityTls
from identityctl.settings import ConfigError, Settings


@pytest.fixture
def pem(tmp_path):
    """Stand-ins for PEM files: settings only check that they exist."""
    for name in ("cert", "key", "ca"):
        (tmp_path / name).write_text("pem")
    return {name: str(tmp_path / name) for name in ("cert", "key", "ca")}


def test_a_client_certificate_makes_the_operator_token_optional(pem, tmp_path):
    env = {
        "DATA_DIR": str(tmp_path),
        "IDENTITY_TLS_CA_FILE": pem["ca"],
        "IDENTITY_TLS_CERT_FILE": pem["cert"],
        "IDENTITY_TLS_KEY_FILE": pem["key"],
    }
    settings = Settings.from_env(env)
    assert (settings.operator_token, settings.tls) == (
        "",
        IdentityTls(pem["ca"], pem["cert"], pem["key"]),
    )
    # Both may be given: the service accepts either.
    assert Settings.from_env({**env, "IDENTITY_OPERATOR_TOKEN": "tok"}).operator_token == "tok"


def test_tls_without_a_client_certificate_still_needs_the_token(pem, tmp_path):
    env = {"DATA_DIR": str(tmp_path), "IDENTITY_TLS_CA_FILE": pem["ca"]}
    with pytest.raises(ConfigError, match="no operator token"):
        Settings.from_env(env)
    settings = Settings.from_env(
        {**env, "IDENTITY_OPERATOR_TOKEN": "tok", "IDENTITY_TLS_SERVER_NAME": "identity-svc"}
    )
    assert settings.tls == IdentityTls(pem["ca"], server_name="identity-svc")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IDENTITY_TLS_KEY_FILE": "key"}, "IDENTITY_TLS_CERT_FILE and IDENTITY_TLS_KEY_FILE"),
        (
            {"IDENTITY_TLS_CERT_FILE": "cert", "IDENTITY_TLS_KEY_FILE": "key"},
            "need IDENTITY_TLS_CA",
        ),
        ({"IDENTITY_TLS_CERT_FILE": "/nonexistent/cert.pem"}, "IDENTITY_TLS_CERT_FILE names"),
    ],
)
def test_bad_tls_configuration_names_the_variable(pem, env, message):
    env = {"IDENTITY_OPERATOR_TOKEN": "tok", **{k: pem.get(v, v) for k, v in env.items()}}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)

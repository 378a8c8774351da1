import pytest

from gateway.settings import ConfigError, Settings


def test_defaults_follow_the_bind_address():
    settings = Settings.from_env({"IDENTITY_SERVICE_TOKEN": "t", "GATEWAY_PORT": "9090"})
    assert (settings.port, settings.public_url) == (9090, "http://127.0.0.1:9090")
    assert settings.identity_addr == "127.0.0.1:50051"
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (100.0, 500)


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
    ],
)
def test_bad_configuration_names_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)

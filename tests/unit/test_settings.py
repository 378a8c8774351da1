import pytest

from identity_svc.settings import ConfigError, Settings

BASE = {"DATABASE_URL": "postgresql://db/x", "IDENTITY_OPERATOR_TOKEN": "x" * 32}


def test_defaults():
    settings = Settings.from_env(BASE)
    assert (settings.host, settings.port, settings.max_page_size) == ("127.0.0.1", 50051, 1000)


def test_overrides():
    settings = Settings.from_env({**BASE, "IDENTITY_PORT": "6000", "SCIM_MAX_PAGE_SIZE": "50"})
    assert (settings.port, settings.max_page_size) == (6000, 50)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DATABASE_URL"),
        ({**BASE, "IDENTITY_OPERATOR_TOKEN": "short"}, "IDENTITY_OPERATOR_TOKEN"),
        ({**BASE, "IDENTITY_PORT": "eighty"}, "IDENTITY_PORT"),
    ],
)
def test_bad_configuration_is_refused_with_the_variable_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)

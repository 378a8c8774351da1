"""The console's configuration: clear refusals, and the process that reads it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from console.settings import Settings
from identityctl.settings import ConfigError

SECRET = "s" * 32
BASE = {"IDENTITY_OPERATOR_TOKEN": "operator-token-0123456789"}


def test_defaults_are_the_spec_s_address_and_a_secure_cookie():
    settings = Settings.from_env({**BASE, "CONSOLE_SESSION_SECRET": SECRET})
    assert (settings.host, settings.port) == ("127.0.0.1", 8081)
    assert settings.dev is False
    assert settings.proxy_enabled is False
    assert settings.session_seconds == 3600
    assert settings.scim_url("acme") == "http://127.0.0.1:8080/scim/v2/acme"


def test_dev_makes_a_throwaway_session_secret():
    first = Settings.from_env({**BASE, "CONSOLE_DEV": "1"})
    second = Settings.from_env({**BASE, "CONSOLE_DEV": "1"})
    assert first.dev is True
    assert len(first.session_secret) >= 32
    assert first.session_secret != second.session_secret


def test_proxy_settings():
    settings = Settings.from_env(
        {
            **BASE,
            "CONSOLE_SESSION_SECRET": SECRET,
            "CONSOLE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7",
            "CONSOLE_PROXY_SECRET": "proxy-secret",
            "CONSOLE_PORT": "9000",
        }
    )
    assert settings.proxy_enabled
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.1.7/32"]
    assert settings.port == 9000


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "CONSOLE_SESSION_SECRET is required"),
        ({"CONSOLE_SESSION_SECRET": "short"}, "at least 32"),
        ({"CONSOLE_SESSION_SECRET": SECRET, "CONSOLE_PORT": "http"}, "CONSOLE_PORT"),
        ({"CONSOLE_SESSION_SECRET": SECRET, "CONSOLE_SESSION_SECONDS": "0"}, "positive"),
        ({"CONSOLE_SESSION_SECRET": SECRET, "CONSOLE_TRUSTED_PROXIES": "nope"}, "PROXIES"),
        ({"CONSOLE_SESSION_SECRET": SECRET, "CONSOLE_TRUSTED_PROXIES": "10.0.0.0/8"}, "together"),
        ({"CONSOLE_SESSION_SECRET": SECRET, "CONSOLE_PROXY_SECRET": "x"}, "together"),
        ({"CONSOLE_SESSION_SECRET": SECRET, "LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_unusable_settings_are_refused_by_name(env, says):
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({**BASE, **env})


def test_the_process_refuses_to_start_without_a_session_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONSOLE_", "IDENTITY_"))}
    env |= {**BASE, "DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "console"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "console: CONSOLE_SESSION_SECRET is required" in done.stderr
    assert "Traceback" not in done.stderr

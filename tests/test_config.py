"""Configuration: defaults generated once, malformed settings fail in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.config import ConfigError, load_config


def test_dev_defaults_are_generated_once(tmp_path):
    env = {"KONTOR_INSTANCE_PATH": str(tmp_path), "KONTOR_COOKIE_SECURE": "false"}
    first = load_config(env)
    second = load_config(env)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["KONTOR_ENCRYPTION_KEYS"] == second["KONTOR_ENCRYPTION_KEYS"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first["KONTOR_DATABASE_URL"] == f"sqlite:///{tmp_path / 'kontor.db'}"
    assert first["KONTOR_QUEUE_URL"] == f"sqlite:///{tmp_path / 'queue.db'}"
    assert first["KONTOR_BASE_URL"] == "http://127.0.0.1:5000"
    assert first["RATELIMIT_STORAGE_URI"] == f"sqlite:///{tmp_path / 'ratelimit.db'}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KONTOR_DATABASE_URL", "mysql://x"),
        ("KONTOR_QUEUE_URL", "amqp://x"),
        ("KONTOR_MAIL_PORT", "zwei"),
        ("KONTOR_MAIL_USE_TLS", "vielleicht"),
        ("KONTOR_ENCRYPTION_KEYS", "kurz"),
        ("KONTOR_SERVICE_TOKENS", "abc"),
        ("KONTOR_MAIL_ALLOWED_HOSTS", "nur-host"),
        ("KONTOR_PLANS_FILE", "/nicht/da.json"),
        ("KONTOR_RATELIMIT_STORAGE_URL", "file:///tmp"),
        ("KONTOR_LOGIN_LIMIT", "ten per minute"),
        ("KONTOR_LOGIN_LIMIT", "10 per minute;"),
        ("KONTOR_BASE_URL", "kontor.example"),
        ("KONTOR_BASE_URL", "ftp://kontor.example"),
        ("KONTOR_BASE_URL", "https://kontor.example/?next=x"),
        ("KONTOR_BASE_URL", "https://user@kontor.example"),
        ("KONTOR_BASE_URL", "https://kontor.example:99999"),
        ("KONTOR_BASE_URL", "http://kontor.example"),  # secure cookies need https
        ("KONTOR_IMPRINT_URL", "javascript:alert(1)"),
        ("KONTOR_PRIVACY_URL", "https://"),
        ("KONTOR_TERMS_URL", "//fremd.example/agb"),
    ],
)
def test_malformed_setting_names_the_variable(tmp_path, name, value):
    env = {"KONTOR_INSTANCE_PATH": str(tmp_path), "KONTOR_BASE_URL": "https://kontor.example"}
    with pytest.raises(ConfigError, match=f"^{name}: "):
        load_config({**env, name: value})


def test_base_url_is_required_with_secure_cookies(tmp_path):
    with pytest.raises(ConfigError, match=r"^KONTOR_BASE_URL: required"):
        load_config({"KONTOR_INSTANCE_PATH": str(tmp_path)})
    cfg = load_config(
        {"KONTOR_INSTANCE_PATH": str(tmp_path), "KONTOR_BASE_URL": "https://kontor.example/konto/"}
    )
    assert cfg["KONTOR_BASE_URL"] == "https://kontor.example/konto"


def test_cli_names_a_missing_base_url_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "KONTOR_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("kontor: error: KONTOR_BASE_URL: required")


def test_footer_links_are_hidden_unless_set(tmp_path):
    env = {"KONTOR_INSTANCE_PATH": str(tmp_path), "KONTOR_BASE_URL": "https://kontor.example"}
    assert load_config(env)["KONTOR_IMPRINT_URL"] is None
    cfg = load_config(
        {**env, "KONTOR_IMPRINT_URL": " /impressum ", "KONTOR_TERMS_URL": "https://x.example/agb"}
    )
    assert cfg["KONTOR_IMPRINT_URL"] == "/impressum"
    assert cfg["KONTOR_TERMS_URL"] == "https://x.example/agb"
    assert cfg["KONTOR_PRIVACY_URL"] is None


def test_cli_reports_bad_setting_in_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "KONTOR_INSTANCE_PATH": str(tmp_path),
        "KONTOR_MAIL_PORT": "99999",
    }
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kontor: error: KONTOR_MAIL_PORT: must be between 1 and 65535, got 99999"
    ]

"""Configuration: defaults generated once, malformed settings fail in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.config import ConfigError, load_config


def test_dev_defaults_are_generated_once(tmp_path):
    env = {"KONTOR_INSTANCE_PATH": str(tmp_path)}
    first = load_config(env)
    second = load_config(env)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["KONTOR_ENCRYPTION_KEYS"] == second["KONTOR_ENCRYPTION_KEYS"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first["KONTOR_DATABASE_URL"] == f"sqlite:///{tmp_path / 'kontor.db'}"
    assert first["KONTOR_QUEUE_URL"] == f"sqlite:///{tmp_path / 'queue.db'}"


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
    ],
)
def test_malformed_setting_names_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigError, match=f"^{name}: "):
        load_config({"KONTOR_INSTANCE_PATH": str(tmp_path), name: value})


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

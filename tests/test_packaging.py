"""A plain ``pip install .`` (a wheel, no source tree) gives a working app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
from core import create_app
app = create_app({"KONTOR_INSTANCE_PATH": "inst", "KONTOR_COOKIE_SECURE": "false"})
from core.cli import apply_migrations
apply_migrations(app)
client = app.test_client()
page = client.get("/login").get_data(as_text=True)
assert "<h1>Anmelden</h1>" in page, page
assert client.get("/static/kontor.css").status_code == 200
client.set_cookie("kontor_lang", "en")
assert "<h1>Log in</h1>" in client.get("/login").get_data(as_text=True)
names = sorted(n for n, _ in app.plugin_manager.list_name_plugin())
print(",".join(names))
import core
print(core.__file__)
"""


def test_wheel_installs_a_working_app(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    [wheel] = wheels.glob("kontor-*.whl")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    result = subprocess.run(
        [str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    plugins, location = result.stdout.strip().splitlines()
    assert str(venv) in location  # the installed copy, not the source tree
    assert {"notifications", "remote_support", "subscriptions", "mail_transport"} <= set(
        plugins.split(",")
    )

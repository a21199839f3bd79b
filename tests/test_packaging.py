"""A plain ``pip install .`` (a wheel, no source tree) gives a working app."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
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
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies come from the environment running this test (a venv or
    # not), appended after the new venv's own site-packages; its .pth files are
    # not read there, so an editable install of the source tree stays invisible.
    Path(purelib, "test-dependencies.pth").write_text(
        "\n".join(sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}))
    )
    [wheel] = wheels.glob("kontor-*.whl")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
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
    # The installed entry points are the ones pip wrote from setup.cfg.
    assert (venv / "bin" / "kontor").exists()

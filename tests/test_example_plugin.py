"""The third-party example plugin works through its entry point, with no core change,
and its own tests pass with Kontor's pytest plugin (kontor.testing)."""

from __future__ import annotations

import configparser
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.process import run_plugin_tests
from tests.support.web import login

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "kontor-plugin-datenexport"


@pytest.fixture
def datenexport(monkeypatch):
    """Load the plugin the way core does: from the entry point its setup.cfg declares."""
    cfg = configparser.ConfigParser()
    cfg.read(EXAMPLE / "setup.cfg")
    [line] = [x for x in cfg["options.entry_points"]["kontor.plugins"].splitlines() if x]
    name, value = (part.strip() for part in line.split("="))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    module = EntryPoint(name=name, value=value, group="kontor.plugins").load()
    yield name, module
    for loaded in [m for m in sys.modules if m == value or m.startswith(value + ".")]:
        sys.modules.pop(loaded)


def test_datenexport_loads_from_its_entry_point(make_app, owner, datenexport):
    name, module = datenexport
    app = make_app(plugins={name: module})
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert 'href="/account/export"' in client.get("/account/").get_data(as_text=True)
    page = client.get("/account/export").get_data(as_text=True)
    assert 'href="/account/profile#daten-exportieren"' in page


def test_kontor_testing_is_a_pytest_plugin_of_the_package():
    [plugin] = [ep for ep in entry_points(group="pytest11") if ep.name == "kontor"]
    assert plugin.value == "core.testing"


def test_the_example_plugin_passes_its_own_tests():
    result = run_plugin_tests(EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout

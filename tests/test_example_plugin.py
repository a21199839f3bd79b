"""The third-party example plugin works through its entry point, with no core change."""

from __future__ import annotations

import configparser
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
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
    yield module
    sys.modules.pop(value, None)


def test_datenexport_section_appears_and_leads_to_the_core_export(make_app, owner, datenexport):
    app = make_app(plugins=(datenexport,))
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    overview = client.get("/account/").get_data(as_text=True)
    assert 'href="/account/export"' in overview
    page = client.get("/account/export").get_data(as_text=True)
    assert 'href="/account/profile#daten-exportieren"' in page
    assert 'id="daten-exportieren"' in client.get("/account/profile").get_data(as_text=True)


def test_datenexport_page_requires_login(make_app, datenexport):
    client = make_app(plugins=(datenexport,)).test_client()
    assert client.get("/account/export").status_code == 302

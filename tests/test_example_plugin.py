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


def test_datenexport_section_appears_and_exports_every_plugins_data(make_app, owner, datenexport):
    app = make_app(plugins=(datenexport,))
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    overview = client.get("/account/").get_data(as_text=True)
    assert 'href="/account/export"' in overview
    assert client.get("/account/export").status_code == 200
    response = client.get("/account/export/kontor-daten.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    document = response.json
    assert document["account_id"] == owner.account_id
    core = document["parts"]["core"]
    assert core["company"]["company_name"] == "Muster GmbH"
    assert [u["email"] for u in core["users"]] == ["erika@example.com"]
    assert "password" not in response.get_data(as_text=True).lower()


def test_export_contains_only_the_own_account(make_app, owner, make_owner, datenexport):
    make_owner("fremd@example.com", company="Fremd AG")
    app = make_app(plugins=(datenexport,))
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    body = client.get("/account/export/kontor-daten.json").get_data(as_text=True)
    assert "Fremd AG" not in body and "fremd@example.com" not in body


def test_export_requires_login(make_app, datenexport):
    client = make_app(plugins=(datenexport,)).test_client()
    assert client.get("/account/export/kontor-daten.json").status_code == 302

"""Declarations are checked when the app is created: one clear line, naming the plugin."""

from __future__ import annotations

import subprocess
import sys
import types

import peewee
import pytest
from flask import Blueprint

from core import hookimpl
from core.contract.manager import PluginError
from core.contract.values import Card, EventType, PlanResource, Schema, Section, SensitiveAction
from core.data.db import BaseModel
from tests.conftest import PASSWORD
from tests.support.web import login


def plugin(name: str, **hooks: object) -> types.ModuleType:
    """A module-shaped plugin named ``name`` with these hook implementations."""
    module = types.ModuleType(name)
    for hook_name, func in hooks.items():
        setattr(module, hook_name, hookimpl(func))
    return module


def with_page(name: str, **hooks: object) -> types.ModuleType:
    """A plugin with one page at ``/account/<name>`` (endpoint ``<name>.index``)."""
    bp = Blueprint(name, __name__)
    bp.add_url_rule(f"/account/{name}", "index", lambda: "ok")
    return plugin(name, kontor_blueprints=lambda: [bp], **hooks)


def test_section_with_a_misspelt_endpoint_stops_the_start(make_app):
    broken = with_page(
        "extra", kontor_settings_sections=lambda: [Section("extra", "Extra", "extra.indx", 90)]
    )
    with pytest.raises(PluginError, match=r"'extra' declares a section for endpoint 'extra.indx'"):
        make_app(plugins=(broken,))


def test_section_page_needing_url_arguments_stops_the_start(make_app):
    bp = Blueprint("extra", __name__)
    bp.add_url_rule("/account/extra/<int:id>", "item", lambda id: "ok")
    broken = plugin(
        "extra",
        kontor_blueprints=lambda: [bp],
        kontor_settings_sections=lambda: [Section("extra", "Extra", "extra.item", 90)],
    )
    with pytest.raises(PluginError, match="a URL without arguments"):
        make_app(plugins=(broken,))


def test_misspelt_sensitive_action_stops_the_start_instead_of_dropping_the_guard(make_app):
    broken = with_page(
        "extra", kontor_sensitive_actions=lambda: [SensitiveAction("extra.delete_all")]
    )
    with pytest.raises(PluginError, match=r"sensitive action for endpoint 'extra.delete_all'"):
        make_app(plugins=(broken,))


def test_plan_resource_with_a_missing_manage_page_stops_the_start(make_app):
    broken = plugin(
        "extra",
        kontor_plan_resources=lambda: [PlanResource("pages", "Seiten", manage_endpoint="x.y")],
    )
    with pytest.raises(
        PluginError, match=r"'extra' declares a plan resource's page for endpoint 'x.y'"
    ):
        make_app(plugins=(broken,))


def test_card_for_no_section_names_the_plugin(make_app, owner, capsys):
    broken = with_page(
        "extra", kontor_overview_cards=lambda: [Card("extra", "Extra", [], "extra.index", 90)]
    )
    app = make_app(plugins=(broken,))  # cards depend on the account: checked when shown
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert client.get("/account/").status_code == 500
    assert (
        "plugin 'extra' declares an overview card for endpoint 'extra.index', "
        "which is no section's page" in capsys.readouterr().err
    )


class Note(BaseModel):
    text = peewee.TextField()

    class Meta:
        table_name = "notes"


def test_schema_table_without_the_plugin_prefix_stops_the_start(make_app):
    broken = plugin("notes_plugin", kontor_schema=lambda: Schema("notes_plugin", [Note]))
    with pytest.raises(
        PluginError, match=r"owns table 'notes', which lacks the prefix 'notes_plugin_'"
    ):
        make_app(plugins=(broken,))


def test_schema_named_unlike_its_plugin_stops_the_start(make_app):
    broken = plugin("notes", kontor_schema=lambda: Schema("notizen", [Note]))
    with pytest.raises(PluginError, match=r"'notes' returns a schema named 'notizen'"):
        make_app(plugins=(broken,))


@pytest.mark.parametrize(
    ("hook", "value", "kind"),
    [
        ("kontor_event_types", EventType("invoice.overdue", "Überfällig", 1), "event type"),
        ("kontor_plan_resources", PlanResource("users", "Benutzer"), "plan resource"),
        ("kontor_settings_sections", Section("profile", "Profil", "core.profile", 1), "section"),
    ],
)
def test_key_claimed_twice_names_both_plugins(make_app, hook, value, kind):
    first = plugin("erstes", **{hook: lambda: [value]})
    second = plugin("zweites", **{hook: lambda: [value]})
    plugins = (first, second) if kind == "event type" else (second,)
    with pytest.raises(PluginError, match=rf"{kind} '{value.key}' is claimed by both") as error:
        make_app(plugins=plugins)
    named = "'erstes' and 'zweites'" if kind == "event type" else "'core' and 'zweites'"
    assert named in str(error.value)


def test_channel_key_claimed_twice_names_both_plugins(make_app):
    class Fax:
        key, label, order, missing_target = "email", "Fax", 99, "keine Nummer"

    broken = plugin("fax", kontor_notification_channels=lambda: [Fax()])
    clash = r"channel 'email' is claimed by both 'notifications' and 'fax'"
    with pytest.raises(PluginError, match=clash):
        make_app(plugins=(broken,))


def test_url_claimed_by_two_plugins_names_both(make_app):
    broken = with_page("extra")
    clash = Blueprint("clash", __name__)
    clash.add_url_rule("/account/extra", "index", lambda: "auch")
    other = plugin("clash", kontor_blueprints=lambda: [clash])
    with pytest.raises(PluginError, match=r"URL '/account/extra' is claimed by both"):
        make_app(plugins=(broken, other))


def test_the_cli_prints_the_error_in_one_line_without_traceback(tmp_path):
    """A broken installed plugin: `kontor` says what is wrong in one line and exits 2."""
    package = tmp_path / "broken_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from core import hookimpl\n"
        "from core import SensitiveAction\n\n"
        "@hookimpl\n"
        "def kontor_sensitive_actions():\n"
        "    return [SensitiveAction('core.delete_everything')]\n"
    )
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[kontor.plugins]\nbroken = broken_plugin\n")
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "plugins"],
        env={
            "PYTHONPATH": str(tmp_path),
            "KONTOR_INSTANCE_PATH": str(tmp_path / "instance"),
            "KONTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KONTOR_SECRET_KEY": "test-secret-key-0123456789abcdef",
            "KONTOR_COOKIE_SECURE": "false",
            "KONTOR_SUBSCRIPTIONS_CREDITOR_ID": "DE98ZZZ09999999999",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kontor: error: plugin 'broken' declares a sensitive action for endpoint "
        "'core.delete_everything', which no route has"
    ]
    assert "Traceback" not in result.stderr

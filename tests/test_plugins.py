"""The plugin contract: hooks return data, core registers it."""

from __future__ import annotations

import sys
import types

import pytest
from flask import Blueprint
from markupsafe import Markup

from core import hookimpl
from core.plugins import PluginError, plugin_infos
from core.types import Card, EventType, Section, SensitiveAction, SlotContent


def test_bundled_plugins_come_through_entry_points(app):
    infos = {i.name: i for i in plugin_infos(app.plugin_manager)}
    for name in ("notifications", "remote_support", "subscriptions", "mail_transport"):
        assert infos[name].origin.startswith("entry point")
    assert infos["core.builtin"].origin == "core"
    assert "kontor_settings_sections" in infos["notifications"].hooks


def test_disabled_plugin_is_not_imported_and_its_section_is_gone(make_app, user_client):
    sys.modules.pop("plugins.notifications", None)
    sys.modules.pop("plugins.notifications.views", None)
    app = make_app({"KONTOR_DISABLED_PLUGINS": "notifications"})
    assert "plugins.notifications" not in sys.modules
    names = {name for name, _ in app.plugin_manager.list_name_plugin()}
    assert "notifications" not in names and "subscriptions" in names
    client = app.test_client()
    client.set_cookie("kontor_session", user_client.get_cookie("kontor_session").value)
    page = client.get("/account/").get_data(as_text=True)
    assert "/account/notifications" not in page and "/account/subscription" in page
    assert client.get("/account/notifications").status_code == 404
    assert client.get("/account/subscription").status_code == 200


def test_misspelt_hook_fails_start_with_clear_message(make_app):
    plugin = types.ModuleType("typo_plugin")

    @hookimpl
    def kontor_setings_sections():  # missing "t"
        return []

    plugin.kontor_setings_sections = kontor_setings_sections
    with pytest.raises(PluginError, match="kontor_setings_sections"):
        make_app(plugins=(plugin,))


def test_hook_with_unknown_argument_fails_start(make_app):
    plugin = types.ModuleType("bad_args_plugin")

    @hookimpl
    def kontor_overview_cards(account, visitor):
        return []

    plugin.kontor_overview_cards = kontor_overview_cards
    with pytest.raises(PluginError, match="bad_args_plugin"):
        make_app(plugins=(plugin,))


class ThirdParty:
    """A plugin object: a section, an overview card and a banner slot."""

    __name__ = "third_party"
    bp = Blueprint("third_party", __name__)

    @staticmethod
    @bp.get("/account/extra")
    def page() -> str:
        return "Zusatzmodul aktiv"

    @hookimpl
    def kontor_blueprints(self):
        return [self.bp]

    @hookimpl
    def kontor_settings_sections(self):
        return [Section("extra", "Zusatzmodul", "third_party.page", order=5)]

    @hookimpl
    def kontor_overview_cards(self, account):
        return [Card("extra", "Zusatz", [f"für {account.company_name}"], "third_party.page", 1)]

    @hookimpl
    def kontor_template_slot(self, slot):
        if slot == "banner":
            return [SlotContent(Markup('<div class="banner">Wartung heute</div>'), 1)]
        return None


def test_third_party_section_card_and_slot_appear_in_order(make_app, owner):
    from tests.conftest import PASSWORD
    from tests.support.web import login

    app = make_app(plugins=(ThirdParty(),))
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    page = client.get("/account/").get_data(as_text=True)
    nav = page[page.index("<nav") : page.index("</nav>")]
    assert nav.index("Übersicht") < nav.index("Zusatzmodul") < nav.index("Nutzerdaten")
    assert "für Muster GmbH" in page
    assert '<div class="banner">Wartung heute</div>' in page
    assert client.get("/account/extra").get_data(as_text=True) == "Zusatzmodul aktiv"


def test_each_app_has_its_own_plugin_manager(make_app):
    first = make_app(plugins=(ThirdParty(),))
    second = make_app()
    assert first.plugin_manager is not second.plugin_manager
    assert "third_party" not in {n for n, _ in second.plugin_manager.list_name_plugin()}


def test_plugins_command_lists_name_version_origin_hooks(runner):
    from core.cli import cli

    result = runner.invoke(cli, ["plugins"])
    assert result.exit_code == 0
    block = result.output.split("notifications  0.1.0  entry point (kontor)\n", 1)[1]
    hooks = block.splitlines()[0]
    assert hooks.startswith("    hooks: ") and "kontor_event_types" in hooks


def test_declarations_are_collected_once_when_the_app_is_created(make_app, user_client):
    """Event types, channels, plan resources and sensitive actions cannot change
    while the app runs: pages use what was collected at creation."""
    calls: list[str] = []
    plugin = types.ModuleType("counting_plugin")

    @hookimpl
    def kontor_event_types():
        calls.append("event_types")
        return [EventType("counting.tick", "Gezählte Ereignisse", order=99)]

    @hookimpl
    def kontor_notification_channels():
        calls.append("channels")
        return []

    @hookimpl
    def kontor_plan_resources():
        calls.append("plan_resources")
        return []

    @hookimpl
    def kontor_sensitive_actions():
        calls.append("sensitive_actions")
        return [SensitiveAction("core.profile")]

    for hook in (
        kontor_event_types,
        kontor_notification_channels,
        kontor_plan_resources,
        kontor_sensitive_actions,
    ):
        setattr(plugin, hook.__name__, hook)
    app = make_app(plugins=(plugin,))
    created = sorted(calls)
    assert created == ["channels", "event_types", "plan_resources", "sensitive_actions"]
    client = app.test_client()
    client.set_cookie("kontor_session", user_client.get_cookie("kontor_session").value)
    for _ in range(2):
        for page in ("/account/", "/account/notifications", "/account/subscription"):
            assert client.get(page).status_code == 200
    assert "Gezählte Ereignisse" in client.get("/account/notifications").get_data(as_text=True)
    assert sorted(calls) == created

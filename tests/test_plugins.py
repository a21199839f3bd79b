"""The plugin contract: hooks return data, core registers it."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from flask import Blueprint
from markupsafe import Markup

from core import hookimpl
from core.contract.manager import PluginError, declared, plugin_infos
from core.contract.values import Card, EventType, Section, SensitiveAction, SlotContent
from core.data.db import bind
from core.delivery.customer_mail import DELIVERY_FAILED, transport_for
from core.delivery.messages import OperatorTransport


def test_bundled_plugins_come_through_entry_points(app):
    infos = {i.name: i for i in plugin_infos(app.plugin_manager)}
    for name in ("notifications", "remote_support", "subscriptions", "mail_transport"):
        assert infos[name].origin.startswith("entry point")
    assert infos["core.contract.builtin"].origin == "core"
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


ROOT = Path(__file__).resolve().parent.parent
VIEW_MODULES = [
    *ROOT.glob("core/*views.py"),
    *ROOT.glob("plugins/*/views.py"),
    *ROOT.glob("plugins/*/*_views.py"),
]


def test_views_check_roles_only_through_core_permissions():
    """A view says its role rule once with a ``core.web.permissions`` decorator, so
    ``can(endpoint)`` answers the page with the same rule."""
    assert len(VIEW_MODULES) >= 5
    for path in VIEW_MODULES:
        text = path.read_text()
        assert not re.search(r"\brole\s*[!=]=|\.is_manager\b|is_owner\(", text), path


def test_plugins_add_no_template_filters_or_app_state_of_their_own():
    """Filters are core's for every template; per-app state lives in the one
    registry, ``app.extensions["kontor"]``."""
    forbidden = re.compile(
        r"jinja_env|template_filter|template_global|context_processor"
        r"|extensions\[(?!\"kontor\"\])|extensions\.setdefault"
    )
    for path in ROOT.glob("plugins/**/*.py"):
        assert not forbidden.search(path.read_text()), path
    assert not re.search(
        r"extensions\[\"kontor_", "".join(p.read_text() for p in ROOT.glob("core/*.py"))
    )


def test_customer_mail_and_its_failure_event_are_cores(make_app, make_owner):
    """Without the mail transport plugin, customer mail still has its event,
    declared by core, and goes through core's operator transport."""
    app = make_app({"KONTOR_DISABLED_PLUGINS": "mail_transport"})
    owners = {
        name
        for name, et in declared(app.plugin_manager, "kontor_event_types")
        if et.key == DELIVERY_FAILED
    }
    assert owners == {"core"}
    owner = make_owner()
    with app.app_context(), bind(app).connection_context():
        transport = transport_for(owner.account)
        assert type(transport) is OperatorTransport and not transport.keep_history


def test_the_mail_plugin_sends_through_cores_operator_transport(app, owner, ctx):
    """The plugin's "Kontor-Mailserver" mode is core's transport with the
    account's sender name, reply-to address and history choice."""
    from plugins.mail_transport.models import MailSettings

    MailSettings.create(
        account=owner.account,
        sender_name="Muster Versand",
        reply_to="antwort@example.com",
        keep_history=True,
    )
    transport = transport_for(owner.account)
    assert type(transport) is OperatorTransport and transport.keep_history
    sender, reply_to = transport.sender(owner.account)
    assert (sender.display_name, reply_to.addr_spec) == ("Muster Versand", "antwort@example.com")
    assert sender.addr_spec == app.config["KONTOR_MAIL_DEFAULT_SENDER"]

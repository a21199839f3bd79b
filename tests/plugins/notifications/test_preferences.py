"""The event x channel matrix."""

from __future__ import annotations

import re

from core import hookimpl
from core.contract.values import EventType
from tests.conftest import PASSWORD
from tests.support.web import login, submit

SPEC_EVENTS = [
    "Angenommene Angebote",
    "Verschickte Abo-Rechnungen",
    "Ganz oder teilweise überfällige Mahnungen",
    "Gesendete Mahnungen",
    "Fällige TAN-Abfragen",
    "Bevorstehendes Erreichen von Tariflimits",
]


def _checkboxes(page: str) -> dict[str, bool]:
    """Accessible name -> checked, from label[for] + input id pairs."""
    labels = dict(
        (re.search(r'for="([^"]+)"', m.group(1)).group(1), m.group(2))
        for m in re.finditer(r'<label ([^>]*class="visually-hidden"[^>]*)>([^<]+)</label>', page)
    )
    boxes = {}
    for m in re.finditer(r'<input([^>]*)type="checkbox"([^>]*)>', page):
        attrs = m.group(1) + m.group(2)
        box_id = re.search(r'id="([^"]+)"', attrs).group(1)
        boxes[labels[box_id]] = "checked" in attrs
    return boxes


def test_matrix_has_every_event_and_channel_with_accessible_names(user_client):
    page = user_client.get("/account/notifications").get_data(as_text=True)
    boxes = _checkboxes(page)
    for event in SPEC_EVENTS:
        assert boxes[f"{event}: Per E-Mail"] is True
        assert boxes[f"{event}: Per Smartphone"] is False
    assert "Benachrichtigungsverlauf" in page


def test_saving_the_matrix(user_client):
    page = user_client.get("/account/notifications").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = user_client.post(
        "/account/notifications",
        data={"csrf_token": token, "quote_accepted__sms": "y", "tan_due__email": "y"},
    )
    assert response.status_code == 302
    boxes = _checkboxes(user_client.get("/account/notifications").get_data(as_text=True))
    assert boxes["Angenommene Angebote: Per Smartphone"] is True
    assert boxes["Angenommene Angebote: Per E-Mail"] is False
    assert boxes["Fällige TAN-Abfragen: Per E-Mail"] is True
    assert boxes["Gesendete Mahnungen: Per E-Mail"] is False


def test_missing_target_links_to_meine_firma(user_client):
    page = user_client.get("/account/notifications").get_data(as_text=True)
    assert "Per Smartphone an: nicht hinterlegt" in re.sub(r"<[^>]+>", "", page)
    assert 'href="/account/company"' in page


class WebhookPlugin:
    """A third-party plugin adding one event and one channel."""

    __name__ = "webhook_plugin"

    class Channel:
        key = "webhook"
        label = "Per Webhook"
        order = 30
        missing_target = "Keine URL"

        def target(self, account):
            return "https://hooks.example/x"

        def send(self, account, target, notification):
            WebhookPlugin.sent.append((target, notification.subject))

    sent: list = []

    @hookimpl
    def kontor_event_types(self):
        return [
            EventType(
                "invoice.paid",
                "Bezahlte Rechnungen",
                order=15,
                default_channels=frozenset({"webhook"}),
            )
        ]

    @hookimpl
    def kontor_notification_channels(self):
        return [self.Channel()]


def test_third_party_event_and_channel_grow_the_matrix(make_app, owner):
    from core.data.db import bind
    from core.delivery.events import emit

    app = make_app(plugins=(WebhookPlugin(),))
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    boxes = _checkboxes(client.get("/account/notifications").get_data(as_text=True))
    assert boxes["Bezahlte Rechnungen: Per Webhook"] is True
    assert boxes["Angenommene Angebote: Per Webhook"] is False
    assert boxes["Bezahlte Rechnungen: Per E-Mail"] is False
    with app.app_context(), bind(app).connection_context():
        emit(owner.account, "invoice.paid", {"number": "RE-1"})
    assert WebhookPlugin.sent == [("https://hooks.example/x", "Kontor: Bezahlte Rechnungen")]


def test_matrix_post_without_csrf_is_refused(user_client):
    response = user_client.post("/account/notifications", data={"quote_accepted__sms": "y"})
    assert response.status_code == 400
    boxes = _checkboxes(user_client.get("/account/notifications").get_data(as_text=True))
    assert boxes["Angenommene Angebote: Per Smartphone"] is False


def test_preferences_are_per_account(app, user_client, make_owner):
    other = make_owner("b@example.com", company="B")
    submit(user_client, "/account/notifications", {"quote_accepted__sms": "y"})
    client = app.test_client()
    login(client, other.email, PASSWORD)
    boxes = _checkboxes(client.get("/account/notifications").get_data(as_text=True))
    assert boxes["Angenommene Angebote: Per Smartphone"] is False


def test_matrix_labels_follow_each_requests_language(app, user_client, make_owner):
    """The form class is built once per app; its labels must not freeze the
    language of the first request that built it."""
    user_client.set_cookie("kontor_lang", "en")
    english = _checkboxes(user_client.get("/account/notifications").get_data(as_text=True))
    assert english["Accepted quotes: By e-mail"] is True
    other = make_owner("b@example.com", company="B")
    german_client = app.test_client()
    login(german_client, other.email, PASSWORD)
    german = _checkboxes(german_client.get("/account/notifications").get_data(as_text=True))
    assert german["Angenommene Angebote: Per E-Mail"] is True
    assert not any(label.startswith("Accepted") for label in german)
    user_client.set_cookie("kontor_lang", "de")
    again = _checkboxes(user_client.get("/account/notifications").get_data(as_text=True))
    assert again == german

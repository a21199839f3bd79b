"""U+2028 and U+2029 are line breaks to the email package: refused in names,
subjects and addresses at input, and a mail that cannot be built fails at once."""

from __future__ import annotations

import pytest

from core.data.db import bind
from core.data.models import Account, User
from core.delivery.customer_mail import CustomerMail, CustomerMailRecipient, send_customer_mail
from core.delivery.outbox import MailOutbox
from core.web.validation import has_control_chars
from plugins.notifications.models import Delivery
from tests.support.web import AUTH, invite, submit

SEPARATORS = ["\u2028", "\u2029", "\x85", "\x1c"]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_line_and_paragraph_separators_are_control_characters(separator):
    assert has_control_chars(f"Muster{separator}GmbH")


def test_ordinary_text_passes():
    assert not has_control_chars("Müller & Söhne, Köln – „Angebot“ 1.234,56 €")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_company_name_with_a_separator_is_a_form_error(user_client, separator):
    response = submit(
        user_client,
        "/account/company",
        {"company_name": f"Muster{separator}GmbH", "notification_email": "", "mobile_number": ""},
    )
    assert response.status_code == 422
    assert "Steuerzeichen sind in diesem Feld nicht erlaubt." in response.get_data(as_text=True)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_sender_name_with_a_separator_is_a_form_error(user_client, separator):
    response = submit(
        user_client,
        "/account/mail",
        {"mode": "service", "sender_name": f"Chef{separator}X", "reply_to": "", "submit": "1"},
    )
    assert response.status_code == 422
    assert "Steuerzeichen sind in diesem Feld nicht erlaubt." in response.get_data(as_text=True)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_api_mail_with_a_separator_in_the_subject_is_422(client, owner, separator):
    response = client.post(
        f"/api/v1/accounts/{owner.account_id}/mails",
        headers=AUTH,
        json={"to": "jörg@example.com", "subject": f"Angebot{separator}Teil 2", "text": "T"},
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"subject": "printable characters only"}


def test_invitation_that_cannot_be_built_is_a_form_error_and_adds_no_user(
    app, roomy_owner, user_client
):
    # A company name stored before separators were refused.
    with app.app_context(), bind(app).connection_context():
        Account.update(company_name="Muster\u2028GmbH").where(
            Account.id == roomy_owner.account_id
        ).execute()
    response = invite(user_client, email="jörg@example.com")
    assert response.status_code == 422
    assert "Die Einladung an diese Adresse konnte nicht erstellt werden." in response.get_data(
        as_text=True
    )
    with app.app_context(), bind(app).connection_context():
        assert User.get_or_none(User.email == "jörg@example.com") is None
        assert MailOutbox.select().count() == 0


def test_invitation_to_a_utf8_local_part_is_queued(app, roomy_owner, user_client):
    assert invite(user_client, email="jörg@example.com").status_code == 302
    with app.app_context(), bind(app).connection_context():
        [row] = MailOutbox.select()
        assert row.status == "sent"
        assert "jörg@example.com" in row.message


def test_mail_that_cannot_be_built_fails_at_once_and_is_notified(app, owner):
    """The worker records a building failure as permanent: no row left in "sending"."""
    with app.app_context(), bind(app).connection_context():
        # Stored before separators were refused at input.
        row = CustomerMail.create(
            account=owner.account_id, transport="service", subject="Angebot\u2028X", text="T"
        )
        CustomerMailRecipient.create(mail=row, address="jörg@example.com")
        send_customer_mail(row.id)
        row = CustomerMail.get_by_id(row.id)
        assert row.status == "failed" and row.attempts == 1
        assert row.error
        [recipient] = row.recipients
        assert recipient.status == "failed"
        [delivery] = Delivery.select().where(Delivery.event_type == "mail.delivery_failed")
        assert delivery.target == owner.email

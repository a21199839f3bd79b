"""Forms render with WTForms' own widgets: values and labels escaped, the
attributes browsers and screen readers need, errors next to their field."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired

from core.web.forms import Form
from tests.support.web import submit

HOSTILE = 'Müller & "Söhne" <b>'


class QuotedForm(Form):
    """Labels whose (lazy, Flask-Babel) translation contains double quotes."""

    name = StringField(_l('Name laut "Handelsregister"'), validators=[DataRequired()])
    agree = BooleanField(_l('Ich akzeptiere die "AGB"'))
    plain = StringField(HOSTILE)
    submit = SubmitField(_l('Tarif "Pro" buchen'))


def _macro(app: Flask, form: Form, name: str, **kwargs: Any) -> str:
    with app.test_request_context("/"):
        bound = form() if isinstance(form, type) else form
        return render_template_string(
            '{% from "_forms.html" import field %}{{ field(f, **kw) }}', f=bound[name], kw=kwargs
        )


def test_a_lazy_submit_label_with_a_double_quote_is_escaped(app: Flask) -> None:
    with app.test_request_context("/"):
        html = QuotedForm().submit()
    assert 'value="Tarif &quot;Pro&quot; buchen"' in html
    assert 'type="submit"' in html


def test_labels_render_through_wtforms_and_escape_plain_text(app: Flask) -> None:
    html = _macro(app, QuotedForm, "name")
    assert '<label for="name">Name laut "Handelsregister"</label>' in html
    checkbox = _macro(app, QuotedForm, "agree")
    assert '<input id="agree" name="agree" type="checkbox" value="y">' in checkbox
    assert '<label class="check" for="agree">Ich akzeptiere die "AGB"</label>' in checkbox
    plain = _macro(app, QuotedForm, "plain")
    assert '<label for="plain">Müller &amp; &#34;Söhne&#34; &lt;b&gt;</label>' in plain


def test_a_lazy_label_used_as_an_attribute_is_escaped(app: Flask) -> None:
    with app.test_request_context("/"):
        form = QuotedForm()
        html = form.name(placeholder=form.name.label.text)
    assert 'placeholder="Name laut &quot;Handelsregister&quot;"' in html


def test_submitted_values_are_escaped(client: FlaskClient) -> None:
    page = submit(
        client,
        "/register",
        {"company_name": HOSTILE, "first_name": "Erika", "last_name": "M", "email": "kaputt"},
    )
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "<b>" not in html
    assert 'value="Müller &amp; &#34;Söhne&#34; &lt;b&gt;"' in html


def _input(html: str, name: str) -> str:
    match = re.search(rf'<input [^>]*name="{name}"[^>]*>', html)
    assert match, name
    return match.group(0)


def test_required_fields_carry_the_required_attribute(client: FlaskClient) -> None:
    html = client.get("/register").get_data(as_text=True)
    for name in ("company_name", "first_name", "last_name", "email", "password"):
        assert " required" in _input(html, name), name
    assert 'autocomplete="email"' in _input(html, "email")
    assert 'type="email"' in _input(html, "email")
    assert 'type="password"' in _input(html, "password")


def test_errors_sit_next_to_their_field_and_are_announced(client: FlaskClient) -> None:
    page = submit(
        client,
        "/register",
        {"company_name": "Muster GmbH", "first_name": "", "last_name": "M", "email": "kaputt"},
    )
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    email = _input(html, "email")
    assert 'aria-invalid="true"' in email and 'aria-describedby="email-error"' in email
    after = html[html.index(email) :]
    error = re.search(r'<p class="error" id="email-error" role="alert">([^<]+)</p>', after)
    assert error and after.index(error.group(0)) < after.index("<label")
    assert "E-Mail-Adresse" in error.group(1)
    first = _input(html, "first_name")
    assert 'aria-describedby="first_name-error"' in first
    assert 'id="first_name-error" role="alert">Dieses Feld ist erforderlich.</p>' in html
    company = _input(html, "company_name")
    assert "aria-invalid" not in company and 'value="Muster GmbH"' in company

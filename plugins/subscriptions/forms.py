"""Forms of the subscriptions plugin."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from core.forms import Form
from core.validation import PlainText, strip_filter

_REQUIRED = _l("Dieses Feld ist erforderlich.")
_MAX = _l("Höchstens %(max)d Zeichen.")


class ConfirmChangeForm(Form):
    plan = HiddenField(validators=[DataRequired(), Length(max=50)])
    submit = SubmitField(_l("Wechsel bestätigen"))


class CancelForm(Form):
    reason = TextAreaField(
        _l("Grund der Kündigung (optional)"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=500, message=_MAX)],
    )
    submit = SubmitField(_l("Jetzt kündigen"))


class ButtonForm(Form):
    submit = SubmitField(_l("Bestätigen"))


def _text(label: str, max_len: int, required: bool = True) -> StringField:
    checks = [DataRequired(_REQUIRED)] if required else [Optional()]
    return StringField(
        label,
        filters=[strip_filter],
        validators=[*checks, Length(max=max_len, message=_MAX), PlainText()],
    )


class BillingForm(Form):
    name = _text(_l("Name oder Firma"), 200)
    street = _text(_l("Straße und Hausnummer"), 200)
    postal_code = StringField(
        _l("PLZ"),
        filters=[strip_filter],
        validators=[
            DataRequired(_REQUIRED),
            Regexp(
                r"^[0-9A-Za-z -]{3,10}$",
                message=_l("Bitte geben Sie eine gültige Postleitzahl ein."),
            ),
        ],
    )
    city = _text(_l("Ort"), 100)
    country = SelectField(
        _l("Land"),
        choices=[
            SelectChoice("DE", _l("Deutschland")),
            SelectChoice("AT", _l("Österreich")),
            SelectChoice("CH", _l("Schweiz")),
        ],
        default="DE",
    )
    payment_method = RadioField(
        _l("Zahlungsart"),
        choices=[
            SelectChoice("sepa", _l("SEPA-Lastschrift")),
            SelectChoice("invoice", _l("Rechnung")),
        ],
        default="invoice",
        validators=[InputRequired(_REQUIRED)],
    )
    account_holder = _text(_l("Kontoinhaber"), 200, required=False)
    iban = StringField(
        _l("IBAN"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=42, message=_MAX), PlainText()],
    )
    interval = RadioField(
        _l("Abrechnungszeitraum"),
        choices=[SelectChoice("month", _l("monatlich")), SelectChoice("year", _l("jährlich"))],
        default="month",
        validators=[InputRequired(_REQUIRED)],
    )
    submit = SubmitField(_l("Speichern"))

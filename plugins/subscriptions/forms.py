"""Forms of the subscriptions plugin."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.ch import vat as ch_vat
from stdnum.eu import vat as eu_vat
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from core.forms import Form
from core.validation import EmailAddress, PlainText, strip_filter

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
        _l("PLZ"), filters=[strip_filter], validators=[DataRequired(_REQUIRED), Length(max=10)]
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
    vat_id = StringField(
        _l("USt-IdNr. (optional)"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=20, message=_MAX), PlainText()],
    )
    billing_email = EmailField(
        _l("E-Mail-Adresse für Rechnungen"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=254, message=_MAX), EmailAddress()],
    )
    # No Optional() here: it would stop the chain before the checks below
    # that require these fields for SEPA.
    account_holder = StringField(
        _l("Kontoinhaber"),
        filters=[strip_filter],
        validators=[Length(max=200, message=_MAX), PlainText()],
    )
    iban = StringField(
        _l("IBAN"), filters=[strip_filter], validators=[Length(max=42, message=_MAX), PlainText()]
    )
    sepa_mandate = BooleanField(_l("Ich erteile das SEPA-Lastschriftmandat."))
    interval = RadioField(
        _l("Abrechnungszeitraum"),
        choices=[SelectChoice("month", _l("monatlich")), SelectChoice("year", _l("jährlich"))],
        default="month",
        validators=[InputRequired(_REQUIRED)],
    )
    submit = SubmitField(_l("Speichern"))

    def __init__(self, *args: Any, has_iban: bool = False, mandated: bool = False, **kw: Any):
        """``has_iban``: an IBAN is stored; ``mandated``: a mandate for it was given."""
        super().__init__(*args, **kw)
        self.has_iban, self.mandated = has_iban, mandated

    @property
    def sepa(self) -> bool:
        return self.payment_method.data == "sepa"

    def validate_postal_code(self, field: Field) -> None:
        pattern, message = POSTCODES.get(self.country.data, (None, None))
        if pattern and not re.fullmatch(pattern, field.data or ""):
            raise ValidationError(message)

    def validate_vat_id(self, field: Field) -> None:
        if not field.data:
            return
        if eu_vat.is_valid(field.data):
            field.data = eu_vat.compact(field.data)
        elif ch_vat.is_valid(field.data):
            field.data = ch_vat.compact(field.data)
        else:
            raise ValidationError(
                _l(
                    "Diese USt-IdNr. ist ungültig. Bitte prüfen Sie Länderkennung und Ziffern "
                    "(z. B. DE123456789)."
                )
            )

    def validate_payment_method(self, field: Field) -> None:
        if field.data == "sepa" and not current_app.config["KONTOR_SUBSCRIPTIONS_CREDITOR_ID"]:
            raise ValidationError(
                _l("Die SEPA-Lastschrift ist derzeit nicht verfügbar. Bitte wählen Sie Rechnung.")
            )

    def validate_account_holder(self, field: Field) -> None:
        if self.sepa and not field.data:
            raise ValidationError(_l("Für die SEPA-Lastschrift wird der Kontoinhaber benötigt."))

    def validate_iban(self, field: Field) -> None:
        if field.data:
            try:
                field.data = IBAN(field.data).compact
            except SchwiftyException:
                raise ValidationError(_l("Bitte geben Sie eine gültige IBAN ein.")) from None
        elif self.sepa and not self.has_iban:
            raise ValidationError(_l("Für die SEPA-Lastschrift wird eine IBAN benötigt."))

    def validate_sepa_mandate(self, field: Field) -> None:
        if self.sepa and not field.data and (self.iban.data or not self.mandated):
            raise ValidationError(
                _l("Bitte erteilen Sie das SEPA-Lastschriftmandat, um per Lastschrift zu zahlen.")
            )


# Postcodes per country: Germany five digits, Austria and Switzerland four.
POSTCODES = {
    "DE": ("[0-9]{5}", _l("Eine Postleitzahl in Deutschland hat fünf Ziffern.")),
    "AT": ("[0-9]{4}", _l("Eine Postleitzahl in Österreich hat vier Ziffern.")),
    "CH": ("[0-9]{4}", _l("Eine Postleitzahl in der Schweiz hat vier Ziffern.")),
}

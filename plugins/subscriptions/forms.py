"""Forms of the subscriptions plugin."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from stdnum.ch import vat as ch_vat
from stdnum.eu import vat as eu_vat
from wtforms import (
    BooleanField,
    DateField,
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

from core import EmailAddress, Form, PlainText, strip_filter
from plugins.subscriptions import services

_REQUIRED = _l("Dieses Feld ist erforderlich.")
_MAX = _l("Höchstens %(max)d Zeichen.")


class ConfirmChangeForm(Form):
    plan = HiddenField(validators=[DataRequired(), Length(max=50)])
    submit = SubmitField(_l("Wechsel bestätigen"))


class CancelForm(Form):
    """The cancellation page (§ 312k BGB): who cancels, how, to when, and where
    the confirmation goes. ``earliest`` maps each kind to the first day the
    contract can end."""

    name = StringField(
        _l("Ihr Name"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=200, message=_MAX), PlainText()],
    )
    email = EmailField(
        _l("E-Mail-Adresse des Kontos"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=254, message=_MAX), EmailAddress()],
    )
    kind = RadioField(
        _l("Art der Kündigung"),
        choices=[
            SelectChoice("ordinary", _l("Ordentliche Kündigung")),
            SelectChoice("extraordinary", _l("Außerordentliche Kündigung aus wichtigem Grund")),
        ],
        default="ordinary",
        validators=[InputRequired(_REQUIRED)],
    )
    reason = TextAreaField(
        _l("Grund der außerordentlichen Kündigung"),
        filters=[strip_filter],
        validators=[Length(max=500, message=_MAX)],
    )
    end = RadioField(
        _l("Kündigen zum"),
        choices=[
            SelectChoice("next", _l("nächstmöglichen Zeitpunkt")),
            SelectChoice("date", _l("folgenden Datum")),
        ],
        default="next",
        validators=[InputRequired(_REQUIRED)],
    )
    end_date = DateField(
        _l("Datum des Vertragsendes"),
        validators=[Optional()],
        invalid_value_message=_l("Bitte geben Sie ein Datum an, z. B. 31.12.2026."),
    )
    confirm_to = EmailField(
        _l("Bestätigung senden an"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=254, message=_MAX), EmailAddress()],
    )
    submit = SubmitField(_l("jetzt kündigen"))

    def __init__(self, *args: Any, earliest: Mapping[str, dt.date], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.earliest = earliest

    def validate_reason(self, field: Field) -> None:
        if self.kind.data == "extraordinary" and not field.data:
            raise ValidationError(
                _l("Bitte nennen Sie den wichtigen Grund für die außerordentliche Kündigung.")
            )

    def validate(self, extra_validators: Any = None) -> bool:
        """A chosen date is required and may not lie before the earliest possible end."""
        valid = super().validate(extra_validators)
        if self.end.data != "date" or self.end_date.errors:
            return valid
        earliest = self.earliest.get(self.kind.data or "")
        if self.end_date.data is None:
            message = _l("Bitte geben Sie das Datum an, zu dem der Vertrag enden soll.")
        elif earliest is not None and self.end_date.data < earliest:
            message = _l(
                "Frühestens zum %(date)s möglich. Bitte wählen Sie dieses oder ein späteres Datum.",
                date=format_date(earliest, "medium"),
            )
        else:
            return valid
        self.end_date.errors = [*self.end_date.errors, message]
        return False


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
                field.data = services.normalise_iban(field.data).compact
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
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

"""Forms of the remote support plugin."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from core import MAX_ROW_ID, Form, PlainText, strip_filter
from plugins.remote_support.services import DURATION_LABELS, SCOPE_LABELS

_REQUIRED = _l("Dieses Feld ist erforderlich.")


class GrantForm(Form):
    duration = SelectField(
        _l("Dauer"),
        choices=[SelectChoice(k, v) for k, v in DURATION_LABELS.items()],
        default="7d",
    )
    scope = RadioField(
        _l("Umfang"),
        choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()],
        default="full",
        validators=[InputRequired(_REQUIRED)],
    )
    submit = SubmitField(_l("Genehmigung erteilen"))


class RevokeForm(Form):
    submit = SubmitField(_l("Genehmigung widerrufen"))


class StaffLoginForm(Form):
    email = EmailField(
        _l("E-Mail-Adresse"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=254)],
    )
    password = PasswordField(_l("Passwort"), validators=[DataRequired(_REQUIRED), Length(max=200)])
    code = StringField(
        _l("Einmalcode"),
        filters=[strip_filter],
        validators=[
            DataRequired(_REQUIRED),
            Regexp(r"^\d{6}$", message=_l("Der Einmalcode hat 6 Ziffern.")),
        ],
    )
    submit = SubmitField(_l("Anmelden"))


class StartSessionForm(Form):
    account_id = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=MAX_ROW_ID)])
    reason = StringField(
        _l("Grund oder Ticketnummer"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=200), PlainText()],
    )
    submit = SubmitField(_l("Sitzung starten"))


class EndSessionForm(Form):
    submit = SubmitField(_l("Sitzung beenden"))

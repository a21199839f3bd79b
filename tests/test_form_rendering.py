"""Input fields render through core.forms.attributes: the same HTML as WTForms writes."""

from __future__ import annotations

from markupsafe import Markup
from wtforms import StringField
from wtforms.meta import DefaultMeta
from wtforms.widgets import Input
from wtforms.widgets.core import html_params

from core.forms import Form, attributes
from plugins.notifications.forms import form_classes

ODD = "Müller & \"Söhne\" <b>'x'"
EXTRA = {"aria_describedby": 'f-error"<', "data_hint": "ä&ö", "class_": "a b", "readonly": False}


def test_attributes_are_written_as_wtforms_writes_them():
    mixed = {**EXTRA, "value": ODD, "required": True, "maxlength": 100, "placeholder": None}
    assert attributes(**mixed) == html_params(**mixed)
    assert attributes() == html_params() == ""
    assert isinstance(attributes(**mixed), Markup)
    assert "<b>" not in attributes(value=ODD) and "&#34;" in attributes(value=ODD)


def _form_classes() -> list[type[Form]]:
    found, todo = [], list(Form.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_field_of_every_form_renders_as_wtforms_would(app):
    compared = 0
    with app.test_request_context("/"):
        form_classes()  # the notification matrix is built per app
        for cls in _form_classes():
            form = cls()
            for field in form:
                if isinstance(field, StringField):
                    field.data = ODD
                plain = DefaultMeta.render_field(form.meta, field, dict(EXTRA))
                assert field(**EXTRA) == plain, f"{cls.__name__}.{field.name}"
                assert field() == DefaultMeta.render_field(form.meta, field, {})
                compared += isinstance(field.widget, Input)
    assert compared >= 40  # every form of core and the four plugins took part

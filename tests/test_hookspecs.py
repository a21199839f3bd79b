"""docs/hooks.md documents every hook with its exact signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from core.contract import hookspecs

DOC = (Path(__file__).resolve().parent.parent / "docs" / "hooks.md").read_text()


def _specs():
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if name.startswith("kontor_") and callable(fn)
    }


def _signature(fn) -> str:
    params = ", ".join(
        f"{p.name}: {p.annotation}" for p in inspect.signature(fn).parameters.values()
    )
    return f"def {fn.__name__}({params}) -> {inspect.signature(fn).return_annotation}"


def _documented() -> dict[str, str]:
    return dict(re.findall(r"^### `(kontor_\w+)`\n\n```python\n(def .+)\n```", DOC, re.M))


def test_every_hook_is_documented_with_its_signature():
    documented = _documented()
    for name, fn in _specs().items():
        assert documented.get(name) == _signature(fn), name


def test_no_documented_hook_is_missing_from_the_specs():
    assert set(_documented()) == set(_specs())


def test_first_result_hooks_are_marked_in_docs():
    for name, fn in _specs().items():
        first = getattr(fn, "kontor_spec", {}).get("firstresult", False)
        section = DOC.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        assert ("**First result wins.**" in section) == first, name


def test_every_spec_has_a_docstring_and_types():
    for name, fn in _specs().items():
        assert inspect.getdoc(fn), name
        assert inspect.signature(fn).return_annotation is not inspect.Signature.empty, name

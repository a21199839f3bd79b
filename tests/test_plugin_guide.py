"""The plugin guide works as printed: its smallest plugin runs, and a plugin
written from the guide alone (tests/fixtures/kontor-plugin-notizen) passes its
own tests with kontor.testing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.process import run_plugin_tests

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "writing-plugins.md").read_text()
NOTIZEN = ROOT / "tests" / "fixtures" / "kontor-plugin-notizen"


def code_block(after: str) -> str:
    """The first Python code block of the guide below the heading ``after``."""
    section = GUIDE[GUIDE.index(f"## {after}") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def assert_passed(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout


def test_the_smallest_plugin_runs_as_printed(tmp_path):
    (tmp_path / "hallo.py").write_text(code_block("The smallest useful plugin"))
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(code_block("Testing a plugin").replace("notizen", "hallo"))
    (tests / "test_hallo.py").write_text(
        "def test_the_section_shows_the_company(owner_client):\n"
        "    page = owner_client.get('/account/hallo').get_data(as_text=True)\n"
        "    assert '<h1>Hallo Muster GmbH</h1>' in page\n"
        "    overview = owner_client.get('/account/').get_data(as_text=True)\n"
        "    assert 'href=\"/account/hallo\"' in overview\n"
        "\n"
        "def test_the_section_needs_a_login(app):\n"
        "    assert app.test_client().get('/account/hallo').status_code == 302\n"
    )
    assert_passed(run_plugin_tests(tmp_path))


def test_a_plugin_written_from_the_guide_passes_its_own_tests():
    assert_passed(run_plugin_tests(NOTIZEN))

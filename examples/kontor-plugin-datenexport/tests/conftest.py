"""Register the plugin for every test app, installed or not."""

import pytest


@pytest.fixture
def kontor_plugins():
    import kontor_datenexport

    return {"datenexport": kontor_datenexport}

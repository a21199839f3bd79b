from __future__ import annotations

import pytest

from tests.support.http_sink import start_sink


@pytest.fixture
def sms_gateway():
    sink = start_sink()
    yield sink
    sink.stop()

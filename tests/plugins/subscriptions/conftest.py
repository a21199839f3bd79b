"""The support console's fixtures, for the invoice pages' support-session test."""

from tests.plugins.remote_support.conftest import staff, staff_client  # noqa: F401

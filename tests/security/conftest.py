"""The web pages' fixtures (a user and a browser-like client) for the security tests."""

from tests.web.conftest import web  # noqa: F401 (a fixture used by name)

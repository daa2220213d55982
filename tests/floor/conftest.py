import pytest


@pytest.fixture(autouse=True)
def _fresh_rules_and_notify_caches():
    """Rule sets and the notification hub's people/endpoint lookups are cached per process;
    ids are reused after each test's rollback, so every test starts with empty caches."""
    from orderhub.notify.services import clear_caches
    from orderhub.rules.engine import forget_rules

    clear_caches()
    forget_rules()
    yield
    clear_caches()
    forget_rules()


# the browser test here uses the e2e fixtures (Debian's Chromium, screenshots)
from tests.e2e.conftest import browser_type_launch_args, shot  # noqa: E402, F401

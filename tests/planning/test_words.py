"""The planning pages speak Chinese: no codes, None or machine timestamps in their text."""

import html
import re
from datetime import datetime

import pytest
from django.test import Client
from django.utils import translation

from orderhub.core import clock
from orderhub.planning.risk import risk_scan
from tests.conftest import SH
from tests.e2e.visible import offending_tokens
from tests.planning.test_promise import confirm

pytestmark = pytest.mark.django_db

TAGS = re.compile(r"<(script|style|code|pre|textarea)\b.*?</\1>|<[^>]+>", re.S)


def test_planning_pages_have_no_codes(company, lines, monday_morning):
    [confirm(company, qty="160") for _ in range(2)]
    rush = confirm(company, qty="80")
    with clock.frozen(datetime(2026, 11, 25, 11, 0, tzinfo=SH)):
        risk_scan()
        pages = ["/planning/", "/planning/lines/", "/planning/risks/", "/planning/risks/?hours=168",
                 f"/orders/{rush.number}/rush/"]
        with translation.override("zh-hans"):
            for role in ("planner", "manager"):
                c = Client(headers={"Accept-Language": "zh-hans"})
                c.force_login(company["users"][role])
                for url in pages:
                    r = c.get(url)
                    assert r.status_code == 200, (role, url)
                    text = html.unescape(TAGS.sub(" ", r.content.decode()))
                    bad = offending_tokens(text, allowed=frozenset(company["users"]))
                    assert bad == [], (role, url, bad)

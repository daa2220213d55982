"""Every form of the web workspace, posted with hostile values, answers without a 500; so does
every page asked for with hostile query strings and paths.

The forms are found on the pages themselves (each ``<form method="post">`` and its inputs, each
``<form method="get">`` for the filters), so a form added later is covered without touching
this test. Each field gets each hostile value in turn while the others keep what the page filled
in: NUL, a vertical tab, a line far longer than any column, numbers beyond every column's digits,
Unicode digits ``int()`` refuses, dates that do not exist."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from orderhub.floor.services import floor_ticket_open
from orderhub.intake.models import Draft, InboundMessage
from orderhub.orders.services import ticket_open
from tests.web.test_pages import make_order

pytestmark = pytest.mark.django_db

HOSTILE = ["\x00", "A\x0bB", "x" * 3000, "9" * 40, "1e400", "NaN", "²", "2026-02-30"]


class _Forms(HTMLParser):
    """Forms of a page (``method`` POST, or GET): action and the inputs with their values."""

    def __init__(self, method: str = "post"):
        super().__init__(convert_charrefs=True)
        self.method = method
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = None
            if (a.get("method") or "get").lower() == self.method:
                self._form = {"action": a.get("action") or "", "fields": {}, "files": []}
                self.forms.append(self._form)
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind == "file":
                self._form["files"].append(name)
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["fields"].setdefault(name, a.get("value", "on"))
            elif kind != "submit" or "value" in a:
                self._form["fields"].setdefault(name, a.get("value", ""))
        elif tag == "select" and name:
            self._select = name
            self._form["fields"].setdefault(name, "")
        elif tag == "option" and self._select and ("selected" in a or not self._form["fields"][self._select]):
            self._form["fields"][self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self._form["fields"][name] = ""
        elif tag == "button" and name:
            self._form["fields"].setdefault(name, a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data


def _forms(client: Client, path: str) -> list[dict]:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    parser = _Forms()
    parser.feed(resp.content.decode())
    for f in parser.forms:
        f["action"] = f["action"] or path
    return [f for f in parser.forms if "/logout" not in f["action"] and "csrfmiddlewaretoken" not in f["action"]]


@pytest.fixture(autouse=True)
def _forget_what_the_posts_cached():
    """The posts save rules and endpoints, which processes cache by id; the ids are reused after
    this test's rollback, so the caches must not outlive it."""
    from orderhub.notify.services import clear_caches
    from orderhub.rules.engine import forget_rules

    yield
    clear_caches()
    forget_rules()


@pytest.fixture
def pages(master, intake_actor):
    """The pages with forms, for a company with an order, a ticket, an open draft and a link."""
    from orderhub.intake.services import quick_link_issue

    company = master
    order = make_order(company)
    ticket = ticket_open(order=order.number, kind="exception", title="缺料", owner_role="planner",
                         actor=company["actors"]["service"])
    msg = InboundMessage.objects.create(channel="email", kind="attachment", payload=b"%PDF-", size=5,
                                        content_type="application/pdf", sha256="0" * 64,
                                        received_at=order.created_at)
    draft = Draft.objects.create(message=msg, data={"customer": "C001", "lines": [{"sku": "HSG-100", "qty": "1"}],
                                                    "required_date": "2026-12-20"},
                                 confidence={}, created_at=order.created_at)
    token = quick_link_issue(customer="C001", actor=company["actors"]["admin"])
    floor = floor_ticket_open(order=order.number, problem_type="size", body="外径尺寸超差",
                              actor=company["actors"]["admin"])
    return ["/tickets/new/", f"/tickets/new/?order={order.number}", "/tickets/knowledge/",
            "/settings/problem-types/", f"/tickets/{floor.pk}/", f"/orders/{order.number}/", "/orders/new/", "/intake/upload/", f"/intake/drafts/{draft.pk}/",
            "/settings/workflows/T1/", "/settings/calendar/", "/settings/customers/_new/",
            "/settings/customers/C001/", "/settings/products/_new/", "/settings/products/HSG-100/",
            "/settings/stock/", "/settings/users/", "/notifications/me/", "/settings/notify/endpoints/new/",
            "/rules/new/", f"/tickets/{ticket.pk}/", f"/q/{token}", "/settings/intake/",
            "/settings/intake/miniprogram/"]


def test_every_web_form_survives_hostile_values(pages):
    admin = Client(raise_request_exception=False)
    assert admin.login(username="admin", password="pw-admin")
    crashes, posted = [], 0
    forms = [(page, form) for page in pages for form in _forms(admin, page)]  # before any post changes them
    for page, form in forms:
        for name in form["fields"]:
            if name == "csrfmiddlewaretoken":
                continue
            for value in HOSTILE:
                data = {**form["fields"], name: value}
                resp = admin.post(form["action"], data)
                posted += 1
                if resp.status_code >= 500:
                    crashes.append((page, form["action"], name, value[:20], resp.status_code))
    assert posted > 300  # the forms were found
    assert not crashes, "\n".join(map(repr, crashes))


LIST_PAGES = ["/", "/orders/", "/intake/", "/intake/drafts/", "/settings/", "/settings/customers/",
              "/settings/products/", "/settings/stock/", "/settings/users/", "/notifications/",
              "/notifications/dead/", "/settings/notify/", "/rules/", "/rules/firings/", "/tickets/",
              "/board/T1/", "/settings/calendar/", "/settings/intake/", "/settings/intake/taobao/"]
GET_HOSTILE = ["\x00", "²", "9" * 40, "x" * 3000]


def test_every_page_survives_hostile_query_strings_and_paths(master):
    """NUL in a path or a filter reached PostgreSQL (a 500 on a dozen pages); '²' passed
    ``str.isdigit()`` on its way to ``int()``."""
    order = make_order(master)
    admin = Client(raise_request_exception=False)
    assert admin.login(username="admin", password="pw-admin")
    crashes = []
    for page in LIST_PAGES:
        resp = admin.get(page)
        assert resp.status_code == 200, page
        parser = _Forms("get")
        parser.feed(resp.content.decode())
        names = {n for f in parser.forms for n in f["fields"]} | {"page", "q", "rule", "view", "stamp"}
        for name in sorted(names):
            for value in GET_HOSTILE:
                status = admin.get(page, {name: value}).status_code
                if status >= 500:
                    crashes.append((page, name, value[:10], status))
    for path in (f"/orders/{order.number}/?a=²&b=1", "/orders/%00/", "/orders/A%0BB/", "/board/%00/",
                 "/board/%00/columns", "/settings/workflows/%00/", "/settings/customers/%00/",
                 "/settings/products/%00/", "/q/%00", "/settings/notify/endpoints/%00/",
                 "/settings/notify/templates/%00/%00/", f"/orders/{order.number}/files/1?download=%00",
                 "/intake/99999999999999999999/"):
        status = admin.get(path).status_code
        if status >= 500:
            crashes.append((path, status))
    assert admin.get("/orders/%00/").status_code == 400
    assert not crashes, "\n".join(map(repr, crashes))

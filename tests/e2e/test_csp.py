"""Every main page under the strict Content-Security-Policy in a real browser (Debian's Chromium):
an administrator and a planner walk the workspace, using what runs on it (the htmx board,
marking a notification read, moving an order, adding an order line, the import progress bar,
Swagger at /api/docs), and the test fails on any CSP violation or JavaScript error. Hostile
payloads (a script in a webhook body, an HTML attachment) are on the pages they visit and must
not run."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orderhub.core import clock
from orderhub.intake import services as intake
from orderhub.intake.models import Draft
from orderhub.notify.delivery import deliver_due
from orderhub.orders.inputs import LineInput
from orderhub.orders.services import order_attach, order_create, order_transition, ticket_open
from tests.conftest import order_input
from tests.intake.conftest import _fresh_intake_caches, intake_actor, master  # noqa: F401 (fixtures)
from tests.web.test_downloads import PNG

pytestmark = [pytest.mark.django_db(transaction=True)]

SECRET = "csp-test-secret"
HOSTILE_JSON = b'{"order_id": "X-1", "note": "<script>window.__xss = 1</script><img src=x onerror=\\"window.__xss=2\\">"}'
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
                    (e.sourceFile || document.location.pathname) + ":" + e.lineNumber);
});
"""


class Watch:
    """CSP violations (from the page's own event) and console errors / uncaught exceptions."""

    def __init__(self, ctx):
        self.errors: list[str] = []
        ctx.add_init_script(WATCH)
        ctx.on("page", self.attach)

    def attach(self, page):
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text} {m.location}"))
        page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status} {r.url}"))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def check(self, page, what: str):
        page.wait_for_load_state("load")
        violations = page.evaluate("window.__csp || []")
        assert not violations, f"{what}: CSP violations {violations}"
        assert not self.errors, f"{what}: JavaScript errors {self.errors}"
        assert page.evaluate("window.__xss === undefined"), f"{what}: a stored payload ran"


@pytest.fixture
def workspace(master, intake_actor, settings, tmp_path):  # noqa: F811
    """An order the planner can move, one with an attachment and a ticket, an in-app
    notification, a hostile webhook payload in the inbox, a refused request, an OCR draft
    with its picture, and a finished import."""
    settings.MEDIA_ROOT = tmp_path
    settings.ORDERHUB_RUN_JOBS_INLINE = False
    company = master
    actors = company["actors"]
    order = order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("50"))]),
                         actor=actors["service"]).order
    order_transition(order=order.number, to="scheduled", actor=actors["service"])
    order_attach(order=order.number, name="drawing.png", content=PNG, content_type="image/png", actor=actors["planner"])
    order_attach(order=order.number, name="x.html", content=b"<script>window.__xss=3</script>",
                 content_type="text/html", actor=actors["planner"])
    ticket = ticket_open(order=order.number, kind="exception", title="来料不良", owner_role="qc",
                         actor=actors["planner"])
    deliver_due()  # the planner's in-app message for the scheduled order
    intake.channel_save(code="miniprogram", secret=SECRET, window_seconds=300, actor=intake_actor)
    from django.test import Client

    # a hostile body as received (not yet parsed), and one refused at the door
    hostile = intake.inbound_receive(channel="miniprogram", kind="webhook", payload=HOSTILE_JSON,
                                     actor=intake_actor, content_type="text/html")
    Client().post("/api/intake/miniprogram", data=b"<script>alert(1)</script>", content_type="text/html")
    scan = intake.inbound_receive(channel="email", kind="attachment", payload=PNG, actor=intake_actor,
                                  content_type="image/png", filename="po.png")
    draft = Draft.objects.create(message=scan, data={"customer": "C001", "lines": [{"sku": "HSG-100", "qty": "5"}]},
                                 confidence={"customer": 0.9}, text="PO", created_at=clock.now())
    job = intake.upload_receive(channel="taobao", filename="orders.csv", content=b"a,b\r\n1,2\r\n",
                                actor=actors["planner"], content_type="text/csv")
    intake.upload_run(job=job.pk, actor=actors["planner"])
    return {"order": order, "ticket": ticket, "hostile": hostile, "draft": draft, "job": job}


def _login(page, base: str, role: str):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(role)
    page.get_by_label("密码").fill("pw-" + role)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()


def test_planner_pages_run_under_the_policy(workspace, live_server, browser):
    base, order = live_server.url, workspace["order"]
    ctx = browser.new_context(locale="zh-CN")
    watch = Watch(ctx)
    page = ctx.new_page()
    try:
        _login(page, base, "planner")
        watch.check(page, "home")
        page.goto(f"{base}/board/T1/")
        expect(page.locator('section[data-stage="scheduled"]')).to_contain_text(order.number)
        with page.expect_response(lambda r: "/board/T1/columns" in r.url and "stamp=" in r.url):
            pass  # htmx polls with the stamp it reads from the page (no eval)
        watch.check(page, "board")
        page.goto(f"{base}/orders/")
        watch.check(page, "order list")
        page.goto(f"{base}/orders/{order.number}/")
        pic = page.locator(f'img[src$="/files/{order.attachments.get(name="drawing.png").pk}"]')
        pic.scroll_into_view_if_needed()  # lazy: it loads (and has a size) once scrolled to
        expect(pic).to_be_visible()
        assert page.evaluate("(img) => img.naturalWidth", pic.element_handle()) > 0  # a download, drawn by <img>
        watch.check(page, "order detail")
        page.get_by_test_id("move-materials_ready").click()
        expect(page.get_by_test_id("stage")).to_have_text("物料齐套")
        watch.check(page, "order moved")
        page.goto(f"{base}/orders/new/")
        rows = page.locator("#lines tbody tr")
        before = rows.count()
        page.locator("[data-add-line]").click()
        expect(rows).to_have_count(before + 1)
        watch.check(page, "new order")
        page.goto(f"{base}/notifications/")
        page.get_by_test_id("mark-read").first.click()  # htmx POST with the CSRF header from hx-headers
        expect(page.get_by_test_id("mark-read")).to_have_count(0)
        watch.check(page, "notifications")
        page.goto(f"{base}/intake/")
        watch.check(page, "intake inbox")
        page.goto(f"{base}/intake/{workspace['hostile'].pk}/")
        expect(page.get_by_test_id("payload-text")).to_contain_text("<script>window.__xss = 1</script>")
        watch.check(page, "intake message with a hostile payload")
        page.goto(f"{base}/intake/drafts/{workspace['draft'].pk}/")
        preview = page.get_by_test_id("document-preview")
        expect(preview).to_be_visible()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
        watch.check(page, "draft")
        page.goto(f"{base}/intake/upload/")
        watch.check(page, "import upload")
        page.goto(f"{base}/intake/jobs/{workspace['job'].pk}/")
        bar = page.locator(".progress-bar")
        expect(bar).to_have_attribute("style", "width: 100%;")  # set by app.js from data-percent
        watch.check(page, "import job")
        page.goto(f"{base}/rules/")
        watch.check(page, "rules")
        page.goto(f"{base}/rules/firings/")
        with page.expect_navigation():
            page.locator("select[name=rule]").select_option(index=0)  # data-autosubmit
        assert "rule=" in page.url
        watch.check(page, "rule firings")
        page.goto(f"{base}/tickets/")
        watch.check(page, "tickets")
        page.goto(f"{base}/tickets/{workspace['ticket'].pk}/")
        watch.check(page, "ticket")
        page.goto(f"{base}/notifications/me/")
        watch.check(page, "my notification settings")
        page.goto(f"{base}/api/docs")
        expect(page.locator(".swagger-ui .info")).to_contain_text("OrderHub API", timeout=30_000)
        page.locator(".opblock-tag", has_text="orders").first.click()
        expect(page.locator(".opblock").first).to_be_visible()
        watch.check(page, "API docs")
    finally:
        ctx.close()


def test_admin_pages_run_under_the_policy(workspace, live_server, browser):
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN")
    watch = Watch(ctx)
    page = ctx.new_page()
    try:
        _login(page, base, "admin")
        watch.check(page, "home")
        with page.expect_navigation():
            page.locator("select[name=language]").select_option("en")  # data-autosubmit
        expect(page.get_by_role("heading", name="My work")).to_be_visible()
        with page.expect_navigation():
            page.locator("select[name=language]").select_option("zh-hans")
        expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
        watch.check(page, "language switch")
        for path in ("/settings/", "/settings/workflows/T1/", "/settings/calendar/", "/settings/customers/",
                     "/settings/customers/C001/", "/settings/products/", "/settings/products/HSG-100/",
                     "/settings/stock/", "/settings/users/", "/settings/notify/",
                     "/settings/notify/endpoints/new/", "/notifications/dead/", "/rules/new/",
                     "/intake/refused/", "/intake/drafts/"):
            page.goto(base + path)
            watch.check(page, path)
        page.goto(f"{base}/intake/refused/")
        expect(page.get_by_test_id("refused")).to_contain_text("签名")
        page.goto(f"{base}/settings/notify/")
        page.locator("select[name=event]").select_option(index=0)
        page.get_by_role("button", name="编辑").click()  # data-fill-action puts event/channel in the URL
        expect(page).to_have_url(f"{base}/settings/notify/templates/" + page.url.split("/templates/")[1])
        assert "EVENT" not in page.url
        watch.check(page, "template edit")
        page.goto(f"{base}/settings/customers/C001/")
        page.locator("form[action$='/quick-link'] button").click()
        expect(page.get_by_test_id("qr")).to_be_visible()
        watch.check(page, "quick link with its QR code")
        token = (page.get_by_test_id("quick-url").text_content() or "").rsplit("/q/", 1)[-1].strip()
        page.goto(f"{base}/q/{token}")
        watch.check(page, "customer's quick-order page")
    finally:
        ctx.close()

"""WCAG AA on the main pages, checked by axe-core (from npm) inside real Chromium."""

from decimal import Decimal
from pathlib import Path

import pytest

from orderhub.orders.inputs import LineInput
from orderhub.orders.services import order_create, order_hold, order_transition
from tests.conftest import order_input

from .test_workspace import _login

pytestmark = [pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def _axe(page) -> list[dict]:
    """Serious and critical violations of the WCAG 2 A/AA rules on the current page."""
    if not AXE.exists():
        pytest.fail(f"axe-core not found at {AXE}: run `make assets` (npm ci)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("width", [1440, 390])
def test_main_pages_have_no_serious_accessibility_violations(company, live_server, browser, width):
    service = company["actors"]["service"]
    red = order_create(data=order_input(lines=[LineInput(sku="HSG-100", qty=Decimal("200"))],
                                        urgency="red"), actor=service).order
    order_transition(order=red.number, to="scheduled", actor=service)
    order_transition(order=red.number, to="materials_ready", actor=company["actors"]["planner"])
    held = order_create(data=order_input(urgency="yellow"), actor=service).order
    order_hold(order=held.number, reason="客户要求暂停", actor=service)
    order_create(data=order_input(), actor=service)

    # bypass_csp only lets the test inject axe itself; the pages are otherwise as served
    ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN",
                              bypass_csp=True)
    page = ctx.new_page()
    problems = {}
    try:
        _login(page, live_server.url, "planner")
        for url in ("/", "/orders/", f"/orders/{red.number}/", f"/orders/{held.number}/",
                    "/board/T1/", "/board/T1/?view=colour", "/notifications/"):
            page.goto(live_server.url + url)
            page.wait_for_load_state("networkidle")
            found = _axe(page)
            if found:
                problems[url] = found
    finally:
        ctx.close()
    report = "\n".join(f"{url} {v['id']}: {n}" for url, vs in problems.items() for v in vs
                       for n in v["nodes"])
    assert not problems, report


SETUP_PAGES = ("/settings/", "/settings/workflows/T1/", "/settings/calendar/", "/settings/customers/",
               "/settings/customers/C001/", "/settings/products/",
               "/settings/products/HSG-100/", "/settings/stock/", "/settings/users/", "/settings/notify/",
               "/notifications/me/", "/settings/intake/", "/settings/intake/miniprogram/")
INTAKE_PAGES = ("/intake/", "/intake/upload/", "/intake/drafts/", "/intake/refused/")
RULE_PAGES = ("/rules/", "/rules/new/", "/rules/firings/")


def test_settings_intake_and_rule_pages_have_no_serious_accessibility_violations(company, live_server, browser):
    from orderhub.core.actors import Actor
    from orderhub.intake import services as intake
    from orderhub.intake.models import Draft
    from orderhub.rules.models import Rule
    from orderhub.rules.services import rules_install_defaults

    system = Actor.system("setup")
    intake.config_install_templates(actor=system)
    rules_install_defaults(actor=system)
    msg = intake.inbound_receive(channel="email", kind="api", payload=b"\x89PNG scan", actor=system,
                                 content_type="image/png")
    draft = Draft.objects.create(message=msg, created_at=msg.received_at, data={
        "customer": "C001", "required_date": "2026-12-20", "lines": [{"sku": "HSG-100", "qty": "5"}]})
    rule = Rule.objects.order_by("pk").first()
    pages = (*SETUP_PAGES, *INTAKE_PAGES, f"/intake/drafts/{draft.pk}/", f"/intake/{msg.pk}/",
             *RULE_PAGES, f"/rules/{rule.pk}/")
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", bypass_csp=True)
    page = ctx.new_page()
    problems = {}
    try:
        _login(page, live_server.url, "admin")
        for url in pages:
            resp = page.goto(live_server.url + url)
            assert resp is not None and resp.status == 200, url
            page.wait_for_load_state("networkidle")
            found = _axe(page)
            if found:
                problems[url] = found
        # the rule editor with its faults shown (the top list and each field's message)
        page.goto(live_server.url + "/rules/new/")
        page.get_by_test_id("condition").fill("totl > 1")
        page.get_by_test_id("rule-save").click()
        page.wait_for_load_state("networkidle")
        if found := _axe(page):
            problems["/rules/new/ (refused)"] = found
    finally:
        ctx.close()
    report = "\n".join(f"{url} {v['id']}: {n}" for url, vs in problems.items() for v in vs
                       for n in v["nodes"])
    assert not problems, report

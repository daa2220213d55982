"""The form-based workflow editor: the form reproduces the definition exactly, a change is a new
audited version, each fault is shown next to its field, guards are tried on a real order, and
the stages are drawn as a diagram."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from orderhub.core.models import AuditEvent
from orderhub.orders.services import order_create
from orderhub.workflow.models import WorkflowDefinition
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


class _Form(HTMLParser):
    """The fields a browser would submit from the form marked data-testid=``testid``."""

    def __init__(self, testid: str):
        super().__init__()
        self.testid, self.inside, self.fields = testid, False, []
        self._select: str | None = None
        self._first: tuple | None = None
        self._chosen = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("data-testid") == self.testid
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            else:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select, self._first, self._chosen = a["name"], None, False
        elif tag == "option" and self._select:
            if self._first is None:
                self._first = (self._select, a.get("value", ""))
            if "selected" in a:
                self.fields.append((self._select, a.get("value", "")))
                self._chosen = True

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "select" and self._select:
            if not self._chosen and self._first:
                self.fields.append(self._first)
            self._select = None


def form_fields(html: str, testid: str = "workflow-form") -> dict[str, list[str]]:
    parser = _Form(testid)
    parser.feed(html)
    out: dict[str, list[str]] = {}
    for name, value in parser.fields:
        out.setdefault(name, []).append(value)
    return out


def admin() -> Client:
    c = Client()
    assert c.login(username="admin", password="pw-admin")
    return c


def current(code: str) -> WorkflowDefinition:
    return WorkflowDefinition.objects.get(code=code, is_current=True)


@pytest.mark.parametrize("code", ["T1", "T2", "T3", "T4"])
def test_the_form_reproduces_each_shipped_workflow_exactly(company, code):
    a = admin()
    page = a.get(f"/settings/workflows/{code}/")
    assert page.status_code == 200
    fields = form_fields(page.content.decode())
    assert fields["stages"] == [str(len(current(code).spec["stages"]) + 1)]
    saved = a.post(f"/settings/workflows/{code}/", fields)
    assert saved.status_code == 302
    assert WorkflowDefinition.objects.filter(code=code).count() == 1   # unchanged: no new version


def test_page_draws_the_stages_and_offers_named_fields(company):
    page = admin().get("/settings/workflows/T3/").content.decode()
    svg = page.split('data-testid="workflow-diagram"')[1].split("</svg>")[0]
    assert all(name in svg for name in ("待签约", "排产锁定", "签收归档"))
    assert svg.count("marker-end=") == 6       # six steps forward in T3
    assert "<script" not in svg
    assert 'data-insert-into="s-3-g-0-expr"' in page and 'value="credit_available"' in page
    assert 'name="definition"' in page          # the YAML stays, as the advanced view


def test_a_changed_guard_and_a_new_stage_make_one_audited_version(company):
    a = admin()
    fields = form_fields(a.get("/settings/workflows/T3/").content.decode())
    fields["s-3-g-1-expr"] = ["credit_available > total * 1.5"]
    # a new stage between dispatch (row 5) and signed_archived (row 6), with a deadline and a check
    new = fields["stages"][0]
    new_i = int(new) - 1
    fields.update({f"s-{new_i}-code": ["customs"], f"s-{new_i}-name": ["报关"],
                   f"s-{new_i}-owner_role": ["logistics"], f"s-{new_i}-deadline_kind": ["business_hours"],
                   f"s-{new_i}-deadline": ["6"], f"s-{new_i}-next": ["6"],
                   f"s-{new_i}-g-0-code": ["has_tag"], f"s-{new_i}-g-0-expr": ['"出口" in tags'],
                   f"s-{new_i}-g-0-message": ["需要出口标签"]})
    fields["s-5-next"] = [str(new_i)]
    fields["note"] = ["加报关"]
    r = a.post("/settings/workflows/T3/", fields)
    assert r.status_code == 302, r.content.decode()[:3000]
    wf = current("T3")
    assert wf.version == 2 and wf.note == "加报关"
    stages = {s["code"]: s for s in wf.spec["stages"]}
    assert stages["production_locked"]["guards"][1]["expr"] == "credit_available > total * 1.5"
    assert stages["production_locked"]["on_enter"]      # what the form does not show is kept
    assert stages["dispatch"]["next"] == ["customs"]
    assert stages["customs"] == {"code": "customs", "name": "报关", "owner_role": "logistics",
                                 "deadline": {"business_hours": 6}, "guards": [
                                     {"code": "has_tag", "expr": '"出口" in tags', "message": "需要出口标签"}],
                                 "next": ["signed_archived"]}
    assert AuditEvent.objects.filter(subject_type="workflow", subject_id=wf.pk, action="workflow.saved").exists()


def test_each_fault_is_shown_next_to_its_field_and_nothing_is_saved(company):
    a = admin()
    fields = form_fields(a.get("/settings/workflows/T3/").content.decode())
    fields["s-3-g-1-expr"] = ["credit_avail > total"]
    fields["s-1-deadline"] = ["soon"]
    r = a.post("/settings/workflows/T3/", fields)
    assert r.status_code == 400
    html = r.content.decode()
    row = html.split('name="s-1-deadline"')[1].split("</div>")[1]
    assert "invalid-feedback" in row
    fields["s-1-deadline"] = ["4"]
    r = a.post("/settings/workflows/T3/", fields)
    html = r.content.decode()
    assert r.status_code == 400
    guard = html.split('name="s-3-g-1-expr"')[0].rsplit("<input", 1)[1] + html.split('name="s-3-g-1-expr"')[1]
    assert "is-invalid" in guard.split(">")[0]
    cell = html.split('name="s-3-g-1-expr"')[1].split("</td>")[0]
    assert "credit_avail" in cell and "invalid-feedback" in cell
    assert 'value="credit_avail &gt; total"' in html     # what was typed stays
    # a removed stage that another still leads to: the fault is at that stage's next stages
    fields = form_fields(a.get("/settings/workflows/T3/").content.decode())
    fields["s-4-delete"] = ["1"]
    fields["s-3-next"] = ["4"]
    r = a.post("/settings/workflows/T3/", fields)
    assert r.status_code == 400
    assert WorkflowDefinition.objects.filter(code="T3").count() == 1


def test_guard_test_button_tries_the_typed_checks_on_a_real_order(company):
    order = order_create(data=order_input(), actor=company["actors"]["service"]).order   # ¥12,000
    a = admin()
    fields = form_fields(a.get("/settings/workflows/T3/").content.decode())
    fields.update({"order": [order.number], "row": ["3"], "guard": ["1"]})
    passed = a.post("/settings/workflows/T3/guard-test", fields).content.decode()
    assert 'data-passed="1"' in passed and "信用" not in passed.split("</h4>")[1].split("<div")[0]
    assert "可用" in passed or "credit" in passed.lower()       # the values the check read are shown
    fields["s-3-g-1-expr"] = ["credit_available > total * 100"]
    blocked = a.post("/settings/workflows/T3/guard-test", fields).content.decode()
    assert 'data-passed="0"' in blocked and "信用额度不足" in blocked
    fields["s-3-g-1-expr"] = ["credit_avail > 1"]
    bad = a.post("/settings/workflows/T3/guard-test", fields).content.decode()
    assert "credit_avail" in bad and "data-passed" not in bad
    fields.update({"order": ["NO-SUCH"], "s-3-g-1-expr": ["total > 1"]})
    assert "data-passed" not in a.post("/settings/workflows/T3/guard-test", fields).content.decode()
    # the whole stage: the line check finds no stock of the housing
    del fields["guard"]
    fields["order"] = [order.number]
    stage = a.post("/settings/workflows/T3/guard-test", fields).content.decode()
    assert 'data-passed="0"' in stage and "库存不足" in stage
    assert WorkflowDefinition.objects.filter(code="T3").count() == 1


def test_hostile_values_in_the_form_are_refused_by_field_not_a_crash(company):
    a = Client(raise_request_exception=False)
    assert a.login(username="admin", password="pw-admin")
    fields = form_fields(a.get("/settings/workflows/T1/").content.decode())
    for name in ("name", "s-0-name", "s-0-code", "s-0-deadline", "s-3-g-0-code", "s-0-next", "initial", "stages",
                 "s-0-orig", "s-2-g-0-expr", "s-2-g-0-message", "s-0-g-0-kind"):
        for value in ("\x00", "A\x0bB", "x" * 3000, "9" * 40, "1e400", "NaN", "²"):
            r = a.post("/settings/workflows/T1/", {**fields, name: value})
            assert r.status_code in (302, 400), (name, value, r.status_code)
            t = a.post("/settings/workflows/T1/guard-test", {**fields, name: value, "row": "2", "order": value})
            assert t.status_code == 200, (name, value)

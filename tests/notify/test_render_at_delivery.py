"""Messages are rendered when delivered, not when queued: the outbox row keeps the context (with
its types) and the deliverer renders the template as it is then, storing the text it sent; pages
render a message still queued for display; a template that fails still delivers its fallback."""

import json
from datetime import date, datetime, time
from decimal import Decimal
from enum import IntEnum
from zoneinfo import ZoneInfo

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext_lazy

from orderhub.notify import codec
from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import Message
from orderhub.notify.rendering import render_message
from orderhub.notify.selectors import with_text
from orderhub.notify.services import (
    NotifyRequest,
    Recipient,
    endpoint_save,
    notify,
    template_save,
)
from orderhub.notify.services.enqueue import _template_context
from orderhub.orders.services import order_create
from tests.conftest import order_input

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DUE = datetime(2026, 11, 24, 17, 30, tzinfo=SH)


class Level(IntEnum):
    HIGH = 3


def _old_payload_context(ctx):
    """What enqueue stored (and webhooks received) before rendering moved to delivery."""
    return json.loads(json.dumps(ctx, cls=DjangoJSONEncoder, default=str))


@pytest.mark.smoke
def test_codec_keeps_the_webhook_context_and_gives_the_types_back():
    ctx = {"due_at": DUE, "naive": datetime(2026, 1, 2, 3, 4, 5, 678000), "day": date(2026, 12, 20),
           "at": time(8, 30), "total": Decimal("1234.50"), "n": 3, "ratio": 0.25, "ok": True, "none": None,
           "text": "苏州", "level": Level.HIGH, "lazy": gettext_lazy("red"), "tags": {"a"},
           "order": {"created_at": DUE, "lines": [{"qty": Decimal("2.000")}, (1, Decimal("0.1"))]},
           7: "int key", None: "none key"}
    plain, types = codec.encode(ctx)
    assert plain == _old_payload_context(ctx)            # payload["context"] exactly as before
    assert json.loads(json.dumps(plain)) == plain
    back = codec.decode(plain, json.loads(json.dumps(types)))   # as read back from the jsonb column
    for key in ("due_at", "naive", "day", "at", "total"):
        assert back[key] == ctx[key] and type(back[key]) is type(ctx[key]), key
    assert str(back["total"]) == "1234.50"
    assert back["order"]["created_at"] == DUE
    assert back["order"]["lines"][0]["qty"] == Decimal("2.000")
    assert back["order"]["lines"][1] == [1, Decimal("0.1")]
    assert back["n"] == 3 and back["level"] == 3 and back["7"] == "int key" and back["null"] == "none key"
    assert back["lazy"] == str(gettext_lazy("red"))     # translated when queued, as before
    # the stored plain context is left as it was (webhooks send it)
    assert plain["order"]["created_at"] == str(DUE) and plain["total"] == "1234.50"
    assert codec.decode({"x": 1}, None) == {"x": 1}


@pytest.mark.smoke
def test_enqueue_leaves_rendering_to_delivery(company, monkeypatch):
    def no_rendering(*a, **kw):
        raise AssertionError("notify() rendered a template")

    monkeypatch.setattr("orderhub.notify.rendering.render_message", no_rendering)
    ctx = {"title": "物料提醒", "message": "检查物料", "due_at": DUE, "amount": Decimal("9.90")}
    assert notify(event="rule.notify", recipients=[Recipient.role("planner"), Recipient.role("qc")],
                  context=ctx, dedupe_key="lazy", channels=["inapp"]) == 2
    for m in Message.objects.filter(dedupe_key__startswith="lazy|"):
        assert (m.subject, m.body, m.status) == ("", "", "queued")
        assert m.payload["render"] is True
        assert m.payload["context"] == _old_payload_context({**ctx, "event": "rule.notify", "severity": "info"})
        assert sorted(m.payload["context_types"]) == [["datetime", "due_at"], ["decimal", "amount"]]
        assert "lang" not in m.payload                    # the default language is not written


@pytest.mark.smoke
def test_delivered_rows_keep_the_text_they_were_sent_with(company, receiver, inline_jobs,
                                                          django_capture_on_commit_callbacks):
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=company["actors"]["admin"],
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.role("planner"), Recipient.role("qc"),
                                                Recipient.webhook("erp")],
               context={"title": "物料提醒", "message": "检查物料"}, dedupe_key="sent")
    rows = list(Message.objects.filter(dedupe_key__startswith="sent|"))
    assert sorted(m.channel for m in rows) == ["inapp", "inapp", "webhook"]
    for m in rows:        # the inbox rows (recorded together) and the webhook (one by one)
        assert m.status == "delivered"
        assert m.subject.startswith("物料提醒") and "检查物料" in m.body, m.channel
    hook = next(m for m in rows if m.channel == "webhook")
    receiver.wait_for(1)
    got = receiver.json(0)
    assert (got["subject"], got["body"]) == (hook.subject, hook.body)
    assert got["context"]["title"] == "物料提醒"
    # a delivered row is not rendered again, even after the template changed
    template_save(event="rule.notify", channel="", subject="新的", body="新的", actor=company["actors"]["admin"])
    assert with_text([Message.objects.get(pk=hook.pk)])[0].subject.startswith("物料提醒")


def test_date_filters_and_decimals_render_as_they_did_at_enqueue(company, monday_morning):
    admin = company["actors"]["admin"]
    template_save(event="order.created", channel="", actor=admin,
                  subject="{{ order.number }} 截止 {{ due_at|date:'m-d H:i' }}",
                  body="下单 {{ order.created_at|date:\"m-d H:i\" }}\n"
                       "交期 {{ order.required_date|date:'Y-m-d' }}\n"
                       "合计 {{ order.total }} {{ amount|floatformat:1 }} {{ amount|add:'1' }}"
                       "{% if amount > 100 %} 大额{% endif %}\n")
    order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    req = NotifyRequest(event="order.created", recipients=[Recipient.role("planner")], order=order,
                        context={"due_at": DUE, "amount": Decimal("1234.50")}, dedupe_key="typed",
                        channels=["inapp"])
    # what the hub rendered at enqueue before (the live, typed context)
    before = render_message("order.created", "inapp", _template_context(req))
    from orderhub.notify.services import notify_many

    notify_many([req])
    deliver_due()
    m = Message.objects.get(dedupe_key__startswith="typed|")
    assert m.status == "delivered"
    assert (m.subject, m.body) == before
    assert m.subject == f"{order.number} 截止 11-24 17:30"
    assert m.body == (f"下单 11-23 09:00\n交期 2026-12-20\n"
                      f"合计 {order.total_amount} 1234.5 1235 大额\n")


def test_the_language_of_the_enqueue_is_the_language_of_the_text(company):
    template_save(event="rule.notify", channel="", subject="{{ due_at|date:'D, M j' }}", body="{{ message }}",
                  actor=company["actors"]["admin"])
    ctx = {"due_at": DUE, "message": "m"}
    with translation.override("en"):
        notify(event="rule.notify", recipients=[Recipient.role("qc")], context=ctx, dedupe_key="en",
               channels=["inapp"])
        english = render_message("rule.notify", "inapp", {**ctx, "event": "rule.notify", "severity": "info"})
    assert english[0] == "Tue, Nov 24"
    m = Message.objects.get()
    assert m.payload["lang"] == "en"
    deliver_due()                  # the deliverer runs in the default language (zh-hans)
    m.refresh_from_db()
    assert m.subject == "Tue, Nov 24"


def test_queued_messages_use_the_template_as_it_is_at_delivery(company):
    notify(event="rule.notify", recipients=[Recipient.role("qc")], context={"title": "T", "message": "M"},
           dedupe_key="edit", channels=["inapp"])
    template_save(event="rule.notify", channel="", subject="改过：{{ title }}", body="{{ message }}。",
                  actor=company["actors"]["admin"])
    deliver_due()
    m = Message.objects.get()
    assert (m.status, m.subject, m.body) == ("delivered", "改过：T", "M。")


@pytest.mark.smoke
def test_a_template_failing_at_delivery_still_delivers_the_fallback(company, receiver, caplog):
    from orderhub.notify.models import MessageTemplate
    from orderhub.notify.services import clear_caches

    endpoint_save(code="erp", name="ERP", kind="webhook", actor=company["actors"]["admin"],
                  config={"url": f"{receiver.url}/h", "secret": "k"})
    # accepted on save (it parses), fails when rendered
    template_save(event="rule.notify", channel="webhook", subject="{{ title }}",
                  body="{% include 'no/such/template.txt' %}", actor=company["actors"]["admin"])
    # a row that does not even parse (written around template_save)
    MessageTemplate.objects.create(event="rule.notify", channel="inapp", subject="{{ title }}", body="{% if %}")
    clear_caches()
    notify(event="rule.notify", recipients=[Recipient.role("qc"), Recipient.webhook("erp")],
           context={"title": "T", "message": "检查物料"}, dedupe_key="broken")
    assert deliver_due() == 2
    for m in Message.objects.all():
        assert m.status == "delivered", m.channel
        assert m.subject == "rule.notify"
        assert m.body.startswith("检查物料\n[template error: "), m.channel
    assert receiver.json(0)["body"].startswith("检查物料\n[template error: ")
    assert "failed to render" in caplog.text


def _login(role: str) -> Client:
    c = Client()
    assert c.login(username=role, password="pw-" + role)
    return c


@pytest.mark.smoke
def test_a_queued_message_shows_its_text_on_its_pages(company, monday_morning):
    order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    notify(event="rule.notify", recipients=[Recipient.role("service")], channels=["inapp"], order=order,
           context={"title": "交期确认", "message": "请确认交期"}, dedupe_key="shown")
    queued = Message.objects.filter(order=order)
    assert queued.count() == 2 and {(m.status, m.subject) for m in queued} == {("queued", "")}
    c = _login("service")
    history = c.get(f"/orders/{order.number}/").content.decode().split('data-testid="deliveries"')[1]
    assert f"新订单 {order.number}" in history        # order.created, from the default template
    assert "交期确认" in history
    # the inbox item (as the mark-read answer draws it) of a message not delivered yet
    one = Message.objects.get(dedupe_key__startswith="shown|")
    item = c.post("/notifications/read", {"id": one.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "交期确认" in item and "请确认交期" in item
    one.refresh_from_db()
    assert (one.subject, one.body) == ("", "")          # showing it wrote nothing
    deliver_due()
    assert "交期确认" in _login("service").get("/notifications/").content.decode()

"""Raw inbox and the WeChat mini-program mapping, file by file as the samples README says."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from orderhub.core.models import AuditEvent
from orderhub.intake import services
from orderhub.intake.models import InboundMessage, InboundOrder
from orderhub.orders.models import Order

from .conftest import sample

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
S = InboundMessage.Status


def receive(name, actor, channel="miniprogram"):
    msg = services.inbound_receive(channel=channel, kind="webhook", payload=sample("miniprogram", name),
                                   content_type="application/json", actor=actor, source="127.0.0.1",
                                   headers={"Authorization": "secret", "User-Agent": "wx"})
    return services.inbound_process(message=msg, actor=actor)


@pytest.mark.smoke
def test_paid_order_becomes_one_order_with_tags_and_check_item(master, intake_actor):
    msg = receive("01-paid.json", intake_actor)
    assert msg.status == S.PARSED, msg.errors
    order = Order.objects.get(channel="miniprogram", external_ref="WX202602031512340001")
    assert order.customer.code == "C0217"  # matched by openid
    assert order.total_amount == Decimal("12860.00")
    assert [(ln.product.sku, ln.qty, ln.unit_price) for ln in order.lines.order_by("line_no")] == [
        ("BRK-PAD-F-2231", Decimal("20"), Decimal("385")), ("OIL-FLT-0915", Decimal("60"), Decimal("86"))]
    assert "#避周一" in order.tags and "#防震泡沫" in order.tags and "check:出厂检验报告" in order.tags
    assert "出厂检验报告" in order.remarks.splitlines()[-1]
    # paid at is kept on the message's link to the order (the order has no such field)
    link = InboundOrder.objects.get(message=msg, order=order)
    assert datetime.fromisoformat(link.meta["paid_at"]) == datetime(2026, 2, 3, 15, 12, 34, tzinfo=SH)
    assert link.created is True
    # no due date in the payload: paid date + the mapping's 5 working days
    assert order.required_date == date(2026, 2, 10)
    # raw first: the bytes verbatim, secrets not among the stored headers
    assert bytes(msg.payload) == sample("miniprogram", "01-paid.json")
    assert "Authorization" not in msg.headers and msg.headers["User-Agent"] == "wx"
    actions = list(AuditEvent.objects.filter(subject_type="inbound", subject_id=msg.pk)
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["intake.received", "intake.parsed"]


def test_same_again_is_a_duplicate_and_changed_content_goes_to_review(master, intake_actor):
    first = receive("01-paid.json", intake_actor)
    order = first.orders.get()
    before = (order.total_amount, order.version, list(order.lines.values_list("qty", flat=True)))
    again = receive("02-same-again.json", intake_actor)
    assert again.status == S.DUPLICATE
    assert again.report["items"][0]["order"] == order.number
    assert InboundOrder.objects.get(message=again).created is False
    changed = receive("03-same-id-changed-qty.json", intake_actor)
    assert changed.status == S.NEEDS_REVIEW
    item = changed.report["items"][0]
    assert item["result"] == "conflict" and item["order"] == order.number
    assert any(d["field"] == "lines[0].qty" and d["incoming"] == "25" for d in item["differences"])
    order.refresh_from_db()
    assert Order.objects.filter(external_ref="WX202602031512340001").count() == 1
    assert (order.total_amount, order.version, list(order.lines.values_list("qty", flat=True))) == before


@pytest.mark.smoke
def test_bad_quantity_and_date_are_refused_naming_the_source_fields(master, intake_actor):
    msg = receive("04-bad-qty-and-date.json", intake_actor)
    assert msg.status == S.FAILED
    fields = {e["field"] for e in msg.errors}
    assert {"items[1].num", "pay_time"} <= fields, msg.errors
    assert bytes(msg.payload) == sample("miniprogram", "04-bad-qty-and-date.json")
    assert not Order.objects.exists()


@pytest.mark.smoke
def test_truncated_json_fails_with_a_parse_error_and_keeps_the_bytes(master, intake_actor):
    msg = receive("05-truncated.json", intake_actor)
    assert msg.status == S.FAILED
    assert msg.errors[0]["code"] == "unreadable" and "JSON" in msg.errors[0]["message"]
    assert bytes(msg.payload) == sample("miniprogram", "05-truncated.json")


def test_unknown_sku_is_refused_naming_it_and_replays_after_an_alias(master, intake_actor):
    msg = receive("06-unknown-sku.json", intake_actor)
    assert msg.status == S.FAILED
    assert msg.errors[0]["field"] == "items[0].sku_id" and "BRK-PAD-R-9999" in msg.errors[0]["message"]
    # the mapping data is fixed (an alias), then the message is replayed
    services.alias_set(kind="product", value="BRK-PAD-R-9999", code="BRK-PAD-F-2231", actor=intake_actor)
    again = services.inbound_replay(message=msg, actor=intake_actor)
    assert again.status == S.PARSED and again.attempts == 2
    assert again.orders.get().lines.get().product.sku == "BRK-PAD-F-2231"


def test_a_mapping_that_raises_never_loses_the_payload(master, intake_actor, monkeypatch):
    from orderhub.intake import mapping

    def boom(*args, **kwargs):
        raise RuntimeError("mapping bug")

    monkeypatch.setattr(mapping, "_finish", boom)
    msg = receive("01-paid.json", intake_actor)
    assert msg.status == S.FAILED
    assert msg.errors[0]["code"] == "internal_error" and "mapping bug" in msg.errors[0]["message"]
    stored = InboundMessage.objects.get(pk=msg.pk)
    assert bytes(stored.payload) == sample("miniprogram", "01-paid.json")
    assert not Order.objects.exists()
    monkeypatch.undo()
    fixed = services.inbound_replay(message=msg, actor=intake_actor)
    assert fixed.status == S.PARSED
    with pytest.raises(Exception) as exc:
        services.inbound_replay(message=msg, actor=intake_actor)
    assert getattr(exc.value, "code", "") == "not_replayable"


@pytest.mark.django_db(transaction=True)
def test_payload_is_committed_before_parsing(master, intake_actor, monkeypatch):
    """The raw row is in the database (seen from another connection) when parsing starts."""
    from django.db import connections

    from orderhub.intake.services import inbox

    seen = {}

    def spy(*args, **kwargs):
        other = connections.create_connection("default")
        try:
            with other.cursor() as cur:
                cur.execute("SELECT count(*) FROM intake_inboundmessage")
                seen["rows"] = cur.fetchone()[0]
        finally:
            other.close()
        raise RuntimeError("parser crashed")

    monkeypatch.setattr(inbox, "read", spy)
    msg = receive("01-paid.json", intake_actor)
    assert seen["rows"] == 1
    assert InboundMessage.objects.get(pk=msg.pk).status == S.FAILED


def test_mapping_without_customer_match_goes_to_review(master, intake_actor):
    import json

    body = json.loads(sample("miniprogram", "01-paid.json"))
    body["openid"] = "unknown-openid"
    msg = services.inbound_receive(channel="miniprogram", kind="webhook", payload=json.dumps(body).encode(),
                                   actor=intake_actor)
    msg = services.inbound_process(message=msg, actor=intake_actor)
    assert msg.status == S.NEEDS_REVIEW
    assert msg.errors[0]["code"] == "unknown_customer" and msg.errors[0]["field"] == "openid"

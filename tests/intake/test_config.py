"""Intake configuration is versioned data, refused on save with the fault named."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from orderhub.core import clock
from orderhub.core.errors import PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.intake import services
from orderhub.intake.models import ConfigVersion, InboundMessage

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def mapping(**changes):
    base = {"kind": "mapping", "code": "shop", "name": "Shop", "format": "json", "lines_from": "items",
            "order": {"external_ref": {"from": "id"}, "customer": {"from": "buyer"}},
            "line": {"sku": {"from": "sku"}, "qty": {"from": "n", "transforms": ["number"]}}}
    base.update(changes)
    return base


def refused(data, actor):
    with pytest.raises(ValidationFailed) as exc:
        services.config_save(data=data, actor=actor)
    return exc.value


@pytest.mark.smoke
def test_mapping_saves_as_versions_and_the_same_content_is_not_a_new_version(db, intake_actor):
    v1 = services.config_save(data=mapping(), actor=intake_actor)
    assert services.config_save(data=mapping(), actor=intake_actor).pk == v1.pk
    v2 = services.config_save(data=mapping(name="Shop 2"), actor=intake_actor)
    assert (v1.version, v2.version) == (1, 2)
    assert list(ConfigVersion.objects.filter(code="shop", is_current=True)) == [v2]
    assert AuditEvent.objects.filter(action="intake.config_saved").count() == 2


@pytest.mark.smoke
@pytest.mark.parametrize("data, field, words", [
    (mapping(order={"external_ref": {"from": "id"}, "customer": {"from": "b"}, "paid": {"from": "x"}}),
     "order.paid", "Unknown field 'paid'"),
    (mapping(line={"sku": {"from": "sku"}, "qty": {"from": "n", "transforms": ["tons_to_pieces"]}}),
     "line.qty.transforms[0]", "Unknown transform 'tons_to_pieces'"),
    (mapping(order={"external_ref": {"from": "id"}, "customer": {"from": "b"},
                    "paid_at": {"from": "t", "transforms": [{"datetime": "%Y-%m-%Q"}]}}),
     "order.paid_at.transforms[0]", "Bad date format '%Y-%m-%Q'"),
    (mapping(order={"external_ref": {"from": "id"}, "customer": {"from": "b"},
                    "paid_at": {"from": "t", "transforms": [{"datetime": "%H:%M"}]}}),
     "order.paid_at.transforms[0]", "needs year, month and day"),
    (mapping(line={"sku": {"from": "sku", "transforms": [{"lookup": "warehouse"}]}, "qty": {"from": "n"}}),
     "line.sku.transforms[0]", "Lookup"),
    (mapping(line={"qty": {"from": "n"}}), "line", "line.sku"),
    (mapping(colour="red"), "colour", "Unknown field 'colour'"),
    (mapping(format="pdf"), "format", "format"),
])
def test_bad_mappings_are_refused_naming_the_fault(db, intake_actor, data, field, words):
    err = refused(data, intake_actor)
    assert any(p.field == field and words in p.message for p in err.problems), err.problems
    assert not ConfigVersion.objects.exists()


@pytest.mark.smoke
def test_bad_tag_and_triage_rules_are_refused(db, intake_actor):
    err = refused({"kind": "tags", "code": "default", "name": "t", "rules": [{"pattern": "避开(周一", "tag": "#x"}]},
                  intake_actor)
    assert err.problems[0].field == "rules[0].pattern" and "Bad pattern" in err.problems[0].message
    err = refused({"kind": "tags", "code": "default", "name": "t", "rules": [{"pattern": ".*", "tag": "#x"}]},
                  intake_actor)
    assert "empty text" in err.problems[0].message
    err = refused({"kind": "triage", "code": "default", "name": "t", "rules": [
        {"code": "big", "when": "hours_to_due <= 72 and totl > 5", "urgency": "red"}]}, intake_actor)
    assert err.problems[0].field == "rules[0](big).when" and "totl" in err.problems[0].message
    err = refused({"kind": "triage", "code": "default", "name": "t", "rules": [
        {"code": "big", "when": "total > 5", "alert_roles": ["ceo"]}]}, intake_actor)
    assert "Unknown role 'ceo'" in err.problems[0].message


def test_only_admins_change_configuration(company):
    with pytest.raises(PermissionDenied):
        services.config_save(data=mapping(), actor=company["actors"]["sales"])
    assert services.config_save(data=mapping(), actor=company["actors"]["admin"]).version == 1


def test_shipped_templates_are_valid(db, intake_actor):
    saved = services.config_install_templates(actor=intake_actor)
    assert {(v.kind, v.code) for v in saved} >= {("mapping", "miniprogram"), ("mapping", "taobao"),
                                                 ("mapping", "douyin"), ("mapping", "1688"),
                                                 ("tags", "default"), ("triage", "default")}


def _big_order_body(due: str, qty: int):
    import json

    return json.dumps({"order_id": f"WX-{due}-{qty}", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                       "pay_time": "20260302100000", "total_fee": qty * 38500, "remark": "",
                       "items": [{"sku_id": "BRK-PAD-F-2231", "num": qty, "price": 38500}]}).encode()


def test_t1_triage_urgent_and_large_turns_red_and_alerts_two_roles(master, intake_actor):
    services.profile_set(customer="C0217", lead_days=2, actor=intake_actor)  # due 2 working days after
    with clock.frozen(datetime(2026, 3, 2, 10, 0, tzinfo=SH)):
        msg = services.inbound_receive(channel="miniprogram", kind="webhook", actor=intake_actor,
                                       payload=_big_order_body("a", 200))   # 77,000 CNY
        msg = services.inbound_process(message=msg, actor=intake_actor)
        small = services.inbound_receive(channel="miniprogram", kind="webhook", actor=intake_actor,
                                         payload=_big_order_body("b", 20))  # 7,700 CNY
        small = services.inbound_process(message=small, actor=intake_actor)
    big_order, small_order = msg.orders.get(), small.orders.get()
    assert big_order.required_date == date(2026, 3, 4)  # 2 working days, hours_to_due = 38
    assert big_order.total_amount == Decimal("77000.00") and big_order.urgency == "red"
    assert small_order.urgency == "green"
    alerts = AuditEvent.objects.filter(action="intake.triage_alert")
    assert alerts.count() == 1
    alert = alerts.get()
    assert alert.subject_type == "inbound" and alert.subject_id == msg.pk
    assert alert.data["order"] == big_order.number and alert.data["rule"] == "t1_urgent_large"
    assert alert.data["roles"] == ["planning_supervisor", "production_director"]
    # a replay of the same payload is a duplicate and does not alert twice
    again = services.inbound_receive(channel="miniprogram", kind="webhook", actor=intake_actor,
                                     payload=_big_order_body("a", 200))
    with clock.frozen(datetime(2026, 3, 2, 11, 0, tzinfo=SH)):
        again = services.inbound_process(message=again, actor=intake_actor)
    assert again.status == InboundMessage.Status.DUPLICATE and alerts.count() == 1


def test_triage_applies_only_to_its_workflows(master, intake_actor):
    services.profile_set(customer="C0217", lead_days=2, workflow="T3", actor=intake_actor)
    with clock.frozen(datetime(2026, 3, 2, 10, 0, tzinfo=SH)):
        msg = services.inbound_receive(channel="miniprogram", kind="webhook", actor=intake_actor,
                                       payload=_big_order_body("c", 200))
        msg = services.inbound_process(message=msg, actor=intake_actor)
    order = msg.orders.get()
    assert order.workflow.code == "T3" and order.urgency == "green"
    assert not AuditEvent.objects.filter(action="intake.triage_alert").exists()


def test_remembered_tag_and_triage_versions_are_read_anew_when_gone(db):
    """The current tag/triage versions are remembered for a few seconds per process; a version
    that no longer exists (saved in a transaction that rolled back) is read anew, not an error."""
    import time

    from orderhub.intake.services import config as cfg
    from orderhub.intake.services.triage import _current_rules

    cfg.forget_current_rules()
    expected = _current_rules()
    cfg._current.update(found={"tags": 987654321, "triage": 987654322}, checked=time.monotonic())
    assert _current_rules() == expected
    assert cfg._current["found"] == cfg.current_rule_ids() and 987654321 not in cfg._current["found"].values()

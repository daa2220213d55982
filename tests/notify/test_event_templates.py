"""Every event a message is sent with has its shipped Chinese template, keyed by the same
constant the sender uses, so no person ever reads an event code as a subject."""

from datetime import datetime

import pytest
from django.utils import translation

from orderhub.core import clock
from orderhub.notify import events as notify_events
from orderhub.notify.defaults import DEFAULT_TEMPLATES
from orderhub.notify.models import Message
from orderhub.notify.selectors import with_text
from orderhub.orders import events, services
from orderhub.rules.ladders import ladder_fire_due
from orderhub.rules.services import rule_save
from orderhub.rules.sweep import sweep_overdue
from tests.conftest import SH, order_input

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _fresh_rules():
    """The rule saved here lives in the process's rule cache; later tests must not see it."""
    from orderhub.rules.engine import forget_rules

    forget_rules()
    yield
    forget_rules()


def test_the_shipped_templates_are_keyed_by_the_event_constants():
    shipped = {e for e, channel, _s, _b in DEFAULT_TEMPLATES if channel == ""}
    assert shipped == set(notify_events.TEMPLATED)
    assert set(events.NOTIFICATIONS) | set(notify_events.ALL) == shipped


def _rendered(qs) -> list[tuple[str, str]]:
    with translation.override("zh-hans"):
        return [(m.subject, m.body) for m in with_text(qs)]


def test_what_orders_rules_ladders_and_the_sweep_send_renders_from_its_template(company):
    """Each sender's messages (order created, stage entered, rule notify, escalation, stage
    overdue) render with a subject of their template: Chinese, naming the order, never the
    event code (a rule's message once went out as ``rule.fired`` with that as its subject)."""
    a = company["actors"]
    rule_save(data={"name": "大单提醒", "trigger": "order_created",
                    "actions": [{"type": "notify", "roles": ["planner"], "message": "请关注"}]},
              actor=a["admin"])
    with clock.frozen(datetime(2026, 11, 23, 9, 0, tzinfo=SH)):
        t1 = services.order_create(data=order_input(), actor=a["sales"]).order
        services.order_transition(order=t1.number, to="scheduled", actor=a["service"])
        t2 = services.order_create(data=order_input(workflow="T2"), actor=a["service"]).order
    with clock.frozen(datetime(2026, 11, 23, 12, 0, 1, tzinfo=SH)):
        assert ladder_fire_due() == 1
    with clock.frozen(datetime(2026, 11, 25, 9, 0, tzinfo=SH)):
        assert sweep_overdue().marked >= 1
    sent = {m.event for m in Message.objects.all()}
    assert {events.ORDER_CREATED, events.STAGE_ENTERED, notify_events.RULE_NOTIFY, events.ESCALATION,
            events.STAGE_OVERDUE} <= sent
    for event in sent:
        rendered = _rendered(Message.objects.filter(event=event))
        for subject, body in rendered:
            assert subject != event and not subject.isascii(), (event, subject)
            assert t1.number in subject + body or t2.number in subject + body, (event, subject, body)
    rule_subject = _rendered(Message.objects.filter(event=notify_events.RULE_NOTIFY, order=t1))[0][0]
    assert rule_subject == f"{t1.number} · 大单提醒：订单 {t1.number}"

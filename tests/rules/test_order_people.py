"""Rules address the order's own people (issue 14.10): a notify action's ``people`` (the order's
sales owner, the current stage's owner role), and the shipped rule that tells the sales owner
when finance puts their order on hold — end to end: API hold, rule firing, outbox, their inbox."""

from __future__ import annotations

import pytest
from django.test import Client

from orderhub.core.actors import Actor
from orderhub.core.errors import ValidationFailed
from orderhub.core.tokens import token_create
from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import Message
from orderhub.orders import services
from orderhub.rules.models import RuleFiring
from orderhub.rules.services import rule_save, rules_install_defaults
from orderhub.workflow.services import compiled
from tests.api.conftest import ApiClient
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def _hold_by_api(company, number: str, reason: str):
    _, raw = token_create(user=company["users"]["finance"], name="finance")
    return ApiClient(raw).post(f"/api/orders/{number}/hold", {"reason": reason})


def test_a_finance_hold_tells_the_orders_sales_owner_in_app(company):
    rules_install_defaults(actor=Actor.system("setup"))
    order = services.order_create(data=order_input(), actor=company["actors"]["service"]).order
    assert order.owner == company["users"]["sales"]          # the customer's sales owner
    resp = _hold_by_api(company, order.number, "税号有误, 待客户更正")
    assert resp.status_code == 200, resp.content
    firing = RuleFiring.objects.get(rule__name="hold_tell_sales_owner", order=order)
    assert firing.inputs["held"] is True
    told = Message.objects.filter(event="rule.notify", order=order)
    assert {(m.user.username, m.channel) for m in told if m.user} >= {("sales", "inapp")}
    assert {m.user.username for m in told if m.user} == {"sales"}   # nobody else
    # the sales owner reads it in their inbox (once delivered), with the reason of the hold
    deliver_due()
    c = Client()
    c.force_login(company["users"]["sales"])
    page = c.get("/notifications/").content.decode()
    assert order.number in page and "挂起原因：税号有误" in page
    # the firing log reads in words: the changed fields by their names, held as 是
    log = Client()
    log.force_login(company["users"]["admin"])
    firings = log.get("/rules/firings/").content.decode()
    assert "on_hold" not in firings and "hold_reason" not in firings and "本次变更挂起了订单" in firings
    # resuming is no hold: nothing more
    services.order_resume(order=order.number, actor=company["actors"]["finance"], reason="已更正")
    assert Message.objects.filter(event="rule.notify", order=order).count() == told.count()


def test_the_stage_owner_and_an_explicit_owner_are_the_orders_own(company):
    admin = company["actors"]["admin"]
    rule_save(data={"name": "told_on_hold", "trigger": "field_changed", "trigger_arg": "on_hold",
                    "condition": "held", "actions": [{"type": "notify", "people": ["stage_owner", "sales_owner"],
                                                      "channels": ["inapp"]}]}, actor=admin)
    order = services.order_create(data=order_input(owner="planner"), actor=company["actors"]["service"]).order
    services.order_hold(order=order.number, actor=company["actors"]["finance"], reason="待确认")
    role = compiled(order.workflow_id).stage(order.stage).spec.owner_role
    users = {m.user.username for m in Message.objects.filter(event="rule.notify", order=order)}
    holders = {u.username for u in company["users"].values() if u.groups.filter(name=role).exists()}
    assert holders and users == holders | {"planner"}


def test_a_notify_action_needs_someone_and_names_only_known_people(company):
    admin = company["actors"]["admin"]
    with pytest.raises(ValidationFailed) as exc:
        rule_save(data={"name": "nobody", "trigger": "order_created", "actions": [{"type": "notify"}]}, actor=admin)
    assert [p.field for p in exc.value.problems] == ["actions[0](notify)"]
    with pytest.raises(ValidationFailed) as exc:
        rule_save(data={"name": "who", "trigger": "order_created",
                        "actions": [{"type": "notify", "people": ["cousin"]}]}, actor=admin)
    assert exc.value.problems[0].field.startswith("actions[0](notify).people")

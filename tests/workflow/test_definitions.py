"""Workflow definitions: templates valid, faults named on save, orders keep their version."""

import copy
from decimal import Decimal

import pytest
from django.utils import translation

from orderhub.core.errors import PermissionDenied, ValidationFailed
from orderhub.orders import services
from orderhub.orders.inputs import LineInput
from orderhub.workflow.services import load_template, template_files, workflow_save
from orderhub.workflow.spec import compile_workflow
from tests.conftest import order_input

pytestmark = pytest.mark.smoke


def _t1():
    return load_template(next(p for p in template_files() if p.name.startswith("t1")))


def test_all_templates_compile():
    codes = [compile_workflow(load_template(p)).spec.code for p in template_files()]
    assert codes == ["T1", "T2", "T3", "T4"]


def _fault(data) -> str:
    with translation.override("en"), pytest.raises(ValidationFailed) as err:
        compile_workflow(data)
    return " | ".join(p.message for p in err.value.problems)


def test_unknown_field_is_named():
    data = _t1()
    data["stages"][2]["guards"][0]["when"] = "x"
    msg = _fault(data)
    assert "'when'" in msg and "materials_ready" in msg


def test_bad_expression_is_named():
    data = _t1()
    data["stages"][1]["guards"] = [{"code": "stock_ok", "expr": "stok >= qty", "message": "缺货"}]
    msg = _fault(data)
    assert "stok" in msg and "scheduled" in msg


def test_unreachable_stage_and_dangling_transition_are_named():
    data = _t1()
    data["stages"].insert(3, {"code": "rework", "name": "返工", "owner_role": "production", "next": ["qc"]})
    data["stages"][0]["next"] = ["scheduled", "nowhere"]
    msg = _fault(data)
    assert "'rework' cannot be reached" in msg
    assert "'nowhere'" in msg


def test_unknown_role_and_message_placeholder_are_named():
    data = _t1()
    data["stages"][0]["owner_role"] = "boss"
    data["stages"][1]["guards"] = [{"code": "g", "expr": "total > 0", "message": "金额 {amount}"}]
    msg = _fault(data)
    assert "'boss'" in msg and "'amount'" in msg


@pytest.mark.django_db
def test_saving_needs_permission_and_orders_keep_their_version(company):
    a = company["actors"]
    with pytest.raises(PermissionDenied):
        workflow_save(data=_t1(), actor=a["planner"])
    old = services.order_create(data=order_input(), actor=a["sales"]).order
    data = copy.deepcopy(_t1())
    data["stages"][1]["guards"] = [{"code": "big_enough", "expr": "total >= 100000",
                                    "message": "订单金额 {total} 不足 10 万, 不排产"}]
    v2 = workflow_save(data=data, actor=a["admin"], note="大单才排产")
    assert v2.version == 2
    new = services.order_create(data=order_input(), actor=a["sales"]).order
    assert (old.workflow.version, new.workflow.version) == (1, 2)
    # the old order still follows v1 (no guard); the new one is held by v2's guard
    assert services.order_transition(order=old, to="scheduled", actor=a["service"]).ok
    res = services.order_transition(order=new, to="scheduled", actor=a["service"])
    assert not res.ok and res.reasons[0].message == "订单金额 12000 不足 10 万, 不排产"


@pytest.mark.django_db
def test_t3_guards_check_stock_cover_and_credit(company):
    """T3 production_locked: stock >= qty * 1.05 per line, credit_available > total * 1.2."""
    a = company["actors"]
    cust = company["customer"]  # credit limit 100,000
    walk = [("credit_review", "sales"), ("contract_signed", "finance")]

    def t3_order(qty):
        order = services.order_create(data=order_input(workflow="T3", lines=[
            LineInput(sku="M8X30", qty=Decimal(qty), unit_price=Decimal("1"))]),
            actor=a["manager"]).order  # a price other than the list price: needs orders.change_price
        for to, who in walk:
            assert services.order_transition(order=order, to=to, actor=a[who]).ok
        return order

    # 96,000 pieces: stock 100,000 >= 100,800? no → blocked on stock; credit 100,000 > 115,200? no
    big = t3_order(96000)
    res = services.order_transition(order=big, to="production_locked", actor=a["sales"])
    assert not res.ok
    assert [r.code for r in res.reasons] == ["stock_cover", "credit_cover"]
    assert res.reasons[0].message == "库存不足: M8X30 需 96000 × 1.05, 可用 100000"
    assert res.reasons[1].field is None and "可用额度" in res.reasons[1].message
    # 50,000 pieces: stock covers 52,500; credit: 100,000 − 96,000 (the other open order) = 4,000
    small = t3_order(50000)
    res = services.order_transition(order=small, to="production_locked", actor=a["sales"])
    assert [r.code for r in res.reasons] == ["credit_cover"]
    services.order_cancel(order=big, actor=a["manager"], reason="客户取消")
    cust.credit_limit = Decimal("200000")
    cust.save()
    assert services.order_transition(order=small, to="production_locked", actor=a["sales"]).ok


def test_combined_expression_from_the_issue_compiles_and_evaluates():
    from orderhub.core.expressions import compile_expression
    from orderhub.workflow.spec import LINE_SYMBOLS

    expr = compile_expression("stock >= qty * 1.05 and credit_available > total * 1.2", LINE_SYMBOLS)
    assert expr.evaluate({"stock": Decimal("105"), "qty": 100, "credit_available": Decimal("1201"),
                          "total": Decimal("1000")})
    assert not expr.evaluate({"stock": Decimal("104.99"), "qty": 100, "credit_available": Decimal("1e6"),
                              "total": Decimal("1000")})


def test_change_approvers_are_configuration_with_defaults_and_checked_roles():
    from orderhub.orders.services import approvers_for

    wf = compile_workflow(_t1())
    assert approvers_for(wf, "pending", amount_changes=False) == ["service"]          # default: the owner role
    assert approvers_for(wf, "machining", amount_changes=False) == ["planner", "production"]
    assert approvers_for(wf, "machining", amount_changes=True) == ["planner", "production", "finance"]
    data = _t1()
    data["stages"][3]["change_approvers"] = ["planner", "chef"]
    data["change_amount_approvers"] = ["cashier"]
    msg = _fault(data)
    assert "'chef'" in msg and "machining" in msg and "'cashier'" in msg

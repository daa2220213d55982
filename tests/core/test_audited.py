"""The one audited save of master data and settings (core.audited): customers, products, users
and roles record each changed field as [before, after], nothing when nothing changed."""

from decimal import Decimal

import pytest

from orderhub.catalog.services import customer_save, product_save
from orderhub.core.audited import apply_fields
from orderhub.core.models import AuditEvent
from orderhub.core.services import role_setting_save, user_save

pytestmark = pytest.mark.django_db


def _last(subject_type, subject_id):
    return AuditEvent.objects.filter(subject_type=subject_type, subject_id=subject_id).order_by("-seq").first()


def test_apply_fields_renames_and_shows():
    class Obj:
        first_name, owner, price = "甲", None, Decimal("1.50")

    obj = Obj()
    changes = apply_fields(obj, {"first_name": "乙", "owner": None, "price": Decimal("2")},
                           names={"first_name": "full_name"}, shown={"owner": lambda u: u})
    assert changes == {"full_name": ["甲", "乙"], "price": ["1.5", "2"]}
    assert obj.first_name == "乙" and obj.price == Decimal("2")


def test_master_data_saves_record_each_change_once(company):
    admin, users = company["actors"]["admin"], company["users"]
    customer_save(code="C001", data={"credit_limit": Decimal("5000"), "sales_owner": users["admin"]}, actor=admin)
    ev = _last("customer", company["customer"].pk)
    assert ev.action == "customer.changed"
    assert ev.changes == {"credit_limit": ["100000", "5000"], "sales_owner": ["sales", "admin"]}
    seq = ev.seq
    customer_save(code="C001", data={"credit_limit": Decimal("5000")}, actor=admin)   # nothing changed
    assert _last("customer", company["customer"].pk).seq == seq

    product_save(sku="M8X30", data={"list_price": Decimal("0.12")}, actor=admin)
    assert _last("product", company["bolt"].pk).changes == {"list_price": ["0.1", "0.12"]}

    user = user_save(username="planner", roles=["planner"], full_name="计划员小王", actor=admin)
    assert _last("user", user.pk).changes == {"full_name": ["", "计划员小王"]}

    role_setting_save(role="sales", order_scope="all", actor=admin)
    ev = AuditEvent.objects.filter(subject_type="role", action="role.changed").order_by("-id").first()
    assert ev.changes == {"order_scope": ["own_customers", "all"]}

"""Permissions on the pages: the price field, who sees where a change came from, the 403 page,
someone without a role, and the admin (read-only, superusers only; nobody in the demo is staff)."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.intake.models import Draft
from orderhub.orders.models import Order
from orderhub.orders.services import order_create
from tests.conftest import order_input
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db

NEW = {"customer": "C001", "required_date": "2026-12-30", "urgency": "green", "line_sku": ["M8X30", "HSG-100"],
       "line_qty": ["10", "500"], "line_unit": ["", ""], "line_price": ["", "0.01"], "line_remarks": ["", ""]}


def _has_input(body: str, name: str, value: str, *, invalid: bool = False) -> bool:
    """An <input name=…> with that value (and marked invalid), whatever its attributes' order."""
    for tag in re.findall(r'<input[^>]*\bname="' + re.escape(name) + r'"[^>]*>', body):
        if f'value="{value}"' in tag and (not invalid or "is-invalid" in tag):
            return True
    return False


def test_new_order_form_refuses_a_price_change_on_the_field_in_chinese(company):
    assert "单价留空即按标价" in login("sales").get("/orders/new/").content.decode()
    assert 'data-testid="price-hint"' not in login("manager").get("/orders/new/").content.decode()
    resp = login("sales").post("/orders/new/", NEW)
    body = resp.content.decode()
    assert resp.status_code == 403 and Order.objects.count() == 0
    assert _has_input(body, "line_price", "0.01", invalid=True)
    assert "无改价权限: HSG-100 的标准单价为 120" in body
    assert login("manager").post("/orders/new/", NEW).status_code == 302
    assert Order.objects.get().lines.get(product__sku="HSG-100").unit_price == Decimal("0.01")


def test_draft_page_shows_the_refused_price_under_its_field(company):
    from orderhub.intake.services import inbound_receive

    msg = inbound_receive(channel="ocr", kind="attachment", payload=b"png", actor=Actor.system("ocr"),
                          content_type="image/png")
    draft = Draft.objects.create(message=msg, created_at=clock.now(), data={
        "customer": "C001", "required_date": "2026-12-20", "urgency": "green",
        "lines": [{"sku": "HSG-100", "qty": "5", "unit": "件", "unit_price": "120"}]})
    c = login("service")
    page = c.get(f"/intake/drafts/{draft.pk}/").content.decode()
    assert _has_input(page, "line_unit_price", "120")
    post = {"action": "confirm", "customer": "C001", "required_date": "2026-12-20", "urgency": "green",
            "line_sku": ["HSG-100"], "line_qty": ["5"], "line_unit": ["件"], "line_unit_price": ["99"]}
    resp = c.post(f"/intake/drafts/{draft.pk}/", post)
    body = resp.content.decode()
    assert resp.status_code == 403 and "无改价权限" in body
    assert _has_input(body, "line_unit_price", "99", invalid=True)  # what was typed, marked
    draft.refresh_from_db()
    assert draft.status == "open"
    ok = login("manager").post(f"/intake/drafts/{draft.pk}/", post)
    assert ok.status_code == 302
    line = Order.objects.get().lines.get()
    assert (line.unit_price, line.unit) == (99, "件")


def test_ip_and_browser_of_a_change_only_for_managers(company):
    c = login("planner")
    c.post("/orders/new/", {**NEW, "line_price": ["", ""]}, REMOTE_ADDR="10.9.8.7")  # planner may create
    order = Order.objects.get()
    assert "10.9.8.7" not in c.get(f"/orders/{order.number}/").content.decode()
    assert "10.9.8.7" in login("manager").get(f"/orders/{order.number}/").content.decode()


def test_forbidden_page_is_chinese_and_a_user_without_a_role_sees_no_orders(company):
    order_create(data=order_input(), actor=company["actors"]["service"])
    resp = login("warehouse").get("/settings/users/")
    assert resp.status_code == 403 and "无权访问" in resp.content.decode()
    get_user_model().objects.create_user(username="nobody", password="pw-nobody")
    c = Client()
    c.force_login(get_user_model().objects.get(username="nobody"))
    home = c.get("/")
    assert home.status_code == 200 and 'data-testid="no-role"' in home.content.decode()
    assert 'href="/orders/"' not in home.content.decode()  # no menu entries it cannot open
    assert c.get("/orders/").status_code == 403


@pytest.mark.smoke
def test_admin_is_for_superusers_only_and_read_only():
    User = get_user_model()
    staff = User.objects.create_user(username="staff", password="pw-staff-1", is_staff=True)
    root = User.objects.create_superuser(username="root", password="pw-root-1")
    c = Client()
    c.force_login(staff)
    resp = c.get("/admin/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")
    f = Client()
    form = f.post("/admin/login/?next=/admin/", {"username": "staff", "password": "pw-staff-1"})
    assert form.status_code == 200 and "_auth_user_id" not in f.session  # refused at the form
    assert f.post("/admin/login/?next=/admin/", {"username": "root", "password": "pw-root-1"}).status_code == 302
    s = Client()
    s.force_login(root)
    assert s.get("/admin/").status_code == 200
    change = s.get(f"/admin/auth/user/{staff.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()  # read-only
    refused = s.post(f"/admin/auth/user/{staff.pk}/change/", {"username": "staff", "is_superuser": "on"})
    assert refused.status_code == 403
    assert s.post(f"/admin/auth/user/{staff.pk}/password/", {"password1": "x-1234567", "password2": "x-1234567"}
                  ).status_code == 403
    assert s.get("/admin/auth/user/add/").status_code == 403
    staff.refresh_from_db()
    assert not staff.is_superuser and staff.check_password("pw-staff-1")


def test_demo_users_are_not_staff(db):
    from orderhub.demo.loader import USERS, _users

    users = _users()
    assert set(users) == set(USERS)
    assert not any(u.is_staff for u in users.values())
    assert [name for name, u in users.items() if u.is_superuser] == ["admin"]

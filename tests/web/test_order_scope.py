"""Object scope per role: "all orders" or "own customers' orders" (customers whose sales owner
is the user, and orders the user owns). Sales starts with its own customers, every other role
with all. Two sales reps: neither lists nor opens (404, not 403) the other's customer's order,
on any page or API read, nor changes it; an administrator widens the role in the UI or the API."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from openpyxl import load_workbook

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.models import AuditEvent, RoleSetting
from orderhub.core.roles import ROLES
from orderhub.core.tokens import token_create
from orderhub.intake.models import Draft, InboundOrder
from orderhub.intake.services import inbound_receive
from orderhub.orders.models import Order
from orderhub.orders.services import order_create, order_create_batch, ticket_open
from tests.api.conftest import ApiClient
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def reps(company):
    """sales owns C001, sales2 owns C002; orders: mine (C001), theirs (C002), shared (C002 but
    owned by sales), each with a ticket and an inbound message; open drafts for each customer."""
    from orderhub.core.services import roles_sync

    groups = roles_sync()
    sales2 = get_user_model().objects.create_user(username="sales2", password="pw-sales2")
    sales2.groups.add(groups["sales"])
    Customer.objects.create(code="C002", name="无锡华泰汽车部件", tier="B", sales_owner=sales2)
    service = company["actors"]["service"]
    mine = order_create(data=order_input(customer="C001", remarks="mine"), actor=service).order
    theirs = order_create(data=order_input(customer="C002", remarks="theirs"), actor=service).order
    shared = order_create(data=order_input(customer="C002", owner="sales", remarks="shared"), actor=service).order
    system = Actor.system("scope-test")
    tickets, messages = {}, {}
    for name, order in (("mine", mine), ("theirs", theirs), ("shared", shared)):
        tickets[name] = ticket_open(order=order.number, kind="exception", title=f"ticket {name}",
                                    owner_role="sales", actor=system)
        msg = inbound_receive(channel="wechat", kind="webhook", payload=f'{{"o": "{name}"}}'.encode(),
                              actor=system, content_type="application/json")
        InboundOrder.objects.create(message=msg, order=order, row=1)
        messages[name] = msg
    mixed = inbound_receive(channel="wechat", kind="upload", payload=b"both", actor=system)
    InboundOrder.objects.create(message=mixed, order=mine, row=1)
    InboundOrder.objects.create(message=mixed, order=theirs, row=2)
    messages["mixed"] = mixed
    drafts = {code: Draft.objects.create(message=messages["mine"], data={"customer": code, "lines": []},
                                         created_at=clock.now()) for code in ("C001", "C002")}
    return {"mine": mine, "theirs": theirs, "shared": shared, "tickets": tickets, "messages": messages,
            "drafts": drafts, "sales2": sales2}


def login(username: str) -> Client:
    c = Client()
    c.force_login(get_user_model().objects.get(username=username))
    return c


def api(username: str) -> ApiClient:
    _, raw = token_create(user=get_user_model().objects.get(username=username), name=f"t-{username}")
    return ApiClient(raw)


def test_defaults_sales_own_customers_everyone_else_all(company):
    scopes = dict(RoleSetting.objects.values_list("role__name", "order_scope"))
    assert scopes == {code: ("own_customers" if code == "sales" else "all") for code in ROLES}
    prices = {name for name, ok in RoleSetting.objects.values_list("role__name", "change_price") if ok}
    assert prices == {"manager", "admin"}


def test_a_rep_places_orders_only_for_their_own_customers(reps):
    """Creating is scoped like reading: sales (own customers) is refused, on the customer field
    and in Chinese, an order for sales2's customer, one at a time or in a batch; an "all orders"
    role (service) may place it."""
    body = {"customer": "C002", "lines": [{"sku": "HSG-100", "qty": 5}], "required_date": "2026-12-20"}
    before = Order.objects.count()
    resp = api("sales").post("/api/orders", body)
    assert resp.status_code == 403, resp.content
    assert resp.json()["code"] == "customer_out_of_scope" and "无锡华泰汽车部件" in resp.json()["message"]
    assert resp.json()["errors"][0]["field"] == "customer"
    sales = Actor.for_user(get_user_model().objects.get(username="sales"))
    results = order_create_batch(items=[order_input(customer="C002"), order_input(customer="C001")], actor=sales)
    assert results[0].error.code == "customer_out_of_scope" and results[1].order is not None
    assert Order.objects.count() == before + 1
    assert api("sales2").post("/api/orders", body).status_code == 201
    assert api("service").post("/api/orders", body).status_code == 201
    # the order form's customer picker offers a rep only the customers they may order for
    assert [c["code"] for c in api("sales").get("/api/catalog/customers").json()] == ["C001"]
    assert [c["code"] for c in api("service").get("/api/catalog/customers").json()] == ["C001", "C002"]


def test_replaying_failed_messages_touches_only_those_the_rep_may_see(reps):
    """"Replay every failed message" replays, for a rep, only the messages shown to them (those
    whose orders are all theirs); someone who sees every order replays them all."""
    from orderhub.intake.models import InboundMessage

    msgs = reps["messages"]
    InboundMessage.objects.filter(pk__in=[m.pk for m in msgs.values()]).update(status="failed")
    replayed = {m["id"] for m in api("sales").post("/api/intake/replay-failed").json()}
    assert replayed == {msgs["mine"].pk, msgs["shared"].pk}  # not "theirs", nor "mixed"
    assert {m["id"] for m in api("service").post("/api/intake/replay-failed").json()} == {
        m.pk for m in msgs.values()}


@pytest.mark.smoke
def test_api_reads_show_each_rep_only_their_customers(reps):
    mine, theirs, shared = reps["mine"].number, reps["theirs"].number, reps["shared"].number
    sales, sales2 = api("sales"), api("sales2")
    assert {o["number"] for o in sales.get("/api/orders").json()["items"]} == {mine, shared}
    assert {o["number"] for o in sales2.get("/api/orders").json()["items"]} == {theirs, shared}
    assert sales.get("/api/orders").json()["count"] == 2
    assert [o["number"] for o in sales.get("/api/orders", customer="C002").json()["items"]] == [shared]
    for path in (f"/api/orders/{theirs}", f"/api/orders/{theirs}/events", f"/api/orders/{theirs}/snapshots"):
        resp = sales.get(path)
        assert resp.status_code == 404 and resp.json()["code"] == "order_not_found", path
        assert sales2.get(path).status_code == 200, path
    assert sales.get(f"/api/orders/{shared}").status_code == 200  # owned by sales
    # everyone else sees every order
    assert api("planner").get("/api/orders").json()["count"] == 3


def test_api_changes_to_an_order_out_of_scope_are_404_and_change_nothing(reps, company):
    theirs = reps["theirs"]
    sales = api("sales")
    for path, body in ((f"/api/orders/{theirs.number}/hold", {"reason": "x"}),
                       (f"/api/orders/{theirs.number}/transition", {"to": "scheduled"}),
                       (f"/api/orders/{theirs.number}", {"urgency": "red"})):
        call = sales.patch if path.endswith(theirs.number) else sales.post
        resp = call(path, body)
        assert resp.status_code == 404, (path, resp.content)
    theirs.refresh_from_db()
    assert (theirs.on_hold, theirs.stage, theirs.urgency, theirs.version) == (False, "pending", "green", 1)
    assert api("sales2").post(f"/api/orders/{theirs.number}/hold", {"reason": "客户要求"}).status_code == 200


@pytest.mark.smoke
def test_api_intake_messages_and_drafts_follow_their_orders(reps):
    m = reps["messages"]
    sales = api("sales")
    listed = {x["id"] for x in sales.get("/api/intake/messages").json()["items"]}
    assert listed == {m["mine"].pk, m["shared"].pk}  # not theirs, not the file mixing both
    for name in ("theirs", "mixed"):
        assert sales.get(f"/api/intake/messages/{m[name].pk}").status_code == 404
        assert sales.get(f"/api/intake/messages/{m[name].pk}/payload").status_code == 404
    detail = sales.get(f"/api/intake/messages/{m['mine'].pk}").json()
    assert [d["data"]["customer"] for d in detail["drafts"]] == ["C001"]
    drafts = {d["id"] for d in sales.get("/api/intake/drafts").json()}
    assert drafts == {reps["drafts"]["C001"].pk}
    assert sales.get(f"/api/intake/drafts/{reps['drafts']['C002'].pk}").status_code == 404
    assert len(api("service").get("/api/intake/messages").json()["items"]) == 4


def test_pages_show_each_rep_only_their_customers(reps):
    mine, theirs, shared = reps["mine"], reps["theirs"], reps["shared"]
    c = login("sales")
    listing = c.get("/orders/").content.decode()
    assert mine.number in listing and shared.number in listing and theirs.number not in listing
    found = c.get(f"/orders/?q={theirs.number}").content.decode()  # search
    assert f'data-number="{theirs.number}"' not in found and "0 个订单" in found
    assert f'data-number="{mine.number}"' in c.get(f"/orders/?q={mine.number}").content.decode()
    assert c.get(f"/orders/{theirs.number}/").status_code == 404
    assert c.get(f"/orders/{mine.number}/").status_code == 200
    board = c.get("/board/T1/").content.decode()
    assert mine.number in board and theirs.number not in board
    # the shared board render is per scope: sales2 right after sales sees their own
    board2 = login("sales2").get("/board/T1/").content.decode()
    assert theirs.number in board2 and mine.number not in board2
    rows = list(load_workbook(io.BytesIO(c.get("/orders/export.xlsx").content)).active.iter_rows(values_only=True))
    exported = {r[0] for r in rows[2:] if r and r[0] and str(r[0]).startswith("SO-")}
    assert exported == {mine.number, shared.number}
    # my work: sales2 also works in customer service, which owns the first stage of T1
    from orderhub.core.services import role_setting_save

    reps["sales2"].groups.add(*reps["sales2"].groups.model.objects.filter(name="service"))
    home = login("sales2").get("/").content.decode()
    assert mine.number in home and theirs.number in home  # customer service sees all orders
    role_setting_save(role="service", order_scope="own_customers", actor=Actor.system("test"))
    home = login("sales2").get("/").content.decode()
    assert theirs.number in home and shared.number in home and mine.number not in home
    tickets = c.get("/tickets/").content.decode()
    assert "ticket mine" in tickets and "ticket theirs" not in tickets
    assert c.get(f"/tickets/{reps['tickets']['theirs'].pk}/").status_code == 404
    assert c.post(f"/tickets/{reps['tickets']['theirs'].pk}/resolve", {"resolution": "x"}).status_code == 404
    assert c.post(f"/orders/{theirs.number}/hold", {"reason": "x"}).status_code == 404
    assert not Order.objects.get(pk=theirs.pk).on_hold
    inbox = c.get("/intake/").content.decode()
    assert f"/intake/{reps['messages']['mine'].pk}/" in inbox
    assert f"/intake/{reps['messages']['theirs'].pk}/" not in inbox
    assert c.get(f"/intake/{reps['messages']['theirs'].pk}/").status_code == 404
    assert c.get(f"/intake/{reps['messages']['theirs'].pk}/raw").status_code == 404
    drafts = login("sales").get("/intake/drafts/").content.decode()
    assert f"/intake/drafts/{reps['drafts']['C001'].pk}/" in drafts
    assert f"/intake/drafts/{reps['drafts']['C002'].pk}/" not in drafts


def test_admin_widens_sales_in_the_api_and_narrows_it_on_the_roles_page(reps):
    theirs = reps["theirs"].number
    sales = api("sales")
    assert sales.get(f"/api/orders/{theirs}").status_code == 404
    assert api("sales").put("/api/roles/sales", {"order_scope": "all"}).status_code == 403
    resp = api("admin").put("/api/roles/sales", {"order_scope": "all"})
    assert resp.status_code == 200 and resp.json()["order_scope"] == "all", resp.content
    assert sales.get(f"/api/orders/{theirs}").status_code == 200
    ev = AuditEvent.objects.get(action="role.changed")
    assert ev.changes == {"order_scope": ["own_customers", "all"]} and ev.actor_label == "api:t-admin"
    roles = {r["code"]: r for r in api("admin").get("/api/roles").json()}
    assert roles["sales"]["order_scope"] == "all" and roles["sales"]["order_scope_label"]
    assert "orders.create" in {c["code"] for c in roles["sales"]["capabilities"]}
    # and back, on the users and roles page
    admin = login("admin")
    page = admin.get("/settings/users/").content.decode()
    assert 'data-role="sales"' in page and "本人客户的订单" in page and "可改价" in page
    bad = admin.post("/settings/users/", {"form": "role", "role": "sales", "order_scope": "some"})
    assert bad.status_code == 400 and "可见订单只能是" in bad.content.decode()
    ok = admin.post("/settings/users/", {"form": "role", "role": "sales", "order_scope": "own_customers"})
    assert ok.status_code == 302
    assert RoleSetting.objects.get(role__name="sales").order_scope == "own_customers"
    assert sales.get(f"/api/orders/{theirs}").status_code == 404
    assert login("sales").post("/settings/users/", {"form": "role", "role": "sales",
                                                    "order_scope": "all"}).status_code == 403


def test_roles_sync_keeps_what_an_administrator_chose(company):
    """``orderhub migrate`` runs roles_sync on every upgrade: it must not reset role settings."""
    from django.contrib.auth.models import Group

    from orderhub.core.services import role_setting_save, roles_sync

    admin = company["actors"]["admin"]
    role_setting_save(role="sales", order_scope="all", change_price=True, actor=admin)
    role_setting_save(role="manager", change_price=False, actor=admin)
    roles_sync()
    assert RoleSetting.objects.get(role__name="sales").order_scope == "all"
    sales_perms = set(Group.objects.get(name="sales").permissions.values_list("codename", flat=True))
    assert {"view_all_orders", "change_price", "add_order"} <= sales_perms
    manager_perms = set(Group.objects.get(name="manager").permissions.values_list("codename", flat=True))
    assert "change_price" not in manager_perms and "cancel_order" in manager_perms

"""The demo company: a precision-machining shop (T1) with an auto-parts distribution arm (T2,
the four-colour board) and a fastener trading arm (T3).

Everything is created through the services, with the clock set back, so the history, the
reservations and the audit chains are exactly what real use would leave behind. The T1 orders
are taken in one after another, then their moves are replayed in time order on one moving
clock, with the periodic planning jobs (replan, delivery-risk scan) run at the simulated times
(``demo.planning.replay_walks``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orderhub.catalog.models import BomItem, Customer, Product, Substitute, UnitConversion
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.services import roles_sync
from orderhub.demo.changes import demo_addresses, demo_change_request, demo_changes
from orderhub.demo.portal import demo_coei, demo_portal_setup
from orderhub.intake.services.config import config_install_missing
from orderhub.inventory.models import Warehouse
from orderhub.inventory.services import stock_receive
from orderhub.notify.delivery import deliver_due
from orderhub.orders import services
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.orders.models import Order
from orderhub.rules.services import rules_install_defaults
from orderhub.workflow.services import compiled, current_definition, workflow_install_templates

from .breakers import demo_breakers, demo_breakers_off
from .finance import load_finance
from .floor import demo_floor_tickets
from .kpis import load_daily_report
from .planning import finish_planning, load_lines, replay_walks
from .purchasing import DEMO_PURCHASING_ORDERS, load_purchasing
from .shipping import load_shipping
from .stockalerts import DEMO_ALERT_ORDERS, load_stock_alerts

D = Decimal

CUSTOMERS = [
    # code, name, tier, credit limit, unpaid
    ("C0101", "苏州博锐精工科技有限公司", "VIP", "2000000", "120000"),
    ("C0102", "无锡华泰汽车部件有限公司", "VIP", "1500000", "300000"),
    ("C0103", "常州恒通紧固件贸易有限公司", "B", "300000", "40000"),
    ("C0104", "宁波甬博液压件有限公司", "A", "800000", "0"),
    ("C0105", "昆山精密模具厂", "A", "600000", "80000"),
    ("C0106", "杭州捷达汽配商行", "C", "50000", "20000"),
    ("C0107", "上海临港智能装备有限公司", "A", "1000000", "150000"),
    ("C0108", "嘉兴博创医疗器械有限公司", "B", "400000", "0"),
    ("C0109", "南通海力风电设备有限公司", "VIP", "3000000", "500000"),
    ("C0110", "合肥新源机器人有限公司", "B", "250000", "60000"),
    ("C0111", "温州瓯江阀门有限公司", "C", "80000", "75000"),
    ("C0112", "扬州天成传感技术有限公司", "A", "700000", "0"),
    ("C0113", "南京速修汽车服务有限公司", "B", "200000", "10000"),
    ("C0114", "苏州车之家汽修连锁", "B", "300000", "0"),
]

MATERIALS = [
    # sku, name, unit, decimals, price, safety stock, moq, lead days, on hand WH1, WH2
    ("MAT-AL6061", "6061铝棒 Φ40", "kg", 3, "32", "300", "500", 5, "9000", "3000"),
    ("MAT-AL6063", "6063铝棒 Φ40", "kg", 3, "30", "200", "500", 5, "2500", "0"),
    ("MAT-S45", "45#钢棒 Φ30", "kg", 3, "9.5", "500", "1000", 7, "30000", "12000"),
    ("MAT-SS304", "304不锈钢棒 Φ25", "kg", 3, "28", "200", "300", 10, "14000", "5000"),
    ("MAT-SS316", "316不锈钢棒 Φ25", "kg", 3, "41", "100", "200", 12, "600", "0"),
    ("MAT-ORING", "O型圈 NBR 20×2", "个", 0, "0.6", "2000", "5000", 3, "120000", "60000"),
    ("MAT-SCREW-M3", "内六角螺钉 M3×8", "个", 0, "0.08", "5000", "10000", 3, "300000", "100000"),
    ("MAT-BRASS", "H59黄铜棒 Φ20", "kg", 3, "58", "100", "200", 8, "400", "0"),
]
# brass runs out while the past is replayed (no PO for it until the purchasing demo): the nozzle
# orders confirmed after that wait at 已排产, short with no covering PO, as the risk scan says

PARTS = [
    # sku, name, price, BOM [(material, qty per piece)]
    ("SNS-HSG-0231", "传感器壳体 0231", "42.50", [("MAT-AL6061", "0.35"), ("MAT-ORING", "2")]),
    ("SNS-CVR-0112", "传感器端盖 0112", "8.80", [("MAT-AL6061", "0.08"), ("MAT-SCREW-M3", "4")]),
    ("SHF-45-200", "传动轴 45#钢 L200", "65.00", [("MAT-S45", "1.2")]),
    ("VLV-BODY-304", "阀体 304不锈钢", "138.00", [("MAT-SS304", "0.9"), ("MAT-ORING", "3")]),
    ("BRK-AL-75", "安装支架 铝合金", "18.60", [("MAT-AL6061", "0.22"), ("MAT-SCREW-M3", "2")]),
    ("NZL-BRASS-12", "黄铜喷嘴 12mm", "24.00", [("MAT-BRASS", "0.15")]),
    ("FLG-SS-DN50", "法兰 DN50 304", "210.00", [("MAT-SS304", "2.4")]),
    ("SPC-S45-30", "隔套 45#钢", "6.50", [("MAT-S45", "0.12")]),
]

TRADE_GOODS = [
    # sku, name, unit, kg per unit, price, on hand
    ("M8X30-HEX-88", "M8×30 外六角螺栓 8.8级 镀锌", "件", "0.0176", "0.10", "600000"),
    ("M10-NUT-8", "M10 六角螺母 8级", "件", "0.0109", "0.018", "400000"),
]

# auto parts the distribution arm (T2) sells from stock: sku, name, price, on hand
AUTO_PARTS = [
    ("AP-BRK-PAD-F01", "前刹车片 F01", "85.00", "4000"),
    ("AP-FLT-OIL-A12", "机油滤清器 A12", "18.50", "12000"),
    ("AP-SPK-IR-6", "铱金火花塞", "42.00", "8000"),
    ("AP-WPR-24", "雨刮片 24 寸", "26.00", "3000"),
]

# one login per role; the username is the role's code. The last five are the people the
# shipped rules and escalation ladders alert (planning supervisor, production director,
# operations director, production manager, vice president): each must exist to be told.
USERS = ["admin", "manager", "sales", "service", "planner", "purchaser", "warehouse", "production",
         "qc", "finance", "logistics", "designer", "planning_supervisor", "production_director",
         "operations_director", "production_manager", "vice_president"]

T1_PATH = ["pending", "scheduled", "materials_ready", "machining", "qc", "packed", "shipped"]
T1_MOVERS = {"scheduled": "service", "materials_ready": "planner", "machining": "purchaser",
             "qc": "production", "packed": "qc", "shipped": "warehouse"}
T2_PATH = ["paid", "picking", "shipped", "delivered"]
T2_MOVERS = {"picking": "service", "shipped": "warehouse", "delivered": "logistics"}
T3_PATH = ["awaiting_contract", "credit_review", "contract_signed", "production_locked"]
T3_MOVERS = {"credit_review": "sales", "contract_signed": "finance", "production_locked": "sales"}
# share of T1 orders aimed at each stage (the rest of the path is walked to get there)
T1_TARGETS = [("pending", 0.12), ("scheduled", 0.16), ("materials_ready", 0.16), ("machining", 0.18),
              ("qc", 0.12), ("packed", 0.10), ("shipped", 0.16)]


def password_for(username: str) -> str:
    return f"{username}-demo"


def _users() -> dict[str, User]:
    groups = roles_sync()
    User = get_user_model()
    users = {}
    for name in USERS:
        user = User.objects.filter(username=name).first()
        if user is None:
            # nobody is staff: the read-only /admin/ is for the superuser alone
            user = User.objects.create_user(username=name, password=password_for(name),
                                            is_staff=False, is_superuser=(name == "admin"))
        user.groups.add(groups[name])
        users[name] = user
    return users


def _catalog(users, system: Actor) -> None:
    wh1 = Warehouse.objects.create(code="WH-SZ", name="苏州主仓", priority=1)
    wh2 = Warehouse.objects.create(code="WH-WX", name="无锡二号仓", priority=2)
    for code, name, tier, limit, unpaid in CUSTOMERS:
        Customer.objects.create(code=code, name=name, tier=tier, credit_limit=D(limit),
                                unpaid_amount=D(unpaid), unpaid_external=D(unpaid), sales_owner=users["sales"],
                                mobile="1380000" + code[-4:])
    mats = {}
    for sku, name, unit, dec, price, safety, moq, lead, on1, on2 in MATERIALS:
        mats[sku] = Product.objects.create(sku=sku, name=name, unit=unit, unit_decimals=dec,
                                           list_price=D(price), safety_stock=D(safety), moq=D(moq),
                                           lead_time_days=lead)
        stock_receive(product_id=mats[sku].pk, warehouse_id=wh1.pk, qty=D(on1), actor=system,
                      note="期初库存")
        if D(on2):
            stock_receive(product_id=mats[sku].pk, warehouse_id=wh2.pk, qty=D(on2), actor=system,
                          note="期初库存")
    Substitute.objects.create(product=mats["MAT-AL6061"], substitute=mats["MAT-AL6063"],
                              note="强度略低, 成本 -2 元/kg, 需工艺确认")
    Substitute.objects.create(product=mats["MAT-SS304"], substitute=mats["MAT-SS316"],
                              note="耐蚀更好, 成本 +13 元/kg")
    for sku, name, price, bom in PARTS:
        part = Product.objects.create(sku=sku, name=name, unit="件", list_price=D(price),
                                      lead_time_days=3)
        for mat, per in bom:
            BomItem.objects.create(parent=part, component=mats[mat], qty_per_unit=D(per))
    for sku, name, unit, kg, price, on_hand in TRADE_GOODS:
        good = Product.objects.create(sku=sku, name=name, unit=unit, kg_per_unit=D(kg),
                                      list_price=D(price), safety_stock=D("100000"), moq=D("50000"),
                                      lead_time_days=7)
        UnitConversion.objects.create(product=good, unit="箱", factor=D("1000"))
        stock_receive(product_id=good.pk, warehouse_id=wh1.pk, qty=D(on_hand), actor=system,
                      note="期初库存")
    for sku, name, price, on_hand in AUTO_PARTS:
        part = Product.objects.create(sku=sku, name=name, unit="件", list_price=D(price),
                                      safety_stock=D("200"), moq=D("100"), lead_time_days=5)
        stock_receive(product_id=part.pk, warehouse_id=wh2.pk, qty=D(on_hand), actor=system,
                      note="期初库存")


def _calendar_hours(stage) -> float:
    """Rough wall-clock length of a stage's deadline (8 business hours ≈ one day)."""
    d = stage.deadline
    if d is None:
        return 24.0
    return float(d.hours) if d.hours is not None else float(d.business_hours) * 3


def _residual_hours(stage, share: float, now) -> float:
    """How long ago (wall-clock hours) an order entered ``stage`` so that it has used ``share``
    × 1.5 of its deadline by ``now`` (overdue when ``share`` > 1.5: about one in five). A deadline
    in business hours is counted back on the business calendar, so the share of overdue orders
    does not depend on the time of day the demo is loaded."""
    d = stage.deadline
    if d is None or d.business_hours is None:
        return _calendar_hours(stage) * share
    want = float(d.business_hours) * share / 1.5 * 3600
    cal = get_business_calendar()
    lo, hi = 0.0, max(want / 3600, 1.0)
    while cal.business_seconds_between(now - timedelta(hours=hi), now) < want:
        hi *= 2
    for _ in range(30):  # bisect to well under a minute
        mid = (lo + hi) / 2
        if cal.business_seconds_between(now - timedelta(hours=mid), now) < want:
            lo = mid
        else:
            hi = mid
    return hi


def _plan(wf, path: list[str], target: str, rng: random.Random, now):
    """When to create the order and enter each stage so that it sits in ``target`` now:
    most steps finish within their deadline; about one order in five is overdue."""
    steps = path[1:path.index(target) + 1]
    gaps = [_calendar_hours(wf.stage(path[path.index(st) - 1]).spec) * rng.choice([0.2, 0.4, 0.6, 0.8, 1.3])
            for st in steps]
    residual = _residual_hours(wf.stage(target).spec, rng.uniform(0.02, 1.8), now)
    created = now - timedelta(hours=sum(gaps) + residual)
    times, t = [], created
    for gap in gaps:
        t += timedelta(hours=gap)
        times.append(t)
    return created, list(zip(steps, times, strict=True))


def _walk(order: Order, movers: dict[str, str], plan, actors: dict[str, Actor]) -> None:
    for stage, at in plan:
        with clock.frozen(at):
            if not services.order_transition(order=order.number, to=stage, actor=actors[movers[stage]]).ok:
                return


def _mover(movers: dict[str, str], actors: dict[str, Actor]) -> Callable[[str, str], bool]:
    """Move an order to a stage as that stage's mover; whether the move was made."""
    return lambda number, stage: services.order_transition(order=number, to=stage, actor=actors[movers[stage]]).ok


def _t2_orders(n: int, rng: random.Random, now, actors: dict[str, Actor], *, done: int, total: int,
               progress: Callable[[int, int], None] | None) -> None:
    """Paid orders from the WeChat mini-program for the four-colour board (T2): every colour
    present, remarks that become tags, a few stuck past the 2-hour limit."""
    t2_flow = compiled(current_definition("T2"))
    skus = [p[0] for p in AUTO_PARTS]
    for k in range(n):
        created, plan = _plan(t2_flow, T2_PATH, T2_PATH[k % len(T2_PATH)], rng, now)
        data = OrderInput(
            customer=rng.choice(["C0106", "C0113", "C0114", "C0102"]), workflow="T2", channel="wechat",
            external_ref=f"DEMO-T2-{k + 1:04d}",
            lines=[LineInput(sku=sku, qty=D(rng.choice([4, 10, 20, 50])))
                   for sku in rng.sample(skus, rng.choice([1, 2, 3]))],
            required_date=(created + timedelta(days=rng.choice([1, 2, 3]))).date(),
            urgency=rng.choice(["green", "green", "yellow"]),
            remarks=rng.choice(["", "避开周一送货", "附出厂检验报告", "防震泡沫包装"]))
        with clock.frozen(created):
            order = services.order_create(data=data, actor=actors["service"]).order
            deliver_due()
        _walk(order, T2_MOVERS, plan, actors)
        if progress:
            progress(done + k + 1, total)


def _first_touch(created, plan, rng: random.Random) -> None:
    """The first stage's owner is told a few minutes after the order came; an order that came
    at night or over the weekend is delivered when the office opens (the channels' quiet
    hours), but never after the order's first move. First-touch latency has a figure to show."""
    at = get_business_calendar().next_business_moment(created) + timedelta(
        minutes=rng.choice([1, 3, 5, 8, 12, 18, 22, 35]))
    if plan:
        at = max(created, min(at, plan[0][1] - timedelta(minutes=1)))
    with clock.frozen(at):
        deliver_due()


TICKETS = [("exception", "来料表面划伤, 待质检判定"), ("exception", "加工尺寸超差, 返工"),
           ("exception", "包装破损, 重新包装"), ("change_request", "客户要求改交期"),
           ("change_request", "客户追加数量")]


def _tickets(rng: random.Random, now, orders: int, actors: dict[str, Actor]) -> None:
    """Exceptions and change requests on some open T1 orders over the last week (the dashboards'
    exception TOP10)."""
    open_t1 = list(Order.objects.filter(status="open", workflow__code="T1").order_by("pk"))
    for order in rng.sample(open_t1, min(max(orders // 20, 3), len(open_t1))):
        kind, title = rng.choice(TICKETS)
        at = max(order.stage_entered_at, now - timedelta(hours=rng.uniform(1, 120)))
        with clock.frozen(at):
            services.ticket_open(order=order.number, kind=kind, title=title, actor=actors["planner"])


def _holds_and_override(rng: random.Random, actors: dict[str, Actor]) -> None:
    """A few finance holds and a supervisor's override, as a real week would have."""
    open_orders = list(Order.objects.filter(status="open", workflow__code="T1").order_by("pk"))
    for order in rng.sample(open_orders, min(4, len(open_orders))):
        services.order_hold(order=order.number, actor=actors["finance"], reason="开票信息有误, 待客户确认税号")
    blocked = [o for o in Order.objects.filter(status="open", stage="scheduled", on_hold=False)
               if o.blocked_reasons]
    if blocked:
        services.order_override(order=blocked[0].number, to="materials_ready", actor=actors["manager"],
                                reason="客户急单, 替代料 6063 已获工艺确认")


def _t3_orders(n_t3: int, rng: random.Random, now, extra: random.Random, actors: dict, *, done: int, total: int,
               progress: Callable[[int, int], None] | None) -> None:
    """Fastener orders on T3 from the 1688 shop (C0106's credit is tight)."""
    t3_flow = compiled(current_definition("T3"))
    for j in range(n_t3):
        created, plan = _plan(t3_flow, T3_PATH, rng.choice(T3_PATH[1:]), rng, now)
        cust = "C0106" if j % 3 == 0 else rng.choice(["C0103", "C0109", "C0107"])  # C0106: credit tight
        data = OrderInput(
            customer=cust, workflow="T3", channel="1688", external_ref=f"DEMO-T3-{j + 1:04d}",
            lines=[LineInput(sku="M8X30-HEX-88", qty=D(rng.choice(["0.5", "1", "1.5", "3"])), unit="吨"),
                   LineInput(sku="M10-NUT-8", qty=D(rng.choice([50, 100, 200])), unit="箱")],
            required_date=(created + timedelta(days=10)).date(), urgency=rng.choice(["green", "yellow"]))
        with clock.frozen(created):
            order = services.order_create(data=data, actor=actors["sales"]).order
        _first_touch(created, plan, extra)
        _walk(order, T3_MOVERS, plan, actors)
        if progress:
            progress(done + j + 1, total)


def load_demo(*, orders: int = 300, seed: int = 2026, progress: Callable[[int, int], None] | None = None) -> dict:
    """Load the demo company into an empty database. Returns counts and logins."""
    if Order.objects.exists() or Customer.objects.exists():
        raise RuntimeError("The database already holds data; the demo loads into an empty one.")
    rng = random.Random(seed)
    system = Actor.system("demo-loader")
    now = timezone.now()
    with transaction.atomic():
        users = _users()
        actors = {name: Actor.for_user(u) for name, u in users.items()}
        workflow_install_templates(actor=system)
        config_install_missing(actor=system)  # the shipped channel mappings, tag, triage and e-mail rules
        rules_install_defaults(actor=system)
        _catalog(users, system)
        demo_addresses(system)
        load_lines(Actor.for_user(users["planner"]))
        demo_breakers_off(system)
    t1 = current_definition("T1")
    t1_flow = compiled(t1)
    customers = [c[0] for c in CUSTOMERS]
    parts = [p[0] for p in PARTS]
    stage_names = [s for s, _ in T1_TARGETS]
    weights = [w for _, w in T1_TARGETS]
    n_t3 = max(orders // 15, 4)
    n_t2 = max(orders // 10, 4) - DEMO_ALERT_ORDERS   # the stock alerts' four orders complete the count
    n_t1 = orders - n_t3 - n_t2 - DEMO_PURCHASING_ORDERS - DEMO_ALERT_ORDERS
    extra = random.Random(seed + 1)   # the KPI figures' data; the main sequence stays as it was
    n_zombie = max(orders // 50, 2)   # stalled for weeks (seed 003's "zombie" orders)
    walks: list[tuple[str, list]] = []   # the T1 orders' moves, replayed in time order below
    for i in range(n_t1):
        target = rng.choices(stage_names, weights)[0]
        created, plan = _plan(t1_flow, T1_PATH, target, rng, now)
        if i >= n_t1 - n_zombie:   # the last ones: the other demo steps pick the first orders
            created, plan = now - timedelta(days=extra.uniform(9, 30)), []
        lines = [LineInput(sku=sku, qty=D(rng.choice([20, 50, 80, 100, 150, 200, 300, 500])))
                 for sku in rng.sample(parts, rng.choice([1, 1, 2, 2, 3]))]
        urgent = rng.random() < 0.15
        data = OrderInput(
            customer=rng.choice(customers), lines=lines, channel=rng.choice(["web", "email", "wechat", "phone"]),
            external_ref=f"DEMO-{i + 1:05d}",
            required_date=(created + timedelta(days=rng.choice([3, 5, 7, 10, 14, 21]) if not urgent else 3)).date(),
            urgency="red" if urgent else rng.choice(["green", "green", "yellow"]),
            remarks=rng.choice(["", "", "附出厂检验报告", "防震泡沫包装", "避开周一送货", "图纸见附件 Rev.B"]),
            workflow=t1.code)
        with clock.frozen(created):
            order = services.order_create(data=data, actor=actors["sales"]).order
        _first_touch(created, plan, extra)
        walks.append((order.number, plan))
        if progress:
            progress(i + 1, orders)
    history = replay_walks(walks, now, _mover(T1_MOVERS, actors))
    _t3_orders(n_t3, rng, now, extra, actors, done=n_t1, total=orders, progress=progress)
    _t2_orders(n_t2, rng, now, actors, done=n_t1 + n_t3, total=orders, progress=progress)
    _holds_and_override(rng, actors)
    demo_portal_setup(actors)
    changed = demo_changes(actors)
    purchasing = load_purchasing(actors)
    _tickets(extra, now, orders, actors)
    floor_tickets = demo_floor_tickets(rng, now, actors)
    shipments, stock_alerts = load_shipping(rng, actors), load_stock_alerts(actors)
    finance = load_finance(rng, actors)
    coei = demo_coei(actors)   # after shipping: surveys answer delivered orders
    demo_change_request(actors, changed)    # last: the order it freezes moves no more
    planning = finish_planning(actors["planner"], history)
    paused = demo_breakers(actors, system)
    return {
        "floor_tickets": floor_tickets,
        "orders": Order.objects.count(),
        "shipments": shipments,
        "invoices": finance["invoices"],
        "overdue": Order.objects.filter(status="open", stage_due_at__lt=now).count(),
        "blocked": Order.objects.filter(status="open").exclude(blocked_reasons=[]).count(),
        "users": {name: password_for(name) for name in USERS},
        "purchasing": purchasing,
        "stock_alerts": stock_alerts,
        "coei": coei,
        "daily_report": load_daily_report(actors),
        "planning": planning,
        "breaker_paused": paused,
    }

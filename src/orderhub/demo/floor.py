"""The demo's shop-floor tickets: closed ones with cause and fix (so the knowledge base at
/tickets/knowledge/ has content and a new ticket is offered similar resolutions) and a few open
ones on their two-hour clock. Opened and resolved through ``floor.services`` at past moments."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.floor.models import ProblemType
from orderhub.floor.services import floor_ticket_open, floor_ticket_resolve, problem_types_seed
from orderhub.orders.models import Order

# type, severity, what happened, cause, fix
CLOSED = [
    ("size", "serious", "外径尺寸超差0.05, 抽检 5 件有 3 件超上限", "精车刀片磨损, 未按寿命更换",
     "更换刀片, 刀片寿命改为 300 件强制更换, 首件复检"),
    ("size", "normal", "内孔尺寸偏大 0.02", "镗刀补偿值输错", "修正刀补, 加工程序增加在线测量"),
    ("size", "serious", "长度尺寸超差, 端面留量不足", "夹具定位块松动", "紧固定位块, 每班开机点检夹具"),
    ("material", "serious", "来料 6061 铝棒表面划伤严重", "供应商包装无隔层, 运输中摩擦",
     "整批退货, 要求供应商加隔层包装, 来料检验增加外观项"),
    ("material", "normal", "304 棒料硬度偏高, 刀具磨损快", "材质证明与实物不符", "送第三方复检, 更换供应商批次"),
    ("machine", "urgent", "3 号数控车主轴异响, 停机", "主轴轴承润滑不足", "加注润滑脂, 列入每周点检表"),
    ("machine", "normal", "加工中心换刀卡刀", "刀库定位传感器脏污", "清洁传感器, 保养周期改为每月"),
    ("shortage", "serious", "O 型圈缺料, 装配停线", "安全库存未随订单量调整", "紧急调拨 2000 个, 安全库存上调到两周用量"),
    ("drawing", "serious", "图纸 Rev.B 孔位与客户样件不符", "客户变更未同步到车间图纸", "作废 Rev.A 图纸, 变更单必须经计划确认后下发"),
    ("packing", "normal", "出货标签型号印错", "标签模板未随订单更新", "出货前增加标签与订单核对一步"),
    ("surface", "normal", "阳极氧化色差明显", "氧化槽温度波动", "槽温控制改为自动, 每批留样比对"),
    ("process", "serious", "螺纹通规不过", "攻丝前底孔偏小", "底孔钻头由 6.7 改为 6.8, 工艺卡更新"),
]
OPEN = [
    ("size", "urgent", "外径尺寸超差0.04, 已隔离 20 件"),
    ("machine", "serious", "2 号车床冷却液泄漏"),
    ("material", "normal", "来料铝棒弯曲, 无法上料"),
]


def _orders(rng: random.Random, n: int) -> list[Order]:
    pool = list(Order.objects.filter(workflow__code="T1", status="open", stage__in=["machining", "qc", "packed"])
                .order_by("pk")[:200])
    return rng.sample(pool, min(n, len(pool))) if pool else []


def _product(order: Order) -> str | None:
    line = order.lines.select_related("product").order_by("pk").first()
    return line.product.sku if line else None


def demo_floor_tickets(rng: random.Random, now: datetime, actors: dict[str, Actor]) -> int:
    """Open and resolve the demo's shop-floor tickets; returns how many were made."""
    problem_types_seed()
    roles = dict(ProblemType.objects.values_list("code", "default_role"))
    orders = _orders(rng, len(CLOSED) + len(OPEN))
    made = 0
    for (ptype, severity, body, cause, fix), order in zip(CLOSED, orders, strict=False):
        opened = now - timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 5))
        with clock.frozen(opened):
            floor = floor_ticket_open(order=order.number, problem_type=ptype, severity=severity, body=body,
                                      product=_product(order), actor=actors["production"])
        with clock.frozen(opened + timedelta(minutes=rng.randint(20, 110))):
            floor_ticket_resolve(ticket=floor.pk, cause=cause, fix=fix, actor=actors[roles[ptype]])
        made += 1
    for (ptype, severity, body), order in zip(OPEN, orders[len(CLOSED):], strict=False):
        with clock.frozen(now - timedelta(minutes=rng.randint(10, 90))):
            floor_ticket_open(order=order.number, problem_type=ptype, severity=severity, body=body,
                              product=_product(order), actor=actors["production"])
        made += 1
    return made

"""Enqueue cost of the notification hub: ``notify_many`` for ``--requests`` requests shaped like
the ``order.created`` ones ``notify.subscribers.on_order_changes`` makes (PostgreSQL).

    .venv/bin/python bench/notify_enqueue.py                  # 1,000 requests, 7 runs
    .venv/bin/python bench/notify_enqueue.py --reuse          # keep the loaded database

Database ``orderhub_bench_notify_enqueue`` (dropped and recreated unless ``--reuse``): migrate,
the common seed, then ``--requests`` T1 orders created through ``order_create_batch``. Two set-ups:

- ``inapp``: the seed as it is: the owner role of T1's first stage (``service``) has one user
  whose default channels give one in-app message per request;
- ``mixed``: two more users in ``service`` with e-mail addresses, an e-mail endpoint and a
  DingTalk robot bound to the role: 3 in-app + 3 e-mail + 1 robot = 7 messages per request.

Each run builds fresh requests (new dedupe keys) and times ``notify_many`` alone, including its
one INSERT, in a transaction that is rolled back afterwards (so the outbox does not grow).
Reported per message written, median and best run: wall time (with the INSERT's round trip and
the server's work) and this process's CPU time (the Python side; steadier on a busy machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DB = "orderhub_bench_notify_enqueue"
URL = f"postgres://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"


def load(n: int) -> None:
    from orderhub.orders.services import order_create_batch

    acts = common.actors()
    inputs = common.InputFactory(seed=7, lines=2)
    for i in range(0, n, 100):
        order_create_batch(items=[inputs.order_input() for _ in range(min(100, n - i))],
                           actor=acts["sales"])


def requests_for(orders, stages, run: int):
    from orderhub.notify.services import NotifyRequest, Recipient
    from orderhub.notify.subscribers import _stage_name, submitted_at

    out = []
    for o in orders:
        inst = stages[o.pk]
        ctx = {"stage": inst.stage, "stage_name": _stage_name(o, inst.stage), "owner_role": inst.owner_role,
               "due_at": inst.due_at, "left_stage": "", "actor": "销售 bench_sales"}
        out.append(NotifyRequest(
            event="order.created", recipients=[Recipient.role(inst.owner_role)], context=ctx, order=o,
            severity="red" if o.urgency == "red" else "info", dedupe_key=f"bench:{run}:{o.pk}:{inst.pk}",
            extra_payload={"first_touch": {"submitted_at": submitted_at(o).isoformat()}}))
    return out


def inapp_setup() -> None:
    from django.contrib.auth import get_user_model

    from orderhub.notify.models import Endpoint

    get_user_model().objects.filter(username__startswith="bench_service").exclude(
        username="bench_service").delete()
    Endpoint.objects.all().delete()


def mixed_setup() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from orderhub.core.actors import Actor
    from orderhub.notify.services import endpoint_save

    User = get_user_model()
    group = Group.objects.get(name="service")
    for i in range(2):
        u, _ = User.objects.get_or_create(username=f"bench_service{i}", defaults={"email": f"s{i}@example.com"})
        u.groups.add(group)
    User.objects.filter(username="bench_service").update(email="s@example.com")
    admin = Actor.system("bench")
    endpoint_save(code="mail", name="mail", kind="email", config={}, actor=admin)
    endpoint_save(code="robot", name="robot", kind="dingtalk", roles=["service"],
                  config={"url": "https://oapi.dingtalk.com/robot/send?access_token=x"}, actor=admin)


def measure(orders, stages, runs: int, first_run: int) -> dict:
    from django.db import transaction

    from orderhub.notify.services import clear_caches, notify_many

    clear_caches()
    wall, cpu, written = [], [], 0
    for run in range(first_run, first_run + runs + 1):
        reqs = requests_for(orders, stages, run)
        with transaction.atomic():
            t, c = time.perf_counter(), time.process_time()
            written = notify_many(reqs)
            c, t = time.process_time() - c, time.perf_counter() - t
            transaction.set_rollback(True)
        if run == first_run:
            continue          # warm-up: caches, prepared statement, compiled templates
        wall.append(t / written * 1e6)
        cpu.append(c / written * 1e6)
    return {"requests": len(orders), "messages": written,
            "wall_us_per_message": {"median": round(statistics.median(wall), 1), "min": round(min(wall), 1)},
            "cpu_us_per_message": {"median": round(statistics.median(cpu), 1), "min": round(min(cpu), 1)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    if not args.reuse:
        common.recreate_database(DB)
    common.bootstrap(URL)
    if not args.reuse:
        common.migrate()
        common.seed()
        load(args.requests)
    from orderhub.orders.models import Order, StageInstance

    orders = list(Order.objects.select_related("customer").order_by("pk")[:args.requests])
    stages = {s.order_id: s for s in StageInstance.objects.filter(order__in=orders).order_by("pk")}
    inapp_setup()
    print("inapp:", measure(orders, stages, args.runs, 1))
    mixed_setup()
    print("mixed:", measure(orders, stages, args.runs, 1000))


if __name__ == "__main__":
    main()

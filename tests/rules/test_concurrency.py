"""Several runners at once (as on several machines): every rung fires once, every late stage is
marked once. Real concurrent connections on PostgreSQL."""

import threading
from collections import Counter
from datetime import datetime

import pytest
from django.db import connection

from orderhub.core import clock
from orderhub.core.models import AuditEvent
from orderhub.orders import services
from orderhub.orders.models import EscalationStep, StageInstance
from orderhub.rules.ladders import ladder_fire_due
from orderhub.rules.sweep import sweep_overdue
from tests.conftest import SH, order_input

RUNNERS = 4
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def run_together(fn) -> list:
    barrier = threading.Barrier(RUNNERS)
    results, errors = [], []

    def runner():
        try:
            barrier.wait(timeout=30)
            results.append(fn())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=runner) for _ in range(RUNNERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_concurrent_ladder_runners_fire_each_rung_once(company):
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        items = services.order_create_batch(items=[order_input(workflow="T2", external_ref=f"L{i}")
                                                   for i in range(30)], actor=company["actors"]["service"])
    ids = [r.order.pk for r in items]

    def fire():
        with clock.frozen(at(2026, 11, 23, 12, 0, 1)):
            return ladder_fire_due()

    counts = run_together(fire)
    assert sum(counts) == 30
    assert EscalationStep.objects.filter(order_id__in=ids, fired_at__isnull=True).count() == 0
    per_order = Counter(AuditEvent.objects.filter(subject_type="order", subject_id__in=ids,
                                                  action="order.escalated").values_list("subject_id", flat=True))
    assert set(per_order.values()) == {1} and len(per_order) == 30
    reds = Counter(AuditEvent.objects.filter(subject_type="order", subject_id__in=ids,
                                             action="order.updated").values_list("subject_id", flat=True))
    assert set(reds.values()) == {1} and len(reds) == 30


def test_concurrent_sweeps_mark_each_late_stage_once(company):
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        services.order_create_batch(items=[order_input(external_ref=f"S{i}") for i in range(40)],
                                    actor=company["actors"]["sales"])

    def sweep():
        with clock.frozen(at(2026, 11, 23, 14, 0)):
            return sweep_overdue(batch=5).marked

    assert sum(run_together(sweep)) == 40
    assert StageInstance.objects.filter(overdue_at__isnull=True, exited_at__isnull=True).count() == 0

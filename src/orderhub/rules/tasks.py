"""Periodic jobs of the rules app (Celery beat in production, the embedded runner in the demo).
Each is safe to run on several machines at once and to run late or twice."""

from orderhub.celery import periodic

from .engine import rules_apply_pending, rules_run_schedule
from .ladders import ladder_fire_due
from .sweep import sweep_overdue


@periodic(seconds=30, name="rules.sweep_overdue")
def sweep_overdue_job() -> None:
    sweep_overdue()


@periodic(seconds=1, name="rules.escalate")
def escalate_job() -> None:
    ladder_fire_due()


@periodic(seconds=1, name="rules.apply")
def apply_job() -> None:
    rules_apply_pending()


@periodic(seconds=60, name="rules.schedule")
def schedule_job() -> None:
    rules_run_schedule()

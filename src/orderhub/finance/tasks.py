"""Periodic jobs of finance (Celery beat in production, the embedded runner in the demo). Each
is safe to run on several machines at once and to run late or twice."""

from orderhub.celery import periodic

from .services.promises import promises_sweep


@periodic(seconds=300, name="finance.promises")
def promises_job() -> None:
    promises_sweep()

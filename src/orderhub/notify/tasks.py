"""Celery tasks of the notification hub (and the embedded runner's jobs)."""

from orderhub.celery import app, periodic

from .delivery import deliver_due


@app.task(name="notify.deliver", ignore_result=True)
def deliver() -> int:
    """Woken after a commit that queued messages: deliver everything due."""
    return deliver_due()


@periodic(seconds=2, name="notify.deliver_due")
def deliver_due_sweep() -> int:
    """Safety net: retries whose backoff ended, rows whose sending lease ran out, missed wakes."""
    return deliver_due()

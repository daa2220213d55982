"""Periodic job of the purchasing app (Celery beat in production, the embedded runner in the
demo): the replenishment rule (``replenishment``). Safe to run late, twice or on several machines
(never two open requests for one SKU from the rule)."""

from orderhub.celery import periodic

from .replenishment import replenishment_scan


@periodic(seconds=3600, name="purchasing.replenishment")
def replenishment_job() -> None:
    replenishment_scan()

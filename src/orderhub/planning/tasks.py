"""Periodic jobs of planning (Celery beat in production, the embedded runner in the demo):
``planning.replan`` reads stock and open POs again and rebuilds the schedule (owners of orders
that slip are told once per new date); ``planning.risk_scan`` tells owners of orders at risk
within 48 hours (once per order and kind of risk). Both are safe to run late or twice."""

from orderhub.celery import periodic
from orderhub.core.actors import Actor

from .risk import risk_scan
from .services import schedule_rebuild


@periodic(seconds=900, name="planning.replan")
def replan_job() -> None:
    schedule_rebuild(actor=Actor.system("planning.replan"), refresh_materials=True)


@periodic(seconds=3600, name="planning.risk_scan")
def delivery_risk_job() -> None:
    risk_scan()

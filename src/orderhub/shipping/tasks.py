"""Shipping's periodic job: the carrier breaker looks at new planned shipments of a disrupted
carrier (marking and clearing a disruption check at once; this catches shipments planned
since). The shipping notice goes through the notify outbox."""

from orderhub.celery import periodic
from orderhub.core.actors import Actor

from .breaker import check_carriers


@periodic(seconds=300, name="shipping.carrier_breaker")
def carrier_breaker_job() -> None:
    check_carriers(actor=Actor.system("circuit-breaker"))

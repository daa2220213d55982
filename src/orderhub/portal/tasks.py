"""Periodic jobs of the portal: used and expired one-time codes are deleted after a day."""

from datetime import timedelta

from orderhub.celery import periodic
from orderhub.core import clock


@periodic(seconds=3600, name="portal.prune_codes")
def prune_codes() -> int:
    from .models import LoginCode

    deleted, _ = LoginCode.objects.filter(expires_at__lt=clock.now() - timedelta(days=1)).delete()
    return deleted


@periodic(seconds=600, name="portal.coei_refresh")
def coei_refresh() -> int:
    """Score the orders whose kept COEI no longer stands (``portal.coei.refresh``), so the
    dashboards read kept scores instead of scoring thousands of orders on a page view."""
    from .coei import refresh

    return refresh()

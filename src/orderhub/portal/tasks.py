"""Periodic jobs of the portal: used and expired one-time codes are deleted after a day."""

from datetime import timedelta

from orderhub.celery import periodic
from orderhub.core import clock


@periodic(seconds=3600, name="portal.prune_codes")
def prune_codes() -> int:
    from .models import LoginCode

    deleted, _ = LoginCode.objects.filter(expires_at__lt=clock.now() - timedelta(days=1)).delete()
    return deleted

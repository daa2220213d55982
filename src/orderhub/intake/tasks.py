"""Intake's periodic jobs (registered with ``orderhub.celery.periodic``; imported by the app's
``ready()`` so workers, beat and the embedded runner all see them)."""

from orderhub.celery import periodic

from .services.refusals import refusals_prune


@periodic(seconds=300, name="intake.prune_refused")
def prune_refused() -> None:
    """Keep the refused-request log bounded (age and row count; see ``refusals_prune``)."""
    refusals_prune()

"""Intake's periodic jobs (registered with ``orderhub.celery.periodic``; imported by the app's
``ready()`` so workers, beat and the embedded runner all see them)."""

from orderhub.celery import periodic

from .services.background import imports_resume_stalled
from .services.refusals import refusals_prune


@periodic(seconds=300, name="intake.prune_refused")
def prune_refused() -> None:
    """Keep the refused-request log bounded (age and row count; see ``refusals_prune``)."""
    refusals_prune()


@periodic(seconds=60, name="intake.resume_stalled")
def resume_stalled() -> None:
    """Resume the imports whose processes all ended before they did (see ``background``)."""
    imports_resume_stalled()

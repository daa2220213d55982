"""Core's periodic job: the signed checkpoint of the audit chains' heads (``core.checkpoints``),
run by Celery beat and by the embedded runner like every job of ``orderhub.celery``."""

from django.conf import settings

from orderhub.celery import periodic

from .checkpoints import checkpoint_write

if settings.ORDERHUB_AUDIT_CHECKPOINT_SECONDS > 0:
    @periodic(seconds=settings.ORDERHUB_AUDIT_CHECKPOINT_SECONDS, name="audit.checkpoint")
    def audit_checkpoint() -> None:
        checkpoint_write()

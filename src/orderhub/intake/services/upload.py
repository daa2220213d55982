"""CSV/XLSX uploads (and JSON files for a webhook channel: a saved body, or a list of them;
e-mails saved as .eml go to ``email_upload``): the file is stored raw, then imported in chunks with a progress record
a page can poll and a per-row report (row, field, problem), by one process or, accept valid
rows, by several at once (``parallel``)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import PermissionDenied, Problem, ValidationFailed

from ..liveness import importing
from ..models import ImportJob, InboundMessage
from .config import current_config
from .dispatch import inbound_process
from .email import EMAIL_CHANNEL, email_process, email_receive
from .inbox import inbound_receive
from .parallel import import_parallel

MODES = tuple(ImportJob.Mode.values)


def upload_receive(*, channel: str, filename: str, content: bytes, actor: Actor,
                   mode: str = ImportJob.Mode.ACCEPT_VALID, content_type: str = "",
                   source: str = "") -> ImportJob:
    """Check and store an uploaded file, and open its import job (not yet run)."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    problems = []
    if mode not in MODES:
        problems.append(Problem("invalid_choice", _("Mode must be all_or_nothing or accept_valid."), field="mode"))
    version = current_config("mapping", channel)
    if version is None:
        problems.append(Problem("unknown_channel", _("Channel '%(channel)s' has no mapping.") % {"channel": channel},
                                field="channel"))
    if not content:
        problems.append(Problem("required", _("The file is empty."), field="file"))
    elif len(content) > settings.ORDERHUB_INTAKE_MAX_FILE_BYTES:
        problems.append(Problem("too_large", _("The file is larger than %(n)d bytes.")
                                % {"n": settings.ORDERHUB_INTAKE_MAX_FILE_BYTES}, field="file"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    msg = inbound_receive(channel=channel, kind=InboundMessage.Kind.UPLOAD, payload=content, actor=actor,
                          content_type=content_type, filename=filename, source=source)
    now = clock.now()
    return ImportJob.objects.create(message=msg, mode=mode, started_at=now, updated_at=now)


def upload_run(*, job: ImportJob | int, actor: Actor, workers: int | None = None, fork: bool = True,
               until: Callable[[], bool] | None = None,
               forking: Callable[[], None] | None = None) -> ImportJob:
    """Import the job's file (again, after a crash: rows already imported come back as
    duplicates, never twice).

    ``workers`` > 1 (accept valid rows only): the file is split into chunks that that many
    processes import at once (``parallel``); a job split so before goes on with its chunks not yet
    done (``workers``: as planned unless given). All or nothing stays one transaction in this
    process. ``fork``, ``until`` and ``forking``: see ``parallel.import_parallel``."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    job = ImportJob.objects.select_related("message").defer("message__payload").get(
        pk=job if isinstance(job, int) else job.pk)
    actor = actor.for_channel(job.message.channel)  # machine intake: the file's prices are kept
    with importing(job.pk):   # while this (and any worker it forks) lives, the job is not stalled
        if job.mode == ImportJob.Mode.ACCEPT_VALID and job.status == ImportJob.Status.RUNNING and (
                job.plan.get("chunk") or (workers or 1) > 1):
            return import_parallel(job=job, actor=actor, workers=workers, fork=fork, until=until, forking=forking)
        inbound_process(message=job.message, actor=actor, mode=job.mode)
    return ImportJob.objects.select_related("message").defer("message__payload").get(pk=job.pk)


def upload_import(*, channel: str, filename: str, content: bytes, actor: Actor,
                  mode: str = ImportJob.Mode.ACCEPT_VALID, content_type: str = "",
                  source: str = "", workers: int = 1) -> ImportJob:
    job = upload_receive(channel=channel, filename=filename, content=content, actor=actor, mode=mode,
                         content_type=content_type, source=source)
    return upload_run(job=job, actor=actor, workers=workers)


def email_upload(*, filename: str, content: bytes, actor: Actor, source: str = "") -> InboundMessage:
    """An e-mail saved from a mail program (.eml), read as if it had arrived in the mailbox:
    stored raw, split into its attachments, each read by its route (a channel's mapping, or OCR
    into a draft a person confirms). A person's permission is checked, then it runs as the
    e-mail channel's system actor (machine intake keeps the document's prices)."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    if not content:
        raise ValidationFailed("invalid", _("The file is empty."),
                               problems=[Problem("required", _("The file is empty."), field="file")])
    if len(content) > settings.ORDERHUB_INTAKE_MAX_FILE_BYTES:
        message = _("The file is larger than %(n)d bytes.") % {"n": settings.ORDERHUB_INTAKE_MAX_FILE_BYTES}
        raise ValidationFailed("invalid", message, problems=[Problem("too_large", message, field="file")])
    channel_actor = actor.for_channel(EMAIL_CHANNEL)
    msg = email_receive(raw=content, actor=channel_actor, source=source or f"upload:{filename}")
    return email_process(message=msg, actor=channel_actor)


def is_email_file(filename: str, content_type: str = "") -> bool:
    return filename.lower().endswith(".eml") or content_type == "message/rfc822"

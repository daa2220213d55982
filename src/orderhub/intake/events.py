"""Events of the inbox: their types as constants, and one small function per audit event.

Messages have their own chain (subject ``inbound``); orders keep theirs untouched. The triage
alert is an event too, so the notification outbox can route it later from one place.

History events (the ``action`` of an audit event):

``intake.received`` (RECEIVED)
    A payload stored verbatim (subject ``inbound``, the chain's first event). changes: status;
    data: channel, kind, size, sha256, source.
``intake.<status>`` (PARSED, NEEDS_REVIEW, FAILED, DUPLICATE, REJECTED; and RECEIVED again on a
    replay): the message's status changed (``STATUS_EVENTS[status]``). changes: status; data:
    what the step reports (orders, errors, ...); reason.
``intake.import_resumed`` (IMPORT_RESUMED)
    A person (or an ERP) resumed a file's import that had stopped making progress. data: job,
    rows_done, rows_total (where it had stopped).
``intake.triage_alert`` (TRIAGE_ALERT)
    A triage rule flagged an order made from the message. data: order, customer, rule, roles,
    total, hours_to_due, required_date, recipients, fallback.
``intake.draft_confirmed`` / ``intake.draft_discarded`` (DRAFT_CONFIRMED, DRAFT_DISCARDED)
    A draft decided (subject ``intake_draft``, ``DRAFT_EVENTS[status]``). changes: status.
``intake.config_saved`` (CONFIG_SAVED)
    A new mapping / tag / triage / route version (subject ``intake_config``). changes: version;
    data: kind, code; reason: the note.
``intake.channel_saved`` (CHANNEL_SAVED), ``intake.alias_set`` (ALIAS_SET), ``intake.alias_removed``
    (ALIAS_REMOVED), ``intake.profile_set`` (PROFILE_SET), ``intake.quick_link_issued`` (QUICK_LINK_ISSUED)
    Intake settings changed (subjects ``intake_channel``, ``intake_alias``, ``intake_profile``).

Notification events (the ``event`` of an outbox message):

``intake.triage`` (TRIAGE_ALERT_MESSAGE)
    Red, to the roles a triage rule names (or the managers found instead). Context: subject,
    message, rule.
"""

from __future__ import annotations

from typing import Any

from orderhub.core.actors import Actor
from orderhub.core.audit import GENESIS, append_event, build_event

from .models import Draft, InboundMessage

RECEIVED = "intake.received"
PARSED = "intake.parsed"
NEEDS_REVIEW = "intake.needs_review"
FAILED = "intake.failed"
DUPLICATE = "intake.duplicate"
REJECTED = "intake.rejected"
TRIAGE_ALERT = "intake.triage_alert"
DRAFT_CONFIRMED = "intake.draft_confirmed"
DRAFT_DISCARDED = "intake.draft_discarded"
CONFIG_SAVED = "intake.config_saved"
CHANNEL_SAVED = "intake.channel_saved"
ALIAS_SET = "intake.alias_set"
ALIAS_REMOVED = "intake.alias_removed"
PROFILE_SET = "intake.profile_set"
QUICK_LINK_ISSUED = "intake.quick_link_issued"
IMPORT_RESUMED = "intake.import_resumed"

TRIAGE_ALERT_MESSAGE = "intake.triage"
ALL = (RECEIVED, PARSED, NEEDS_REVIEW, FAILED, DUPLICATE, REJECTED, TRIAGE_ALERT, DRAFT_CONFIRMED,
       DRAFT_DISCARDED, CONFIG_SAVED, CHANNEL_SAVED, ALIAS_SET, ALIAS_REMOVED, PROFILE_SET, QUICK_LINK_ISSUED,
       IMPORT_RESUMED, TRIAGE_ALERT_MESSAGE)

S = InboundMessage.Status
STATUS_EVENTS = {S.RECEIVED: RECEIVED, S.PARSED: PARSED, S.NEEDS_REVIEW: NEEDS_REVIEW, S.FAILED: FAILED,
                 S.DUPLICATE: DUPLICATE, S.REJECTED: REJECTED}
DRAFT_EVENTS = {Draft.Status.CONFIRMED: DRAFT_CONFIRMED, Draft.Status.DISCARDED: DRAFT_DISCARDED}
del S

SUBJECT = "inbound"


def message_received(*, message, actor: Actor) -> None:
    """The first event of a message inserted in this transaction: its chain starts here, so no
    read of a previous event is needed."""
    build_event(subject_type=SUBJECT, subject_id=message.pk, head=(0, GENESIS), action=RECEIVED,
                actor=actor, changes={"status": [None, message.status]},
                data={"channel": message.channel, "kind": message.kind, "size": message.size,
                      "sha256": message.sha256, "source": message.source}).save(force_insert=True)


def message_status_changed(*, message, before: str, actor: Actor, data: dict[str, Any] | None = None,
                           reason: str = "") -> None:
    append_event(subject_type=SUBJECT, subject_id=message.pk, action=STATUS_EVENTS[message.status],
                 actor=actor, changes={"status": [before, message.status]}, data=data or {},
                 reason=reason)


def message_status_event(*, message, before: str, head: tuple[int, str], actor: Actor,
                         data: dict[str, Any] | None = None):
    """The status-change event after ``head`` (seq, hash of the message's last event), unsaved:
    for writing many messages' events with one INSERT."""
    return build_event(subject_type=SUBJECT, subject_id=message.pk, head=head, action=STATUS_EVENTS[message.status],
                       actor=actor, changes={"status": [before, message.status]}, data=data or {})


def import_resumed(*, job, actor: Actor) -> None:
    """A stalled import started again (``services.background.upload_resume``)."""
    append_event(subject_type=SUBJECT, subject_id=job.message_id, action=IMPORT_RESUMED, actor=actor,
                 data={"job": job.pk, "rows_done": job.rows_done, "rows_total": job.rows_total})


def triage_alert(*, message, order, alert: dict[str, Any], actor: Actor) -> None:
    """An order that a triage rule flags: ``roles`` and ``recipients`` are whom to tell."""
    append_event(subject_type=SUBJECT, subject_id=message.pk, action=TRIAGE_ALERT, actor=actor,
                 data={"order": order.number, "customer": order.customer.code, **alert})


ORDER_SUBJECT = "intake_triage"   # triage of an order that came by no inbound message (id: the order's)


def triage_alert_order(*, order, alert: dict[str, Any], actor: Actor) -> None:
    """``triage_alert`` for an order entered by the web form or the API (no message)."""
    append_event(subject_type=ORDER_SUBJECT, subject_id=order.pk, action=TRIAGE_ALERT, actor=actor,
                 data={"order": order.number, "customer": order.customer.code, **alert})


def draft_decided(*, draft, actor: Actor, before: str, data: dict[str, Any] | None = None) -> None:
    append_event(subject_type="intake_draft", subject_id=draft.pk, action=DRAFT_EVENTS[draft.status],
                 actor=actor, changes={"status": [before, draft.status]}, data=data or {})


def config_saved(*, version, previous: int | None, actor: Actor, note: str) -> None:
    append_event(subject_type="intake_config", subject_id=version.pk, action=CONFIG_SAVED,
                 actor=actor, changes={"version": [previous, version.version]},
                 data={"kind": version.kind, "code": version.code}, reason=note)

"""Audit events of the inbox, one small function per event type.

Messages have their own chain (subject ``inbound``); orders keep theirs untouched. The triage
alert is an event too, so the notification outbox can route it later from one place.
"""

from __future__ import annotations

from typing import Any

from orderhub.core.actors import Actor
from orderhub.core.audit import GENESIS, append_event, build_event

SUBJECT = "inbound"


def message_received(*, message, actor: Actor) -> None:
    """The first event of a message inserted in this transaction: its chain starts here, so no
    read of a previous event is needed."""
    build_event(subject_type=SUBJECT, subject_id=message.pk, head=(0, GENESIS), action="intake.received",
                actor=actor, changes={"status": [None, message.status]},
                data={"channel": message.channel, "kind": message.kind, "size": message.size,
                      "sha256": message.sha256, "source": message.source}).save(force_insert=True)


def message_status_changed(*, message, before: str, actor: Actor, data: dict[str, Any] | None = None,
                           reason: str = "") -> None:
    append_event(subject_type=SUBJECT, subject_id=message.pk, action=f"intake.{message.status}",
                 actor=actor, changes={"status": [before, message.status]}, data=data or {},
                 reason=reason)


def message_status_event(*, message, before: str, head: tuple[int, str], actor: Actor,
                         data: dict[str, Any] | None = None):
    """The status-change event after ``head`` (seq, hash of the message's last event), unsaved:
    for writing many messages' events with one INSERT."""
    return build_event(subject_type=SUBJECT, subject_id=message.pk, head=head, action=f"intake.{message.status}",
                       actor=actor, changes={"status": [before, message.status]}, data=data or {})


def triage_alert(*, message, order, alert: dict[str, Any], actor: Actor) -> None:
    """An order that a triage rule flags: ``roles`` and ``recipients`` are whom to tell."""
    append_event(subject_type=SUBJECT, subject_id=message.pk, action="intake.triage_alert", actor=actor,
                 data={"order": order.number, "customer": order.customer.code, **alert})


def draft_decided(*, draft, actor: Actor, before: str, data: dict[str, Any] | None = None) -> None:
    append_event(subject_type="intake_draft", subject_id=draft.pk, action=f"intake.draft_{draft.status}",
                 actor=actor, changes={"status": [before, draft.status]}, data=data or {})


def config_saved(*, version, previous: int | None, actor: Actor, note: str) -> None:
    append_event(subject_type="intake_config", subject_id=version.pk, action="intake.config_saved",
                 actor=actor, changes={"version": [previous, version.version]},
                 data={"kind": version.kind, "code": version.code}, reason=note)

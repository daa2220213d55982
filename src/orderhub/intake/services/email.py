"""E-mail intake: poll an IMAP mailbox; each message and each attachment goes into the inbox
raw; spreadsheets go through their channel's mapping, pictures and PDFs through OCR.

A message is flagged \\Seen only after its bytes are committed, so a crash re-reads it at the
next poll; the repeat is recognised by its Message-ID and recorded as a duplicate.
"""

from __future__ import annotations

import email
import email.policy
import fnmatch
import imaplib
import logging
from dataclasses import dataclass
from email.parser import BytesParser

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError, PermissionDenied

from .. import events
from ..models import InboundMessage
from ..ocr import DOCUMENT_TYPES
from ..readers import Unreadable
from ..store import payload_of
from .config import compiled_config, current_config
from .drafts import draft_from_document
from .inbox import inbound_map, inbound_receive, is_document

logger = logging.getLogger(__name__)
Status = InboundMessage.Status
Kind = InboundMessage.Kind
EMAIL_CHANNEL = "email"
MAX_ATTACHMENTS = 50


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int = 993
    user: str = ""
    password: str = ""
    mailbox: str = "INBOX"
    ssl: bool = True

    @classmethod
    def from_settings(cls) -> ImapSettings:
        return cls(host=settings.ORDERHUB_IMAP_HOST, port=settings.ORDERHUB_IMAP_PORT,
                   user=settings.ORDERHUB_IMAP_USER, password=settings.ORDERHUB_IMAP_PASSWORD,
                   mailbox=settings.ORDERHUB_IMAP_MAILBOX, ssl=settings.ORDERHUB_IMAP_SSL)


def email_poll(*, imap: ImapSettings, actor: Actor, limit: int = 200) -> list[InboundMessage]:
    """Fetch unseen messages, store each raw, flag it seen, then process it."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    conn = (imaplib.IMAP4_SSL if imap.ssl else imaplib.IMAP4)(imap.host, imap.port, timeout=30)
    out = []
    try:
        conn.login(imap.user, imap.password)
        typ, _data = conn.select(imap.mailbox)
        if typ != "OK":
            raise DomainError("imap_mailbox", _("Mailbox %(m)s cannot be opened.") % {"m": imap.mailbox})
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        uids = (data[0] or b"").split()[:limit]
        for uid in uids:
            typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
            if typ != "OK" or raw is None:
                continue
            msg = email_receive(raw=raw, actor=actor, source=f"imap://{imap.user}@{imap.host}/{imap.mailbox}",
                                uid=uid.decode())
            conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")  # only now: the bytes are committed
            out.append(email_process(message=msg, actor=actor))
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return out


def email_receive(*, raw: bytes, actor: Actor, source: str = "", uid: str = "") -> InboundMessage:
    # the headers only: the body (its parts, however deeply nested) is read when processed
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    headers = {k: str(parsed.get(k, "")) for k in ("From", "To", "Subject", "Date", "Message-ID") if parsed.get(k)}
    if uid:
        headers["X-IMAP-UID"] = uid
    sender = str(parsed.get("From", ""))
    return inbound_receive(channel=EMAIL_CHANNEL, kind=Kind.EMAIL, payload=raw, actor=actor,
                           content_type="message/rfc822", headers=headers, source=sender or source,
                           external_ref=str(parsed.get("Message-ID", "")).strip())


def _route(filename: str, content_type: str):
    version = current_config("email", "default")
    if version is None:
        return None
    for r in compiled_config(version).routes:
        if r.filename and not fnmatch.fnmatch(filename.lower(), r.filename.lower()):
            continue
        if r.content_type and not fnmatch.fnmatch(content_type.lower(), r.content_type.lower()):
            continue
        return r
    return None


def _attachments(message: InboundMessage) -> list:
    """The attachments of a stored e-mail, refused (``Unreadable``) when the message is larger
    than an upload may be, nests its parts too deeply to parse or carries more than
    ``MAX_ATTACHMENTS`` attachments."""
    limit = settings.ORDERHUB_INTAKE_MAX_FILE_BYTES
    if message.size > limit:
        raise Unreadable(_("The e-mail is larger than %(n)d bytes; refused.") % {"n": limit})
    try:
        parsed = email.message_from_bytes(payload_of(message), policy=email.policy.default)
        parts = []
        for part in parsed.iter_attachments():
            parts.append(part)
            if len(parts) > MAX_ATTACHMENTS:
                raise Unreadable(_("The e-mail has more than %(n)d attachments; refused.")
                                 % {"n": MAX_ATTACHMENTS})
    except RecursionError:
        raise Unreadable(_("The e-mail nests its parts too deeply to be read; refused.")) from None
    return parts


def _refuse(message: InboundMessage, before: str, actor: Actor, reason: str) -> InboundMessage:
    with transaction.atomic():
        message.status = Status.FAILED
        message.errors = [{"code": "unreadable", "message": reason}]
        message.attempts += 1
        message.processed_at = clock.now()
        message.save(update_fields=["status", "errors", "attempts", "processed_at"])
        events.message_status_changed(message=message, before=before, actor=actor,
                                      data={"errors": message.errors})
    return message


def email_process(*, message: InboundMessage, actor: Actor) -> InboundMessage:
    """Split a stored e-mail into its attachments (each its own inbox message) and process them."""
    message = InboundMessage.objects.get(pk=message.pk)
    before = message.status
    earlier = (InboundMessage.objects.filter(channel=EMAIL_CHANNEL, kind=Kind.EMAIL,
                                             external_ref=message.external_ref)
               .exclude(pk=message.pk).exclude(status__in=[Status.RECEIVED, Status.FAILED]).first()
               if message.external_ref else None)
    if earlier is not None:
        with transaction.atomic():
            message.status = Status.DUPLICATE
            message.report = {"duplicate_of_message": earlier.pk}
            message.attempts += 1
            message.processed_at = clock.now()
            message.save(update_fields=["status", "report", "attempts", "processed_at"])
            events.message_status_changed(message=message, before=before, actor=actor,
                                          data={"duplicate_of_message": earlier.pk})
        return message
    children = list(message.children.order_by("pk"))
    if not children:  # first time: split (a replay reuses the stored parts)
        try:
            attachments = _attachments(message)
        except Unreadable as exc:
            return _refuse(message, before, actor, str(exc))
        for part in attachments:
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename() or ""
            children.append(inbound_receive(
                channel=EMAIL_CHANNEL, kind=Kind.ATTACHMENT, payload=payload, actor=actor,
                content_type=part.get_content_type(), filename=filename, parent=message,
                source=message.source))
    problems = []
    for child in children:
        if child.status not in (Status.RECEIVED, Status.FAILED):
            continue
        route = _route(child.filename, child.content_type)
        if route is None:
            problems.append({"code": "no_route", "field": child.filename,
                             "message": _("No route takes attachment '%(f)s' (%(t)s).")
                             % {"f": child.filename, "t": child.content_type}})
            continue
        if route.ocr or child.content_type in DOCUMENT_TYPES and route.channel is None:
            draft_from_document(message=child, actor=actor)
        else:
            if child.route != route.channel:  # the arrival channel stays; the route says who reads it
                InboundMessage.objects.filter(pk=child.pk).update(route=route.channel)
                child.route = route.channel
            if is_document(child):
                draft_from_document(message=child, actor=actor)
            else:
                inbound_map(message=child, actor=actor)
    children = list(message.children.order_by("pk"))
    statuses = {c.status for c in children}
    if not children:
        status = Status.NEEDS_REVIEW
        problems.append({"code": "no_attachment", "message": _("The e-mail has no attachment: a person reads it.")})
    elif Status.FAILED in statuses or problems:
        status = Status.NEEDS_REVIEW if statuses - {Status.FAILED} else Status.FAILED
    elif Status.NEEDS_REVIEW in statuses:
        status = Status.NEEDS_REVIEW
    elif statuses == {Status.DUPLICATE}:
        status = Status.DUPLICATE
    else:
        status = Status.PARSED
    with transaction.atomic():
        message.status = status
        message.errors = problems
        message.report = {"summary": {"attachments": len(children)},
                          "attachments": [{"id": c.pk, "filename": c.filename, "status": c.status,
                                           "channel": c.read_as} for c in children]}
        message.attempts += 1
        message.processed_at = clock.now()
        message.save(update_fields=["status", "errors", "report", "attempts", "processed_at"])
        events.message_status_changed(message=message, before=before, actor=actor,
                                      data={"attachments": message.report["attachments"]})
    return message

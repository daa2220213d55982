"""Files kept with an order."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import (
    PermissionDenied,
    Problem,
    ValidationFailed,
)

from .. import events
from ..locks import lock_order
from ..models import Attachment, Order
from .common import next_event

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def order_attach(*, order: Order | str, name: str, content: bytes, content_type: str,
                 actor: Actor) -> Attachment:
    """Keep a drawing, photo or document with the order (hashed, audited)."""
    if not (actor.has_perm("orders.add_order") or actor.has_perm("orders.view_order")):
        raise PermissionDenied("permission_denied", _("You may not add attachments."))
    if not content:
        raise ValidationFailed("invalid", _("The file is empty."),
                               problems=[Problem("empty_file", _("The file is empty."), field="file")])
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed("too_large", _("A file may be at most 20 MB."),
                               problems=[Problem("too_large", _("A file may be at most 20 MB."), field="file")])
    safe_name = (name or "file").replace("/", "_").replace("\\", "_")[:200]
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        locked = lock_order(order if isinstance(order, str) else order.number)
        now = clock.now()
        att = Attachment(order=locked, name=safe_name, content_type=content_type[:100] or "application/octet-stream",
                         size=len(content), sha256=digest, uploaded_at=now, uploaded_by=actor.label[:150])
        att.file.save(f"{digest[:16]}-{safe_name}", ContentFile(content), save=False)
        att.save(force_insert=True)
        locked.version += 1
        locked.updated_at = now
        ev = next_event(locked, action=events.ORDER_ATTACHMENT_ADDED, actor=actor, now=now,
                        changes={"attachments": [None, safe_name], "version": [locked.version - 1, locked.version]},
                        data={"sha256": digest, "size": len(content), "content_type": att.content_type})
        locked.save(update_fields=["version", "updated_at", "audit_seq", "audit_head"])
        ev.save(force_insert=True)
        return att

"""Writes of the notification hub, by concern: ``enqueue`` (``notify``, the one way to send
anything: outbox rows in the caller's transaction), ``templates``, ``endpoints`` and ``people``
(contact profiles, the in-app inbox, re-sending). What they share is in ``notify.common``, the
rendering of a message's text in ``notify.rendering``."""

from ..common import MANAGE_PERM, clear_caches
from .endpoints import endpoint_save
from .enqueue import (
    NotifyRequest,
    Recipient,
    notify,
    notify_many,
    order_context,
    quiet_hours_end,
    quiet_until,
)
from .people import inbox_mark_read, message_resend, profile_save
from .templates import template_save

__all__ = [
    "MANAGE_PERM", "NotifyRequest", "Recipient", "clear_caches", "endpoint_save", "inbox_mark_read",
    "message_resend", "notify", "notify_many", "order_context", "profile_save", "quiet_hours_end",
    "quiet_until", "template_save",
]

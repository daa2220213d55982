"""Customer sessions, apart from staff sessions: a signed cookie of its own (``oh_portal``)
naming the contact and its session generation. It is never Django's session and never sets
``request.user``: a customer cannot reach a staff page, and a staff sign-in opens no portal.
Bumping the contact's generation ends every session of it at once."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from .models import Contact

COOKIE = "oh_portal"
SALT = "orderhub.portal.session"
# the sign-in step between asking for a code and typing it (which address it was sent to)
PENDING_COOKIE = "oh_portal_pending"
PENDING_SALT = "orderhub.portal.pending"


def max_age() -> int:
    return int(getattr(settings, "ORDERHUB_PORTAL_SESSION_DAYS", 14)) * 86400


def session_token(contact: Contact) -> str:
    return signing.dumps({"c": contact.pk, "g": contact.generation}, salt=SALT)


def session_contact(token: str | None) -> Contact | None:
    """The active contact a session cookie names, or None (bad signature, too old, a later
    generation, the contact or its customer switched off)."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
        pk, gen = int(data["c"]), int(data["g"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return (Contact.objects.select_related("customer")
            .filter(pk=pk, generation=gen, is_active=True, customer__is_active=True).first())


def pending_token(identifier: str, shown_code: str | None = None) -> str:
    data = {"i": identifier}
    if shown_code:
        data["d"] = shown_code   # demo mode only (ORDERHUB_PORTAL_SHOW_CODES)
    return signing.dumps(data, salt=PENDING_SALT)


def pending(token: str | None) -> dict[str, str]:
    if not token:
        return {}
    try:
        data = signing.loads(token, salt=PENDING_SALT, max_age=15 * 60)
    except signing.BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def cookie_options() -> dict:
    return {"httponly": True, "samesite": "Lax", "secure": bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
            "path": "/"}

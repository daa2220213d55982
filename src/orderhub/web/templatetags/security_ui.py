"""Page pieces of the edge: a payload's text shown escaped inside our own page, and the login
lockouts an administrator can lift."""

from __future__ import annotations

from django import template
from django.contrib.auth import get_user_model

from orderhub.core.lockout import login_lockouts
from orderhub.intake.selectors import message_text_preview

register = template.Library()
# pictures the order page draws with <img> from their download (an <img> never runs what it loads)
PICTURE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@register.filter
def shows_as_picture(content_type: str) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in PICTURE_TYPES


@register.inclusion_tag("web/intake/_payload_text.html")
def payload_text(message_id: int):
    """The payload's first 16 KiB as text (auto-escaped by the template), if it is text."""
    found = message_text_preview(message_id)
    return {"text": found[0] if found else None, "more": bool(found and found[1]), "id": message_id}


@register.inclusion_tag("web/config/_lockouts.html", takes_context=True)
def lockouts(context):
    """Usernames locked out of logging in now (django-axes), with an unlock button each."""
    locked = login_lockouts()
    known = set(get_user_model().objects.filter(username__in={lk.username for lk in locked})
                .values_list("username", flat=True)) if locked else set()
    return {"lockouts": [lk for lk in locked if lk.username in known], "csrf_token": context.get("csrf_token")}

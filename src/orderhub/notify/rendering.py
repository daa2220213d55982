"""Message text: a template rendered with the context an outbox row keeps. The deliverer renders
when it sends (``render_pending``); pages render a queued message for display."""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.template import Context, Engine
from django.utils import translation

from . import codec
from .common import templates
from .models import (
    Message,
)

logger = logging.getLogger(__name__)

_engine = Engine(autoescape=False, debug=False)


def compile_template(text: str):
    return _engine.from_string(text)


@functools.lru_cache(maxsize=512)
def _compiled(text: str):
    """Rendering parses each template text once per process (texts are the cache key)."""
    return _engine.from_string(text)


RENDER_KEY = "render"           # payload: the text is rendered at delivery (subject/body empty until then)
TYPES_KEY = "context_types"     # payload: codec.encode's places of the context's typed values
LANG_KEY = "lang"               # payload: the language at enqueue when not LANGUAGE_CODE


def pending_render(m: Message) -> bool:
    """True while ``m`` carries no text yet: queued for rendering and not delivered (a delivered
    row keeps the text it was sent with; rows queued before rendering moved to delivery carry
    their text and no marker)."""
    return bool(m.payload.get(RENDER_KEY)) and m.status != Message.Status.DELIVERED


def render_stored(m: Message) -> tuple[str, str]:
    """Subject and body of the outbox row ``m`` from the template as it is now, the context kept
    in its payload (with its types) and the language it was queued in."""
    p = m.payload or {}
    plain = p.get("context") or {}
    try:
        ctx = codec.decode(plain, p.get(TYPES_KEY))
    except Exception:  # a malformed payload: the plain values still render
        logger.exception("notify: the context of message %s could not be decoded", m.pk)
        ctx = dict(plain)
    lang = p.get(LANG_KEY) or settings.LANGUAGE_CODE
    if lang != translation.get_language():
        with translation.override(lang):
            subject, body = render_message(m.event, m.channel, ctx)
    else:
        subject, body = render_message(m.event, m.channel, ctx)
    return subject[:300], body


def render_pending(m: Message) -> bool:
    """Give ``m`` (in memory) its subject and body if it was queued without them; True if it did.
    The deliverer stores the text with the delivered state; pages render for display only."""
    if not pending_render(m):
        return False
    m.subject, m.body = render_stored(m)
    return True


def render_message(event: str, channel: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of ``event`` on ``channel`` from the template for that channel, else the
    template for every channel, else a plain fallback (the context's ``message``)."""
    tpls = templates()
    t = tpls.get((event, channel)) or tpls.get((event, ""))
    if t is None:
        body = str(ctx.get("message") or event)
        return str(ctx.get("subject") or event)[:300], body
    c = Context(ctx, autoescape=False)
    try:
        subject = _compiled(t.subject).render(c).strip() if t.subject else event
        body = _compiled(t.body).render(c)
    except Exception as e:  # a template that renders badly must not lose the message
        logger.exception("notify: template %s failed to render", t)
        return event, f"{ctx.get('message') or event}\n[template error: {e}]"
    return subject, body



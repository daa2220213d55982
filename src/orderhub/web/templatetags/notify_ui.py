"""The notification pieces other pages include: an order's delivery history, and a message's
text as people read it (its Markdown rendered safely, machine timestamps in local time)."""

from __future__ import annotations

import re
from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

from orderhub.notify.selectors import order_deliveries as _order_deliveries

register = template.Library()

# Raw HTML in a message is shown as text (html off); images would fetch from elsewhere (off);
# markdown-it refuses javascript:, vbscript:, file: and data: links by itself.
_md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).disable("image")

# a UTC/ISO stamp as a template printed it before deadlines were formatted (messages keep the
# text they were delivered with): 2026-12-02T02:38:24.589259+00:00
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})")


def local_stamps(text: str) -> str:
    """Every ISO timestamp with a zone in ``text`` as local ``Y-m-d H:i``."""
    def one(m: re.Match) -> str:
        raw = m.group(0).replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            return m.group(0)
        return formats.date_format(timezone.localtime(value), "Y-m-d H:i")
    return _ISO.sub(one, text or "")


@register.filter
def message_html(body: str) -> str:
    """A message body (Markdown from the templates) as safe HTML."""
    return mark_safe(_md.render(local_stamps(body)))  # noqa: S308 - html is off: input is escaped


@register.filter
def message_text(text: str) -> str:
    """A subject line: local times, no Markdown heading marks."""
    return local_stamps(text).lstrip("#").strip()


@register.inclusion_tag("web/notify/_order_deliveries.html")
def order_deliveries(order):
    """Every message about the order with its attempts (two queries)."""
    return {"deliveries": _order_deliveries(order.pk)}

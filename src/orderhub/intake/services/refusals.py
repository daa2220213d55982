"""Requests refused at intake's door are logged, never stored.

A webhook whose signature is missing, wrong or outside the replay window, one for an unknown
channel, or a quick order with a wrong link creates no inbox message and keeps no body: one
bounded ``RefusedRequest`` row (time, client address, channel, reason, size, SHA-256, the first
1 KiB with control characters escaped) and one line in the app log (logger
``orderhub.intake.refused``). Admins read the rows on the intake page "拒收的请求" and at
``GET /api/intake/refused``. The periodic job ``intake.prune_refused`` keeps the table bounded.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from datetime import timedelta

from django.conf import settings

from orderhub.core import clock
from orderhub.core.actors import RequestContext

from ..models import RefusedRequest

logger = logging.getLogger("orderhub.intake.refused")

HEAD_BYTES = 1024
KEEP_DAYS = 30
MAX_ROWS = 100_000
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def escape_text(text: str) -> str:
    """``text`` with every control, format, separator-line or private/unassigned character and
    every byte that was not UTF-8 written as an escape (``\\n``, ``\\x1b``, ``\\u202e``), and
    backslashes doubled: safe to store, to log on one line and to show."""
    out = []
    for ch in text:
        if ch in _NAMED:
            out.append(_NAMED[ch])
            continue
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def escape_head(body: bytes, limit: int = HEAD_BYTES) -> str:
    """The first ``limit`` bytes of ``body`` as escaped text (see ``escape_text``)."""
    return escape_text(bytes(body[:limit]).decode("utf-8", errors="surrogateescape"))


def refusal_record(*, kind: str, channel: str, reason: str, detail: str, body: bytes,
                   content_type: str = "", context: RequestContext | None = None) -> RefusedRequest:
    """Log one refused request (table + app log); its body is digested and cut, never kept."""
    context = context or RequestContext()
    body = bytes(body or b"")
    row = RefusedRequest.objects.create(
        received_at=clock.now(), kind=kind, channel=escape_text(channel or "")[:32], reason=reason,
        detail=escape_text(str(detail))[:300], ip=(context.ip or "")[:64],
        user_agent=escape_text(context.user_agent or "")[:300],
        content_type=escape_text(content_type or "")[:200], size=len(body),
        sha256=hashlib.sha256(body).hexdigest(), head=escape_head(body))
    logger.warning("intake refused a %s request: channel=%s reason=%s ip=%s size=%d sha256=%s "
                   "content_type=%s head=%s", row.kind, row.channel, row.reason, row.ip or "-", row.size,
                   row.sha256, row.content_type or "-", row.head)
    return row


def refusals_prune(*, keep_days: int | None = None, max_rows: int | None = None) -> int:
    """Delete refused requests older than ``keep_days`` (``ORDERHUB_REFUSED_KEEP_DAYS``, 30)
    and all but the newest ``max_rows`` (``ORDERHUB_REFUSED_MAX_ROWS``, 100,000); how many went."""
    keep_days = keep_days if keep_days is not None else getattr(settings, "ORDERHUB_REFUSED_KEEP_DAYS", KEEP_DAYS)
    max_rows = max_rows if max_rows is not None else getattr(settings, "ORDERHUB_REFUSED_MAX_ROWS", MAX_ROWS)
    deleted, _by_model = RefusedRequest.objects.filter(
        received_at__lt=clock.now() - timedelta(days=keep_days)).delete()
    cutoff = list(RefusedRequest.objects.order_by("-id").values_list("id", flat=True)[max_rows:max_rows + 1])
    if cutoff:
        more, _by_model = RefusedRequest.objects.filter(id__lte=cutoff[0]).delete()
        deleted += more
    if deleted:
        logger.info("intake: pruned %d refused requests", deleted)
    return deleted

"""Reads of shop-floor tickets: the knowledge base (closed tickets by text, type, product and
customer) and the past resolutions most like a ticket being opened. Every read is narrowed to
the orders the actor sees (``orders.selectors.visible``).

Text search is a substring match on ``search_text`` (``icontains``): on PostgreSQL a trigram
index (pg_trgm, on ``UPPER(search_text)``) serves it, so Chinese needs no word segmenter; on
SQLite it is a plain scan. Similarity is character bigrams (Dice), computed here for the few
candidates the database returns, the same on every database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from orderhub.core.actors import Actor
from orderhub.orders.models import Ticket
from orderhub.orders.selectors import visible

from .models import FloorTicket

KB_LIMIT = 100
SIMILAR_CANDIDATES = 300


@dataclass(frozen=True)
class KbQuery:
    text: str = ""
    problem_type: str = ""
    product: str = ""
    customer: str = ""


def plain(value: str, limit: int = 200) -> str:
    """A search term as the database can compare it: no NUL or other control characters."""
    return "".join(ch for ch in (value or "")[:limit] if ch.isprintable() or ch == " ").strip()


def floor_tickets(actor: Actor) -> QuerySet[FloorTicket]:
    qs = FloorTicket.objects.select_related("ticket__order__customer", "problem_type", "product").prefetch_related(
        "photos__attachment")
    return visible(qs, actor, via="ticket__order__")


def _closed(actor: Actor) -> QuerySet[FloorTicket]:
    return floor_tickets(actor).filter(ticket__status=Ticket.Status.RESOLVED)


def kb_search(q: KbQuery, *, actor: Actor, limit: int = KB_LIMIT) -> list[FloorTicket]:
    """Closed tickets matching every part of ``q`` given, newest first. ``text``: each word
    (split on blanks) a substring of the title, details, cause or fix."""
    qs = _closed(actor)
    q = KbQuery(plain(q.text), plain(q.problem_type), plain(q.product), plain(q.customer))
    for word in q.text.split():
        qs = qs.filter(search_text__icontains=word)
    if q.problem_type:
        qs = qs.filter(problem_type__code=q.problem_type)
    if q.product:
        qs = qs.filter(Q(product__sku=q.product) | Q(product__name__icontains=q.product))
    if q.customer:
        qs = qs.filter(Q(ticket__order__customer__code=q.customer)
                       | Q(ticket__order__customer__name__icontains=q.customer))
    return list(qs.order_by("-ticket__resolved_at")[:limit])


def bigrams(text: str) -> set[str]:
    s = "".join(ch for ch in text.lower() if not ch.isspace())
    return {s[i:i + 2] for i in range(len(s) - 1)} or ({s} if s else set())


def similarity(a: str, b: str) -> float:
    x, y = bigrams(a), bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


@dataclass(frozen=True)
class Similar:
    floor: FloorTicket
    same_type: bool
    same_product: bool
    score: float


def similar_resolutions(*, actor: Actor, problem_type: str = "", product: str = "", text: str = "",
                        exclude: int | None = None, limit: int = 5) -> list[Similar]:
    """Closed tickets like the one described: same type and product first, then same type or
    same product, each group by text similarity; other tickets only when their text is alike."""
    text, problem_type, product = plain(text, 2000), plain(problem_type), plain(product)
    grams = sorted(bigrams(text))
    near = Q(pk__in=[])
    if problem_type:
        near |= Q(problem_type__code=problem_type)
    if product:
        near |= Q(product__sku=product)
    for g in grams[:40]:
        near |= Q(search_text__icontains=g)
    qs = _closed(actor).filter(near)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    out = []
    for f in qs.order_by("-ticket__resolved_at")[:SIMILAR_CANDIDATES]:
        same_type = bool(problem_type) and f.problem_type.code == problem_type
        same_product = bool(product) and f.product is not None and f.product.sku == product
        score = similarity(text, f.search_text) if text else 0.0
        if same_type or same_product or score > 0.1:
            out.append(Similar(f, same_type, same_product, round(score, 3)))
    out.sort(key=lambda s: (-(s.same_type and s.same_product), -(s.same_type or s.same_product), -s.score))
    return out[:limit]


def floor_dict(f: FloorTicket) -> dict[str, Any]:
    t = f.ticket
    return {"id": t.pk, "order": t.order.number, "customer": t.order.customer.code, "title": t.title,
            "body": t.body, "problem_type": f.problem_type.code, "problem_type_name": f.problem_type.name,
            "severity": f.severity, "product": f.product.sku if f.product else None,
            "owner_role": t.owner_role, "status": t.status, "due_at": t.due_at, "opened_at": t.opened_at,
            "opened_by": t.opened_by, "resolved_at": t.resolved_at, "resolved_by": t.resolved_by,
            "cause": f.cause, "fix": f.fix,
            "photos": [{"id": p.pk, "name": p.attachment.name, "width": p.width, "height": p.height}
                       for p in f.photos.all()]}

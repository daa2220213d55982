"""Tickets API (mounted at /api/tickets): the twin of the ticket pages. Shop-floor tickets are
opened with photos (multipart), resolved with cause and fix; the knowledge base searches closed
tickets; ``similar`` offers past resolutions for a ticket being opened; the problem-type list is
read by everyone who opens tickets and replaced by the administrator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Body, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from orderhub.core.downloads import download_response
from orderhub.core.errors import NotFound
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS
from orderhub.orders.models import Ticket
from orderhub.orders.selectors import visible

from . import selectors, services
from .images import MAX_PHOTO_BYTES
from .models import FloorPhoto, FloorTicket

router = Router(tags=["tickets"])


class PhotoOut(Schema):
    id: int
    name: str
    width: int
    height: int


class TicketOut(Schema):
    id: int
    order: str
    kind: str
    title: str
    body: str
    owner_role: str
    status: str
    due_at: datetime | None
    opened_at: datetime
    opened_by: str
    resolved_at: datetime | None
    resolved_by: str
    resolution: str
    problem_type: str | None = None
    severity: str | None = None
    product: str | None = None
    cause: str = ""
    fix: str = ""
    photos: list[PhotoOut] = []


class SimilarOut(Schema):
    ticket: TicketOut
    same_type: bool
    same_product: bool
    score: float


class ProblemTypeIn(Schema):
    code: str
    name: str
    default_role: str
    active: bool = True


class ProblemTypeOut(ProblemTypeIn):
    pass


class ResolveIn(Schema):
    cause: str
    fix: str


def _ticket_out(t: Ticket, floor: FloorTicket | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.pk, "order": t.order.number, "kind": t.kind, "title": t.title, "body": t.body,
        "owner_role": t.owner_role, "status": t.status, "due_at": t.due_at, "opened_at": t.opened_at,
        "opened_by": t.opened_by, "resolved_at": t.resolved_at, "resolved_by": t.resolved_by,
        "resolution": t.resolution}
    if floor is not None:
        d = selectors.floor_dict(floor)
        out.update({k: d[k] for k in ("problem_type", "severity", "product", "cause", "fix", "photos")})
    return out


def _floor_of(t: Ticket) -> FloorTicket | None:
    return FloorTicket.objects.select_related("problem_type", "product").filter(pk=t.pk).first()


def _ticket(request: ActorRequest, ticket_id: int) -> Ticket:
    t = visible(Ticket.objects.select_related("order__customer"), request.actor, via="order__").filter(
        pk=ticket_id).first()
    if t is None:
        raise NotFound("ticket_not_found", _("Ticket %(id)s does not exist.") % {"id": ticket_id})
    return t


@router.get("", auth=requires("tickets.view"), response={200: list[TicketOut], **ERRORS})
def list_tickets(request: ActorRequest, status: str = "open", mine: bool = False) -> list[dict[str, Any]]:
    """Tickets of the orders one sees (``status`` open or resolved; ``mine``: of one's roles),
    by deadline; at most 500."""
    qs = visible(Ticket.objects.select_related("order__customer", "floor__problem_type", "floor__product")
                 .prefetch_related("floor__photos__attachment"), request.actor,
                 via="order__").filter(status=status).order_by("due_at", "-opened_at")
    if mine:
        qs = qs.filter(owner_role__in=request.actor.roles)
    return [_ticket_out(t, getattr(t, "floor", None)) for t in qs[:500]]


@router.post("", auth=requires("tickets.open"), response={201: TicketOut, **ERRORS})
def open_floor_ticket(request: ActorRequest, order: Form[str], problem_type: Form[str],
                      severity: Form[str] = "normal", title: Form[str] = "", body: Form[str] = "",
                      product: Form[str] = "", owner_role: Form[str] = "",
                      photos: File[list[UploadedFile]] = None) -> Status:  # type: ignore[assignment]
    """Open a shop-floor ticket (multipart form): `order` number, `problem_type` code (see
    /problem-types), `severity` normal/serious/urgent, `title`, `body`, `product` SKU,
    `owner_role` (default: the problem type's), `photos` (JPEG, PNG or WebP, up to 6 of 8 MB
    each; anything that is not a real picture is refused with 422)."""
    # one byte past the cap is enough to refuse an oversized photo without reading all of it
    files = [(f.name or "photo", f.read(MAX_PHOTO_BYTES + 1)) for f in (photos or [])]
    floor = services.floor_ticket_open(order=order, problem_type=problem_type, severity=severity, title=title,
                                       body=body, product=product or None, owner_role=owner_role or None,
                                       photos=files, actor=request.actor)
    return Status(201, _ticket_out(floor.ticket, floor))


@router.get("/knowledge", auth=requires("tickets.knowledge"), response={200: list[TicketOut], **ERRORS})
def search_knowledge(request: ActorRequest, q: str = "", problem_type: str = "", product: str = "",
                     customer: str = "") -> list[dict[str, Any]]:
    """Closed shop-floor tickets: `q` words each a substring of title, details, cause or fix
    (Chinese works: "尺寸" finds "外径尺寸超差"), `problem_type` code, `product` SKU or name part,
    `customer` code or name part. Newest first, at most 100."""
    found = selectors.kb_search(selectors.KbQuery(q, problem_type, product, customer), actor=request.actor)
    return [_ticket_out(f.ticket, f) for f in found]


@router.get("/similar", auth=requires("tickets.knowledge"), response={200: list[SimilarOut], **ERRORS})
def similar_resolutions(request: ActorRequest, problem_type: str = "", product: str = "", text: str = "",
                        limit: int = Query(5, ge=1, le=20)) -> list[dict[str, Any]]:
    """Past resolutions for a ticket being opened: same type and product first, then same type
    or product, each by text similarity; then tickets whose text is alike."""
    found = selectors.similar_resolutions(actor=request.actor, problem_type=problem_type, product=product,
                                          text=text, limit=limit)
    return [{"ticket": _ticket_out(s.floor.ticket, s.floor), "same_type": s.same_type,
             "same_product": s.same_product, "score": s.score} for s in found]


@router.get("/problem-types", auth=requires("tickets.view"), response={200: list[ProblemTypeOut], **ERRORS})
def list_problem_types(request: ActorRequest) -> list[dict[str, Any]]:
    return services.problem_types_data()


@router.put("/problem-types", auth=requires("settings.problem_types"),
            response={200: list[ProblemTypeOut], **ERRORS})
def save_problem_types(request: ActorRequest, payload: Body[list[ProblemTypeIn]]) -> list[dict[str, Any]]:
    """Replace the list, in its order: codes left out are switched off (audited)."""
    return services.problem_types_save(types=[p.dict() for p in payload], actor=request.actor)


@router.get("/{ticket_id}", auth=requires("tickets.view"), response={200: TicketOut, **ERRORS})
def get_ticket(request: ActorRequest, ticket_id: int) -> dict[str, Any]:
    t = _ticket(request, ticket_id)
    return _ticket_out(t, _floor_of(t))


@router.post("/{ticket_id}/resolve", auth=requires("tickets.resolve"), response={200: TicketOut, **ERRORS})
def resolve_ticket(request: ActorRequest, ticket_id: int, payload: ResolveIn) -> dict[str, Any]:
    """Resolve a shop-floor ticket with its cause and fix (the ticket's owner role only)."""
    _ticket(request, ticket_id)
    floor = services.floor_ticket_resolve(ticket=ticket_id, cause=payload.cause, fix=payload.fix,
                                          actor=request.actor)
    return _ticket_out(floor.ticket, floor)


def _photo(request: ActorRequest, ticket_id: int, photo_id: int) -> FloorPhoto:
    _ticket(request, ticket_id)
    photo = FloorPhoto.objects.select_related("attachment").filter(pk=photo_id, ticket_id=ticket_id).first()
    if photo is None:
        raise NotFound("photo_not_found", _("Photo %(id)s does not exist.") % {"id": photo_id})
    return photo


@router.get("/{ticket_id}/photos/{photo_id}", auth=requires("tickets.view"), response={200: bytes, **ERRORS})
def ticket_photo(request: ActorRequest, ticket_id: int, photo_id: int):
    """The photo as uploaded, as a download (application/octet-stream)."""
    p = _photo(request, ticket_id, photo_id)
    return download_response(p.attachment.file.open("rb"), filename=p.attachment.name, fallback="photo.jpg")


@router.get("/{ticket_id}/photos/{photo_id}/thumbnail", auth=requires("tickets.view"),
            response={200: bytes, **ERRORS})
def ticket_photo_thumbnail(request: ActorRequest, ticket_id: int, photo_id: int):
    """A small PNG OrderHub drew from the photo (never the uploaded bytes)."""
    p = _photo(request, ticket_id, photo_id)
    return download_response(bytes(p.thumbnail), filename=f"photo-{p.pk}.png", fallback="photo.png",
                             content_type="image/png")

"""What a signed-in customer starts from the portal besides reading: a new order (with drawings),
a reorder (an earlier order's lines copied into the new order's form), and a change request of
one of its orders, which enters the staff's approval flow (``orders.services.change_requests``).

Placing goes through intake's quick-order path (raw first; ``intake.services.portal_order_submit``,
called by the web and API layers, which sit above both apps); this module keeps the portal's
side: which lines a reorder copies (only from the contact's own orders), the audit event of each
action (subject ``portal_contact``), and the change request raised as the contact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core.actors import RequestContext
from orderhub.core.audit import append_event
from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.text import text_fault
from orderhub.orders.models import ChangeRequest, Order
from orderhub.orders.services.change_requests import change_request_raise
from orderhub.orders.services.lines import LineChange

from . import events
from .models import Contact
from .selectors import my_order
from .services import SUBJECT, contact_actor

MAX_FILES = 5
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_LINES = 30


def reorder_lines(contact: Contact, number: str) -> list[dict[str, Any]]:
    """The lines of one of the contact's orders (SKU, quantity, unit, product name), to copy into
    a new order; another customer's number is a 404."""
    order = my_order(contact, number)
    return [{"sku": ln.product.sku, "qty": format(ln.qty.normalize(), "f"), "unit": ln.unit, "product": ln.product.name}
            for ln in order.lines.select_related("product").order_by("line_no")]


def check_files(files: list[tuple[str, bytes, str]]) -> None:
    """At most 5 drawings of at most 20 MB each, none empty."""
    problems = []
    if len(files) > MAX_FILES:
        problems.append(Problem("too_many", _("At most %(n)d files.") % {"n": MAX_FILES}, field="files"))
    for name, content, _type in files:
        if not content or len(content) > MAX_FILE_BYTES:
            problems.append(Problem("invalid_file", _("%(name)s: files must be 1 byte to 20 MB.") % {"name": name[:100]},
                                    field="files"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)


def order_placed_record(*, contact: Contact, message_id: int, order: str | None, reorder_of: str = "",
                        files: int = 0, context: RequestContext | None = None) -> None:
    """The audit event of an order the contact placed (or reordered) from the portal."""
    append_event(subject_type=SUBJECT, subject_id=contact.pk,
                 action=events.REORDERED if reorder_of else events.ORDER_PLACED,
                 actor=contact_actor(contact, context),
                 data={"message": message_id, "order": order or "", "reorder_of": reorder_of, "files": files})


def _qty(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12"):
        raise ValidationFailed("invalid", _("Enter a quantity above zero."),
                               problems=[Problem("invalid_quantity", _("Enter a quantity above zero."), field=field)])
    return amount


def change_request_raise_for(*, contact: Contact, number: str, reason: str, required_date: date | None = None,
                             quantities: dict[int, Any] | None = None,
                             context: RequestContext | None = None) -> ChangeRequest:
    """Ask for a change of one of the contact's orders: a new required date and/or new quantities
    of its lines (by line number), with the reason. It enters the same approval flow as a staff
    request (approvers from the order's stage, the order frozen until decided); 404 for another
    customer's order; 409 when the order's stage allows no change."""
    order = my_order(contact, number)
    reason = (reason or "").strip()
    if not reason or len(reason) > 1000 or text_fault(reason, multiline=True):
        raise ValidationFailed("invalid", _("Tell us why (1 to 1000 characters)."),
                               problems=[Problem("required", _("Tell us why (1 to 1000 characters)."), field="reason")])
    current = {ln.line_no: ln.qty for ln in order.lines.all()}
    changes = []
    for line_no, value in sorted((quantities or {}).items()):
        if line_no not in current:
            raise ValidationFailed("invalid", _("Unknown line."), problems=[Problem("invalid", _("Unknown line."),
                                                                                      field=f"qty_{line_no}")])
        qty = _qty(value, f"qty_{line_no}")
        if qty != current[line_no]:
            changes.append(LineChange(op="update", line_no=line_no, qty=qty))
    header: dict[str, Any] = {}
    if required_date is not None and required_date != order.required_date:
        header["required_date"] = required_date
    actor = contact_actor(contact, context)
    with transaction.atomic():
        request = change_request_raise(order=order.number, actor=actor, header=header, lines=changes,
                                       reason=reason, customer_id=contact.customer_id)
        append_event(subject_type=SUBJECT, subject_id=contact.pk, action=events.CHANGE_REQUESTED, actor=actor,
                     data={"order": order.number, "request": request.pk})
    return request


def my_change_requests(order: Order) -> list[dict[str, Any]]:
    """The change requests the customer's contacts raised on the order: when, status, reason."""
    rows = (ChangeRequest.objects.filter(order=order, requested_by_user__isnull=True,
                                         requested_by__endswith=f"({order.customer.code})")
            .order_by("-requested_at")[:10])
    return [{"id": r.pk, "status": r.status, "status_label": r.get_status_display(), "requested_at": r.requested_at,
             "reason": r.reason} for r in rows]

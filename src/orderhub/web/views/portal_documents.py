"""The signed-in customer's documents of their own order (portal): the order confirmation and,
for each shipment that has left, its delivery note and packing list, as PDF downloads. Another
customer's order or shipment is a 404, as for one that does not exist."""

from __future__ import annotations

from django.http import Http404

from orderhub.core.downloads import download_response
from orderhub.core.errors import DomainError
from orderhub.portal import selectors as portal_selectors
from orderhub.shipping import documents
from orderhub.shipping import selectors as shipping_selectors

from .portal import customer_required

PDF = "application/pdf"


def _pdf(content: bytes, kind: str, number: str):
    return download_response(content, filename=documents.filename(kind, number), fallback="document.pdf",
                             content_type=PDF)


@customer_required
def portal_order_document(request, number: str):
    """The order confirmation of one of my orders."""
    try:
        order = portal_selectors.my_order(request.portal_contact, number)
        return _pdf(documents.order_pdf(order, "confirmation"), "confirmation", order.number)
    except DomainError as e:   # not theirs, or a document that cannot be made (a broken template)
        raise Http404(e.message) from e


@customer_required
def portal_shipment_document(request, number: str, shipment: str, kind: str):
    """The delivery note or packing list of a shipment of one of my orders that has left."""
    if kind not in documents.SHIPMENT_KINDS:
        raise Http404(kind)
    try:
        order = portal_selectors.my_order(request.portal_contact, number)
        sh = shipping_selectors.customer_shipment(order, shipment)
        return _pdf(documents.shipment_pdf(sh, kind), kind, sh.number)
    except DomainError as e:   # not theirs, not shipped yet, or a document that cannot be made
        raise Http404(e.message) from e

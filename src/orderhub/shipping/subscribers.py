"""Order hooks → the order confirmation to the customer: an order leaving its workflow's first
stage (待确认: reviewed and confirmed) queues one e-mail to the customer's contact address with
the order confirmation PDF attached (made when the e-mail is sent, ``notify.attachments``).
Once per order (the deduplication key), only if the customer has an e-mail address and an
e-mail endpoint is configured. No query for changes that are not such a move nor when no e-mail
endpoint is configured; one ``notify_many`` per published batch."""

from __future__ import annotations

from django.utils.translation import gettext as _

from orderhub.notify.common import channel_configured
from orderhub.notify.services import NotifyRequest, Recipient, notify_many
from orderhub.orders.events import MOVES
from orderhub.orders.hooks import OrderChange
from orderhub.orders.models import Order
from orderhub.workflow.services import compiled

from . import documents, events


def _confirmed(ch: OrderChange) -> bool:
    if ch.action not in MOVES or not ch.left_stage or ch.entered is None:
        return False
    try:
        return ch.left_stage == compiled(ch.order.workflow_id).initial.spec.code
    except Exception:  # noqa: BLE001 - an unknown workflow version: not a confirmation we can tell
        return False


def confirmation_request(order: Order) -> NotifyRequest:
    """The order confirmation e-mail of ``order``, its PDF attached at send time."""
    subject = _("Order confirmation: order %(order)s") % {"order": order.number}
    body = _("Dear customer,\nyour order %(order)s has been confirmed; the order confirmation is "
             "attached.\nTotal: %(total)s %(currency)s\nRequired date: %(required)s\n") % {
        "order": order.number, "total": f"{order.total_amount:,.2f}", "currency": order.currency,
        "required": order.required_date.strftime("%Y-%m-%d") if order.required_date else "—"}
    return NotifyRequest(
        event=events.ORDER_CONFIRMATION, recipients=[Recipient.customer(order.customer_id)],
        context={"subject": subject, "message": body}, order=order,
        dedupe_key=f"order-confirmation:{order.pk}", channels=["email"],
        extra_payload={"attachment_refs": [documents.attachment_ref("confirmation", order.number)]})


def on_order_changes(changes: list[OrderChange]) -> None:
    if not any(ch.action in MOVES for ch in changes) or not channel_configured("email"):
        return   # no e-mail endpoint: nothing to send, no query
    requests = [confirmation_request(ch.order) for ch in changes if _confirmed(ch)]
    if requests:
        notify_many(requests)

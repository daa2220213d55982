"""The events shipping emits (history events in the order's chain, and the notification it
sends). Nothing else spells these strings.

``shipment.created`` (SHIPMENT_CREATED)
    A shipment planned for the order (``shipment_create``). changes: version; data: shipment,
    lines [{line_no, sku, qty}], ship_to, carrier, waybill, notice_to. History only.
``shipment.shipped`` (SHIPMENT_SHIPPED)
    The shipment left (``shipment_ship``): stock consumed. changes: version; data: shipment,
    carrier, waybill, moves [{sku, warehouse, qty, from_reservation}]. History only.

``shipment.pod_added`` (SHIPMENT_POD_ADDED) / ``shipment.accepted`` (SHIPMENT_ACCEPTED)
    Proof of delivery kept for the shipment (``shipment_pod``; data: shipment, name, sha256,
    size, content_type) / the customer's acceptance recorded (``shipment_accept``; data:
    shipment, accepted_by, note). History only.
``letterhead.saved`` (LETTERHEAD_SAVED) / ``document_template.saved`` (DOCUMENT_TEMPLATE_SAVED)
    The company letterhead or a document's template changed (``letterhead_save``,
    ``document_template_save``), in their own chains. changes: each field [before, after]
    (the logo as its SHA-256).

Notification:

``shipment.notice`` (SHIPPING_NOTICE)
    The shipping notice to the customer's contact e-mail, queued when the shipment is created
    (its subject and text are in the message's context), the delivery note PDF attached.
``document.order_confirmation`` (ORDER_CONFIRMATION)
    The order confirmation to the customer's contact e-mail, queued when the order leaves its
    workflow's first stage (``subscribers``), the order confirmation PDF attached.
``shipment.delivered`` (DELIVERY_NOTICE)
    The delivery notice to the customer's contact e-mail, queued once per shipment when its
    proof of delivery or the customer's acceptance is first recorded; it carries the link to
    the order's satisfaction survey (``orders.survey_links``).
"""

SHIPMENT_CREATED = "shipment.created"
SHIPMENT_SHIPPED = "shipment.shipped"
SHIPMENT_POD_ADDED = "shipment.pod_added"
SHIPMENT_ACCEPTED = "shipment.accepted"
SHIPPING_NOTICE = "shipment.notice"
ORDER_CONFIRMATION = "document.order_confirmation"
DELIVERY_NOTICE = "shipment.delivered"
LETTERHEAD_SAVED = "letterhead.saved"
DOCUMENT_TEMPLATE_SAVED = "document_template.saved"

HISTORY = (SHIPMENT_CREATED, SHIPMENT_SHIPPED, SHIPMENT_POD_ADDED, SHIPMENT_ACCEPTED)
ALL = (*HISTORY, SHIPPING_NOTICE, ORDER_CONFIRMATION, DELIVERY_NOTICE, LETTERHEAD_SAVED, DOCUMENT_TEMPLATE_SAVED)

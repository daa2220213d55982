"""The events purchasing records: the ``action`` of an audit event in the subject's chain
(subject ``purchase_request`` or ``purchase_order``, id the row's). History only, not published.

``purchase.request_raised`` (REQUEST_RAISED)
    A purchase request (by hand or from an order's shortage). data: number, sku, qty, order.
``purchase.request_approved`` / ``purchase.request_rejected`` (REQUEST_APPROVED / REQUEST_REJECTED)
    Decided by a role allowed to approve. changes: status; reason: the note.
``purchase.order_placed`` (ORDER_PLACED)
    A purchase order with its lines (by hand, from approved requests or imported from the ERP).
    data: number, supplier, lines, requests, source.
``purchase.goods_received`` (GOODS_RECEIVED)
    Goods received against lines (partial or full). data: receipts (line, sku, qty, received).
``supplier.saved`` (SUPPLIER_SAVED)
    A supplier and its prices created or changed. changes: each field [before, after].
``replenishment.rule_saved`` (RULE_SAVED)
    The replenishment rule's numbers changed (subject ``replenishment_rule``). changes: each
    field [before, after].
"""

REQUEST_RAISED = "purchase.request_raised"
REQUEST_APPROVED = "purchase.request_approved"
REQUEST_REJECTED = "purchase.request_rejected"
ORDER_PLACED = "purchase.order_placed"
GOODS_RECEIVED = "purchase.goods_received"
SUPPLIER_SAVED = "supplier.saved"
RULE_SAVED = "replenishment.rule_saved"

ALL = (REQUEST_RAISED, REQUEST_APPROVED, REQUEST_REJECTED, ORDER_PLACED, GOODS_RECEIVED, SUPPLIER_SAVED,
       RULE_SAVED)

"""The events planning records and sends.

History (audit events of subject ``work_center`` or ``order_plan``):

``planning.line_saved`` (LINE_SAVED)
    A production line and its routings created or changed. changes: each field [before, after].
``planning.rush_applied`` (RUSH_APPLIED)
    An order inserted as a rush order on a line (subject ``order_plan``, id the order's). data:
    order, line, before, after, delayed (order, days).

Notifications (outbox messages, context: subject, message, number):

``planning.slipped`` (SLIPPED)
    An order's expected completion moved past its promised date (re-planned after a stock, PO or
    capacity change). Sent to the order's owner once per new date.
``planning.delayed_by_rush`` (DELAYED_BY_RUSH)
    An order delayed by a rush order's insertion. Sent to its owner.
``planning.delivery_risk`` (DELIVERY_RISK)
    The promised date is at risk within 48 hours: short material with no covering PO, a fully
    booked line, an overdue stage. Sent to the owner once per order and kind of risk.
"""

LINE_SAVED = "planning.line_saved"
RUSH_APPLIED = "planning.rush_applied"
SLIPPED = "planning.slipped"
DELAYED_BY_RUSH = "planning.delayed_by_rush"
DELIVERY_RISK = "planning.delivery_risk"

HISTORY = (LINE_SAVED, RUSH_APPLIED)
ALL = (*HISTORY, SLIPPED, DELAYED_BY_RUSH, DELIVERY_RISK)

"""Notification events of notify's own: the ``event`` of an outbox message that is not an order
event. (Order and stage notifications are ``orderhub.orders.events`` constants; intake's triage
alert is ``orderhub.intake.events.TRIAGE_ALERT_MESSAGE``.) A message's event is the key of its
template (``notify.defaults``, ``MessageTemplate``).

``rule.notify`` (RULE_NOTIFY)
    A rule's ``notify`` or ``webhook`` action (raised by ``rules.engine`` in the transaction of
    the change that fired it). Context: number, customer, stage, rule, title, message.

``orders.entered`` (ORDERS_ENTERED)
    Many orders entered one stage in one change (an import's chunk of new orders, a bulk move):
    one message to the stage's owner role instead of one per order (``notify.subscribers``; red
    orders are still told one by one). Context: stage, stage_name, owner_role, left_stage,
    left_stage_name, actor, created (new orders), workflow (its code), count, numbers (the first
    20), more, due_at (the earliest deadline). Each person reached hears of the orders they may see.
"""

from __future__ import annotations

from orderhub.orders import events as order_events

RULE_NOTIFY = "rule.notify"
ORDERS_ENTERED = "orders.entered"
ALL = (RULE_NOTIFY, ORDERS_ENTERED)

# every event a message template ships for (notify.defaults), in the order the page lists them
TEMPLATED = (order_events.ORDER_CREATED, order_events.STAGE_ENTERED, order_events.STAGE_OVERDUE,
             order_events.ESCALATION, RULE_NOTIFY, order_events.TICKET_OPENED,
             order_events.ORDER_CHANGE_REQUESTED, order_events.ORDER_CHANGE_APPLIED,
             order_events.ORDER_CHANGE_REJECTED,
             order_events.ORDER_RESERVATION_EXPIRED, order_events.ORDER_SAFETY_STOCK_LOW, ORDERS_ENTERED)

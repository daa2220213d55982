"""Notification events of notify's own: the ``event`` of an outbox message that is not an order
event. (Order and stage notifications are ``orderhub.orders.events`` constants; intake's triage
alert is ``orderhub.intake.events.TRIAGE_ALERT_MESSAGE``.) A message's event is the key of its
template (``notify.defaults``, ``MessageTemplate``).

``rule.notify`` (RULE_NOTIFY)
    A rule's ``notify`` or ``webhook`` action (raised by ``rules.engine`` in the transaction of
    the change that fired it). Context: number, customer, stage, rule, title, message.
"""

from __future__ import annotations

from orderhub.orders import events as order_events

RULE_NOTIFY = "rule.notify"
ALL = (RULE_NOTIFY,)

# every event a message template ships for (notify.defaults), in the order the page lists them
TEMPLATED = (order_events.ORDER_CREATED, order_events.STAGE_ENTERED, order_events.STAGE_OVERDUE,
             order_events.ESCALATION, RULE_NOTIFY, order_events.TICKET_OPENED,
             order_events.ORDER_CHANGE_REQUESTED, order_events.ORDER_CHANGE_APPLIED,
             order_events.ORDER_CHANGE_REJECTED,
             order_events.ORDER_RESERVATION_EXPIRED, order_events.ORDER_SAFETY_STOCK_LOW)

"""Events of the customer portal (the ``action`` of audit events; subject ``portal_contact``
for contacts, ``order`` is left alone: the order chain keeps only order changes).

``portal.contact_added`` (CONTACT_ADDED) / ``portal.contact_changed`` (CONTACT_CHANGED)
    Staff added or changed a contact. data: customer, name, email, mobile, is_active.
``portal.contact_invited`` (CONTACT_INVITED)
    An invitation was queued to the contact's e-mail / mobile.
``portal.code_sent`` (CODE_SENT)
    A one-time code was queued (data: channel; never the code).
``portal.signed_in`` (SIGNED_IN) / ``portal.code_locked`` (CODE_LOCKED)
    A code was accepted / refused for the 5th time.
``portal.logged_out_everywhere`` (LOGGED_OUT_EVERYWHERE)
    Every session of the contact ended (its generation bumped).
``portal.call_logged`` (CALL_LOGGED)
    Staff logged an inbound "where is my order" call (subject ``portal_call``).

``portal.message_posted`` (MESSAGE_POSTED)
    A message was added to an order's thread (subject ``portal_message``; data: order, side,
    length; the text stays in ``portal.Message``).

``portal.survey_answered`` (SURVEY_ANSWERED)
    A customer answered (or changed) an order's satisfaction survey (subject ``portal_survey``;
    data: order, stars, via portal|link, changed).
``portal.coei_config_saved`` (COEI_CONFIG_SAVED)
    The COEI weights / intervals changed (subject ``coei_config``; changes: each field).
``portal.customer_setting_saved`` (CUSTOMER_SETTING_SAVED)
    A customer's expected update interval changed (subject ``portal_setting``).
``portal.reorder`` (REORDERED) / ``portal.order_placed`` (ORDER_PLACED) / ``portal.change_requested``
(CHANGE_REQUESTED)
    A customer copied an earlier order into a new one, placed an order (with drawings) through
    the intake path, or asked for a change of an order (subject ``portal_contact``; data: order,
    intake message / change request).

Notification events (the ``event`` of an outbox message): ``portal.code`` (CODE_MESSAGE) and
``portal.invite`` (INVITE_MESSAGE), ``portal.message`` (MESSAGE_NOTICE: a new message in an
order's thread, to the other side); their text is in the context (subject, message).
"""

from __future__ import annotations

CONTACT_ADDED = "portal.contact_added"
CONTACT_CHANGED = "portal.contact_changed"
CONTACT_INVITED = "portal.contact_invited"
CODE_SENT = "portal.code_sent"
SIGNED_IN = "portal.signed_in"
CODE_LOCKED = "portal.code_locked"
LOGGED_OUT_EVERYWHERE = "portal.logged_out_everywhere"
CALL_LOGGED = "portal.call_logged"
CODE_MESSAGE = "portal.code"
INVITE_MESSAGE = "portal.invite"
MESSAGE_POSTED = "portal.message_posted"
MESSAGE_NOTICE = "portal.message"
SURVEY_ANSWERED = "portal.survey_answered"
COEI_CONFIG_SAVED = "portal.coei_config_saved"
CUSTOMER_SETTING_SAVED = "portal.customer_setting_saved"
REORDERED = "portal.reorder"
ORDER_PLACED = "portal.order_placed"
CHANGE_REQUESTED = "portal.change_requested"

ALL = (CONTACT_ADDED, CONTACT_CHANGED, CONTACT_INVITED, CODE_SENT, SIGNED_IN, CODE_LOCKED,
       LOGGED_OUT_EVERYWHERE, CALL_LOGGED, CODE_MESSAGE, INVITE_MESSAGE,
       MESSAGE_POSTED, MESSAGE_NOTICE, SURVEY_ANSWERED, COEI_CONFIG_SAVED, CUSTOMER_SETTING_SAVED,
       REORDERED, ORDER_PLACED, CHANGE_REQUESTED)

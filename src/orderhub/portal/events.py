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

ALL = (CONTACT_ADDED, CONTACT_CHANGED, CONTACT_INVITED, CODE_SENT, SIGNED_IN, CODE_LOCKED,
       LOGGED_OUT_EVERYWHERE, CALL_LOGGED, CODE_MESSAGE, INVITE_MESSAGE,
       MESSAGE_POSTED, MESSAGE_NOTICE)

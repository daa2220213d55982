"""Events of the rules app's own records (the order events rules react to are
``orderhub.orders.events``; the message a rule's notify action sends is
``orderhub.notify.events.RULE_NOTIFY``).

``rule.saved`` (RULE_SAVED)
    A rule created or changed (``rules.services.rule_save``), in the rule's own audit chain
    (subject ``rule``). changes: each field's before and after; data: name.
"""

RULE_SAVED = "rule.saved"
ALL = (RULE_SAVED,)

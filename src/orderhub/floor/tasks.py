"""The floor app has no periodic jobs of its own: a shop-floor ticket's deadline and escalation
are rungs of the ``floor`` ticket kind's ladder, fired by ``rules.escalate`` (rules.tasks)."""

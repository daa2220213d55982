"""Exception tickets from the shop floor: a phone form with photos, a configurable list of problem
types, severity, a responsible role and a deadline with the ladder of the ``floor`` ticket kind,
resolution with cause and fix, and a knowledge base of closed tickets (trigram search)."""

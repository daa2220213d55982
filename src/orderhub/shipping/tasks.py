"""Shipping has no periodic job yet (the shipping notice goes through the notify outbox)."""

"""Deadlines, overdue sweep, escalation ladders, the rules engine and exception tickets."""

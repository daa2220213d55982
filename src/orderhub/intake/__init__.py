"""Intake gateway: every channel into one structured order, raw first, nothing lost, no duplicates."""

"""Notification hub: outbox, channels, templates, in-app inbox, deliveries, first-touch latency."""

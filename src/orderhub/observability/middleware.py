"""Request latency by route for Prometheus (``metrics.REQUEST_LATENCY``)."""

from __future__ import annotations

import time

from django.conf import settings

from .metrics import METHODS, REQUEST_LATENCY


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match.route or "unmatched"
    static = "/" + str(getattr(settings, "STATIC_URL", "static/")).lstrip("/")
    return "static" if request.path.startswith(static) else "unmatched"


class RequestMetricsMiddleware:
    """First in the chain, so the time includes every other middleware (and static files)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        REQUEST_LATENCY.labels(route_of(request), method, str(response.status_code)).observe(
            time.perf_counter() - started)
        return response

"""``/healthz`` (anyone: load balancers) and ``/metrics`` (a bearer token)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health, metrics


@never_cache
@require_GET
def healthz(request):
    """200 when healthy, 503 otherwise; JSON naming each check (no host, URL or error text)."""
    ok, report = health.health()
    return JsonResponse(report, status=200 if ok else 503, json_dumps_params={"ensure_ascii": False})


def _authorised(request) -> bool:
    token = getattr(settings, "ORDERHUB_METRICS_TOKEN", "") or ""
    given = request.headers.get("Authorization", "")
    if not token or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given[len("Bearer "):].strip().encode(), token.encode())


@never_cache
@require_GET
def prometheus(request):
    """The metrics for Prometheus, to ``Authorization: Bearer $ORDERHUB_METRICS_TOKEN`` only
    (unset: /metrics is off and answers 404)."""
    if not getattr(settings, "ORDERHUB_METRICS_TOKEN", ""):
        return HttpResponse(status=404)
    if not _authorised(request):
        resp = HttpResponse("401 Unauthorized\n", status=401, content_type="text/plain; charset=utf-8")
        resp["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return resp
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)


# Declared like every page (core.permissions; the permission matrix checks the declaration):
# both carry their own credential or none — /healthz is for load balancers and says nothing
# sensitive, /metrics checks its bearer token above.
healthz.capability = "public"  # type: ignore[attr-defined]
prometheus.capability = "public"  # type: ignore[attr-defined]

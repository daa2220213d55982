"""Per-client-address rate limits on the doors anyone can knock on: the login forms, intake
webhooks, quick-order posts, and refused intake requests.

A small fixed-window counter on Django's cache (``cache.add`` + ``cache.incr``: one atomic
``INCR`` on Redis), so the limits hold across every gunicorn worker and web machine when
``CACHES`` is Redis (production, ``ORDERHUB_JOBS=celery``) and per process in the demo.
django-ratelimit was not used: it has not been released since 2023, cannot tell a client when to
retry without copying its private window arithmetic, and the same check is needed in front of
Django views, the admin login and django-ninja operations alike, which one middleware does
from one table (``LIMITED``).

Limits come from ``settings.ORDERHUB_RATE_LIMITS`` ("count/seconds", "0" = off). Over a limit
the answer is 429 with ``Retry-After`` and a Chinese message (JSON under ``/api/``, a page
elsewhere). IPv6 clients are counted per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .client import client_ip

# (view name, method) -> the limit every request of it counts against
LIMITED: dict[tuple[str, str], str] = {
    ("web:login", "POST"): "login",
    ("admin:login", "POST"): "login",
    ("api:webhook", "POST"): "intake_webhook",
    ("api:quick_who", "POST"): "quick_order",  # POST /api/intake/quick/{token} (path named by its GET)
    ("web:quick_order", "POST"): "quick_order",
}
# views whose refusals (401/403/404: bad signature, unknown channel or link) count against the
# "intake_refused" limit; over it, every request of the client to them is answered 429
REFUSAL_COUNTED = frozenset({"api:webhook", "api:quick_who", "api:quick_qr", "web:quick_order"})
REFUSED = "intake_refused"
# API requests whose bearer token names no live token (``core.http.auth``): over this limit the
# address is answered 429 instead of 401 until its window ends
TOKEN_REFUSED = "api_token_refused"
REFUSAL_STATUSES = frozenset({401, 403, 404})


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str | None) -> Rate | None:
    """``"30/60"`` -> 30 per 60 s; ``""``, ``"0"`` or ``"off"`` -> no limit."""
    text = (text or "").strip().lower()
    if text in ("", "0", "off", "none"):
        return None
    count, _sep, seconds = text.partition("/")
    rate = Rate(int(count), int(seconds or 60))
    if rate.count <= 0 or rate.seconds <= 0:
        return None
    return rate


def rate_for(scope: str) -> Rate | None:
    return parse_rate((getattr(settings, "ORDERHUB_RATE_LIMITS", {}) or {}).get(scope))


def client_key(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64] or "-"
    if addr.version == 6:
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False).network_address) + "/64"
    return str(addr)


def _key(scope: str, who: str, rate: Rate, now: float) -> tuple[str, float]:
    window = int(now // rate.seconds)
    return f"orderhub:rl:{scope}:{who}:{window}", (window + 1) * rate.seconds - now


def hit(scope: str, who: str, *, now: float | None = None) -> int | None:
    """Count one request of ``who`` against ``scope``; the seconds to wait if it is over."""
    rate = rate_for(scope)
    if rate is None:
        return None
    key, left = _key(scope, who, rate, time.time() if now is None else now)
    cache.add(key, 0, rate.seconds + 5)
    try:
        n = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, rate.seconds + 5)
        n = 1
    return max(1, math.ceil(left)) if n > rate.count else None


def exhausted(scope: str, who: str, *, now: float | None = None) -> int | None:
    """The seconds to wait if ``who`` has used up ``scope`` already (counts nothing)."""
    rate = rate_for(scope)
    if rate is None:
        return None
    key, left = _key(scope, who, rate, time.time() if now is None else now)
    return max(1, math.ceil(left)) if (cache.get(key) or 0) >= rate.count else None


def too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = _("Too many requests from your address. Please try again in %(s)d seconds.") % {"s": retry_after}
    resp: HttpResponse
    if request.path.startswith("/api/"):
        resp = JsonResponse({"code": "rate_limited", "message": message}, status=429)
    else:
        resp = render(request, "429.html", {"message": message, "retry_after": retry_after}, status=429)
    resp["Retry-After"] = str(retry_after)
    return resp


class RateLimitMiddleware:
    """Applies ``LIMITED`` and the refusal limit (see the module doc). Place it before
    CsrfViewMiddleware so a flood is answered before anything else is done for it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        view = getattr(request, "_orderhub_rl_view", None)
        if view in REFUSAL_COUNTED and response.status_code in REFUSAL_STATUSES:
            hit(REFUSED, request._orderhub_rl_who)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        view = match.view_name if match else ""
        scope = LIMITED.get((view, request.method))
        if scope is None and view not in REFUSAL_COUNTED:
            return None
        who = client_key(client_ip(request))
        if view in REFUSAL_COUNTED:
            request._orderhub_rl_view, request._orderhub_rl_who = view, who
            wait = exhausted(REFUSED, who)
            if wait:
                return too_many(request, wait)
        if scope is not None:
            wait = hit(scope, who)
            if wait:
                return too_many(request, wait)
        return None

"""The client's address, in one place (audit context, rate limits, login lockout, refusal log).

Directly exposed, it is ``REMOTE_ADDR``. Behind ``ORDERHUB_PROXY_COUNT`` reverse proxies that
each append to ``X-Forwarded-For`` (nginx ``proxy_add_x_forwarded_for``), it is the entry that
many places from the end: what the outermost trusted proxy saw. Entries before it are whatever
the client sent and are never believed.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR") or ""
    hops = int(getattr(settings, "ORDERHUB_PROXY_COUNT", 0) or 0)
    if hops > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return remote

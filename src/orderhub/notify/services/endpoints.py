"""Channel endpoints (robots, webhooks, e-mail and SMS gateways): validated settings, secrets
encrypted, never in the audit log."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from orderhub.core import crypto
from orderhub.core.actors import Actor
from orderhub.core.errors import PermissionDenied
from orderhub.core.roles import ROLES

from ..channels import check_targets, validate_config
from ..common import (
    CHANNELS,
    MANAGE_PERM,
    audit,
    clear_caches,
    invalid,
)
from ..models import (
    DeliveryChannel,
    Endpoint,
)
from ..policy import allow_private_targets
from ..secretconfig import REQUIRED, apply_update, paths, split, url_hint, value_at

SECRET_KEYS = ("secret", "password", "token", "key", "sign")


def _masked(config: dict[str, Any]) -> dict[str, Any]:
    """Endpoint settings as the audit log keeps them: secrets as a fingerprint, never in clear."""
    def fingerprint(v) -> str:
        return "sha256:" + hashlib.sha256(str(v).encode()).hexdigest()[:12]

    out = {}
    for k, v in (config or {}).items():
        if any(s in k.lower() for s in SECRET_KEYS) and v:
            out[k] = fingerprint(v)
        elif isinstance(v, str) and v.startswith(("http://", "https://")) and "?" in v:
            # robot URLs carry their token in the query (access_token=…, key=…)
            base, query = v.split("?", 1)
            out[k] = f"{base}?{fingerprint(query)}"
        else:
            out[k] = v
    return out




# --------------------------------------------------------------------------- endpoints, profiles

def endpoint_save(*, code: str, name: str, kind: str, config: dict, actor: Actor, roles=None,
                  is_active: bool = True, quiet_start=None, quiet_end=None,
                  timeout_seconds: float = 5.0, clear_secrets=()) -> Endpoint:
    """Create or change an endpoint; the channel's settings are validated, naming the key.

    ``config`` is the settings as typed: the secret ones (``notify.secretconfig``) already saved
    are kept where ``config`` leaves them out or empty (they are never shown again), unless
    their path is in ``clear_secrets`` (e.g. ``["secret", "headers.Authorization"]``). The
    URL or SMTP host must resolve to public addresses unless private targets are allowed
    (``policy``). Secrets are stored encrypted (``Endpoint.secrets``), never in the audit log."""
    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("forbidden", _("You may not change channel endpoints."))
    if kind not in CHANNELS or kind == DeliveryChannel.INAPP:
        raise invalid(_("Unknown channel '%(c)s'.") % {"c": kind}, field="kind")
    if not code or slugify(code) != code:
        raise invalid(_("The code must be letters, digits, '-' or '_'."), field="code")
    if not name:
        raise invalid(_("The name is required."), field="name")
    if not (0.1 <= float(timeout_seconds) <= 60):
        raise invalid(_("The timeout must be between 0.1 and 60 seconds."), field="timeout_seconds")
    if (quiet_start is None) != (quiet_end is None):
        raise invalid(_("Quiet hours need both a start and an end."), field="quiet_start")
    roles = list(roles or [])
    for r in roles:
        if r not in ROLES:
            raise invalid(_("Unknown role '%(role)s'.") % {"role": r}, field="roles")
    if not isinstance(config, dict):
        raise invalid(_("The settings must be a mapping."), field="config")
    clear = {str(p) for p in clear_secrets or ()}
    for path in sorted(clear):
        if path in REQUIRED.get(kind, ()):
            raise invalid(_("config.%(key)s: a required secret cannot be cleared, only replaced.")
                           % {"key": path}, field=f"config.{path}")

    def plain(v: dict[str, Any]) -> dict[str, Any]:
        return {**v, "config": _masked(v["config"]),
                "quiet_start": v["quiet_start"].isoformat() if v["quiet_start"] else None,
                "quiet_end": v["quiet_end"].isoformat() if v["quiet_end"] else None}

    with transaction.atomic():
        ep = Endpoint.objects.select_for_update().filter(code=code).first()
        # a kind changed drops the old kind's secrets; a wrong key is an error here too
        old_secret = ep.secret_config() if ep is not None and ep.kind == kind else {}
        full = validate_config(kind, apply_update(kind, old_secret, config, clear))
        check_targets(kind, full, allow_private=allow_private_targets())
        public, secret = split(kind, full)
        values = dict(name=name, kind=kind, config=public, roles=roles, is_active=is_active,
                      quiet_start=quiet_start, quiet_end=quiet_end, timeout_seconds=float(timeout_seconds))
        def shown(secret: dict[str, Any]) -> dict[str, str]:   # in the audit: which are set, URLs' hosts
            return {p: url_hint(value_at(secret, p)) if p == "url" else "set" for p in paths(secret)}

        before = {**plain({k: getattr(ep, k) for k in values}), "secrets": shown(old_secret)} if ep else {}
        if ep is None:
            ep = Endpoint(code=code)
        for k, v in values.items():
            setattr(ep, k, v)
        ep.secrets = crypto.encrypt(json.dumps(secret, ensure_ascii=False, sort_keys=True)) if secret else ""
        ep.save()
        changed = sorted(p for p in set(paths(secret)) | set(paths(old_secret))
                         if value_at(secret, p) != value_at(old_secret, p))
        audit("notify_endpoint", ep.pk, "notify.endpoint_saved", actor, before,
               {**plain(values), "secrets": shown(secret)}, data={"code": code, "secrets_changed": changed})
    clear_caches()
    return ep



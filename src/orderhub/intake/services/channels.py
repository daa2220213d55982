"""Channels set up without code: create one (its mapping started from a shipped template or
another channel's), generate and rotate its webhook secret, and a customer's aliases.

A secret is generated here, stored encrypted (``core.crypto``) and returned once, to the
person who created or rotated it; nothing shows it again. A channel created with a JSON mapping
takes signed webhooks at once (the webhook door caches channels 2 s per process; this process
forgets them at once).
"""

from __future__ import annotations

import copy
import re
import secrets
from pathlib import Path

import yaml
from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.text import text_fault

from .. import events
from ..models import Alias, Channel, ConfigVersion
from ..spec import CODE_RE
from .config import (
    CONFIG_PERM,
    TEMPLATE_DIR,
    channel_save,
    compiled_config,
    config_save,
    current_config,
)

# words the API uses beside /api/intake/{channel}: a channel of that name could not be reached
RESERVED_CODES = frozenset({"messages", "replay-failed", "uploads", "drafts", "config", "quick-links", "quick",
                            "refused", "channels", "mappings", "customers", "aliases"})
SECRET_BYTES = 32


def _require(actor: Actor) -> None:
    if not actor.has_perm(CONFIG_PERM):
        raise PermissionDenied("permission_denied", _("You may not change intake configuration."))


def new_secret() -> str:
    """A fresh shared secret: 32 random bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def mapping_templates() -> dict[str, dict]:
    """The shipped channel mappings by code (what a new channel may start from)."""
    out = {}
    for path in sorted(TEMPLATE_DIR.glob("*.yaml")):
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("kind") == "mapping":
            out[data["code"]] = data
    return out


def _starting_spec(based_on: str) -> dict | None:
    current = current_config("mapping", based_on)
    if current is not None:
        return copy.deepcopy(ConfigVersion.objects.get(pk=current.pk).spec)
    template = mapping_templates().get(based_on)
    return copy.deepcopy(template) if template else None


def takes_webhooks(code: str) -> bool:
    """Whether the channel's current mapping reads JSON (so a signed webhook can reach it)."""
    version = current_config("mapping", code)
    return version is not None and compiled_config(version).spec.format == "json"


@transaction.atomic
def channel_create(*, code: str, name: str, based_on: str, actor: Actor,
                   window_seconds: int = 300) -> tuple[Channel, str]:
    """A new channel with its first mapping (a copy of ``based_on``: a shipped template or an
    existing channel's current mapping, code and name replaced). A channel whose mapping reads
    JSON gets a generated webhook secret, returned here once (``""`` for file channels)."""
    _require(actor)
    code = (code or "").strip()
    name = (name or "").strip()
    problems = []
    if not re.match(CODE_RE, code):
        problems.append(Problem("invalid", _("A channel code is 1–32 lower-case letters, digits, '_', '.' or '-'."),
                                field="code"))
    elif code in RESERVED_CODES:
        problems.append(Problem("reserved", _("'%(code)s' is a word the API uses; choose another code.")
                                % {"code": code}, field="code"))
    elif Channel.objects.filter(code=code).exists() or current_config("mapping", code) is not None:
        raise Conflict("channel_exists", _("Channel '%(code)s' already exists.") % {"code": code},
                       problems=[Problem("exists", _("Channel '%(code)s' already exists.") % {"code": code},
                                         field="code")])
    if not name:
        problems.append(Problem("required", _("Give the channel a name."), field="name"))
    elif fault := text_fault(name):
        problems.append(Problem("invalid_text", fault, field="name"))
    spec = _starting_spec(based_on) if based_on else None
    if spec is None:
        problems.append(Problem("not_found", _("Choose a mapping to start from."), field="based_on"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    base_name = spec.get("name") or based_on
    spec["code"], spec["name"] = code, name[:100]
    config_save(data=spec, actor=actor, note=_("new channel, started from %(from)s") % {"from": base_name})
    secret = new_secret() if spec.get("format") == "json" else ""
    channel = channel_save(code=code, name=name, actor=actor, secret=secret or None,
                           window_seconds=window_seconds, is_active=True)
    return channel, secret


@transaction.atomic
def channel_secret_rotate(*, code: str, actor: Actor) -> str:
    """A new webhook secret for the channel, returned once; the old one stops working now (a
    channel known only by its mapping gets its channel row here)."""
    _require(actor)
    if not re.match(CODE_RE, code or "") or (not Channel.objects.filter(code=code).exists()
                                              and current_config("mapping", code) is None):
        raise NotFound("unknown_channel", _("Unknown channel '%(code)s'.") % {"code": code})
    secret = new_secret()
    mapping = None if Channel.objects.filter(code=code).exists() else current_config("mapping", code)
    channel_save(code=code, actor=actor, secret=secret, name=mapping.name if mapping else None)
    return secret


# --------------------------------------------------------------------------- aliases


@transaction.atomic
def customer_aliases_set(*, customer: str, aliases: list[dict], actor: Actor) -> list[Alias]:
    """The names channels use for ``customer`` (a WeChat openid, a marketplace member or
    company name), as a whole list: ``[{"value": …, "channel": ""|code}, …]``. Aliases not in
    the list are removed; an alias another customer holds is refused naming it."""
    _require(actor)
    cust = Customer.objects.filter(code=customer).first()
    if cust is None:
        raise NotFound("unknown_customer", _("Unknown customer '%(code)s'.") % {"code": customer})
    problems: list[Problem] = []
    wanted: dict[tuple[str, str], int] = {}
    for i, row in enumerate(aliases):
        value = str(row.get("value") or "").strip()
        channel = str(row.get("channel") or "").strip()
        if not value:
            continue
        if len(value) > 200 or (fault := text_fault(value)):
            problems.append(Problem("invalid", _("At most 200 characters on one line.") if len(value) > 200
                                    else fault, field=f"aliases[{i}].value"))
            continue
        if channel and (not re.match(CODE_RE, channel) or (
                not Channel.objects.filter(code=channel).exists() and current_config("mapping", channel) is None)):
            problems.append(Problem("unknown_channel", _("Unknown channel '%(code)s'.") % {"code": channel},
                                    field=f"aliases[{i}].channel"))
            continue
        other = (Alias.objects.filter(kind=Alias.Kind.CUSTOMER, channel=channel, value=value)
                 .exclude(code=cust.code).values_list("code", flat=True).first())
        if other:
            problems.append(Problem("taken", _("'%(value)s' already means customer %(code)s.")
                                    % {"value": value, "code": other}, field=f"aliases[{i}].value"))
            continue
        wanted[(channel, value)] = i
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    held = {(a.channel, a.value): a for a in Alias.objects.filter(kind=Alias.Kind.CUSTOMER, code=cust.code)}
    for key, alias in held.items():
        if key not in wanted:
            append_event(subject_type="intake_alias", subject_id=alias.pk, action=events.ALIAS_REMOVED,
                         actor=actor, data={"kind": "customer", "channel": alias.channel, "value": alias.value,
                                            "code": cust.code})
            alias.delete()
    out = []
    for channel, value in sorted(wanted, key=wanted.get):
        alias = held.get((channel, value))
        if alias is None:
            alias = Alias.objects.create(kind=Alias.Kind.CUSTOMER, channel=channel, value=value, code=cust.code)
            append_event(subject_type="intake_alias", subject_id=alias.pk, action=events.ALIAS_SET, actor=actor,
                         data={"kind": "customer", "channel": channel, "value": value, "code": cust.code})
        out.append(alias)
    return out


def customer_aliases(customer: str) -> list[Alias]:
    return list(Alias.objects.filter(kind=Alias.Kind.CUSTOMER, code=customer).order_by("channel", "value"))

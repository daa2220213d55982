"""Intake configuration: versioned mappings, tag rules and triage rules; channels, aliases
and customer profiles."""

from __future__ import annotations

import functools
import json
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer, Product
from orderhub.core import clock, crypto
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.audited import audit_save
from orderhub.core.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.text import unstorable

from .. import events
from ..models import Alias, Channel, ConfigVersion, CustomerProfile
from ..spec import CODE_RE, COMPILERS

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates_yaml"
CONFIG_PERM = "intake.change_configversion"


def _json_number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _require(actor: Actor, perm: str, message: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDenied("permission_denied", message)


@transaction.atomic
def config_save(*, data: dict[str, Any], actor: Actor, note: str = "") -> ConfigVersion:
    """Validate ``data`` (its ``kind`` says what it is) and store it as the next version of
    its code; refused with the fault named when invalid. Saving the same content again
    returns the current version."""
    _require(actor, CONFIG_PERM, _("You may not change intake configuration."))
    if not isinstance(data, dict):
        raise ValidationFailed("invalid_definition", _("A configuration must be a mapping."))
    kind = data.get("kind")
    if kind not in COMPILERS:
        raise ValidationFailed("invalid_definition",
                               _("Unknown kind '%(kind)s': one of mapping, tags, triage.") % {"kind": kind},
                               problems=[Problem("invalid_definition", _("Unknown kind."), field="kind")])
    data = json.loads(json.dumps(data, default=_json_number, ensure_ascii=False))
    COMPILERS[kind](data)
    code = data["code"]
    previous = (ConfigVersion.objects.select_for_update().filter(kind=kind, code=code)
                .order_by("-version").first())
    if previous is not None and previous.spec == data and previous.is_current:
        return previous
    ConfigVersion.objects.filter(kind=kind, code=code, is_current=True).update(is_current=False)
    version = ConfigVersion.objects.create(
        kind=kind, code=code, version=(previous.version + 1) if previous else 1,
        name=data.get("name", code)[:100], spec=data, is_current=True, created_at=clock.now(),
        created_by=actor.label[:150], note=note[:300])
    events.config_saved(version=version, previous=previous.version if previous else None, actor=actor,
                        note=note)
    if kind in ("tags", "triage"):   # this process's orders use it at once (and after the commit)
        forget_current_rules()
        transaction.on_commit(forget_current_rules)
    return version


def template_files() -> list[Path]:
    return sorted(TEMPLATE_DIR.glob("*.yaml"))


def config_install_templates(*, actor: Actor) -> list[ConfigVersion]:
    """Seed (or update) the shipped YAML templates: channel mappings, tag and triage rules."""
    out = []
    for path in template_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.append(config_save(data=data, actor=actor, note=_("shipped template %(file)s") % {"file": data.get("name") or path.name}))
        if data.get("kind") == "mapping" and not Channel.objects.filter(code=data["code"]).exists():
            Channel.objects.create(code=data["code"], name=data.get("name", data["code"])[:100])
    return out


def config_install_missing(*, actor: Actor) -> list[ConfigVersion]:
    """Install each shipped template that has no version yet (``orderhub migrate`` and the demo
    run it): a fresh install has its channel mappings, tag, triage and e-mail rules at once,
    and what an administrator changed since is never overwritten (``install-templates``
    updates on purpose)."""
    out = []
    have = set(ConfigVersion.objects.values_list("kind", "code").distinct())
    for path in template_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if (data.get("kind"), data.get("code")) in have:
            continue
        out.append(config_save(data=data, actor=actor, note=_("shipped template %(file)s") % {"file": data.get("name") or path.name}))
        if data.get("kind") == "mapping" and not Channel.objects.filter(code=data["code"]).exists():
            Channel.objects.create(code=data["code"], name=data.get("name", data["code"])[:100])
    return out


# the current tag and triage versions' ids, read at most once per ORDERHUB_RULES_RELOAD_SECONDS
# per process (as the rules engine reads its stamp): every order entered by the form or the API
# asked for them, a query per order
_current: dict[str, Any] = {"found": None, "checked": 0.0}


def forget_current_rules() -> None:
    """Read the current tag and triage versions anew at the next order (a version saved here;
    other processes see it within the reload interval)."""
    _current.update(found=None, checked=0.0)


def current_rule_ids() -> dict[str, int]:
    """{"tags": id, "triage": id} of the current default tag and triage versions (one query
    for both, when due)."""
    now = time.monotonic()
    found = _current["found"]
    if found is None or now - _current["checked"] >= float(getattr(settings, "ORDERHUB_RULES_RELOAD_SECONDS", 2.0)):
        found = dict(ConfigVersion.objects.filter(kind__in=("tags", "triage"), code="default", is_current=True)
                     .values_list("kind", "pk"))
        _current.update(found=found, checked=now)
    return found


def current_config(kind: str, code: str) -> ConfigVersion | None:
    if unstorable(code):  # a channel name from a request: no such configuration (and no query)
        return None
    return ConfigVersion.objects.filter(kind=kind, code=code, is_current=True).defer("spec").first()


@functools.lru_cache(maxsize=256)
def _compiled_by_id(pk: int):
    row = ConfigVersion.objects.values_list("kind", "spec").get(pk=pk)
    return COMPILERS[row[0]](row[1])


def compiled_config(version: ConfigVersion | int):
    """Versions never change once saved, so their compiled form is cached for the process."""
    return _compiled_by_id(version if isinstance(version, int) else version.pk)


@transaction.atomic
def channel_save(*, code: str, actor: Actor, name: str | None = None, secret: str | None = None,
                 window_seconds: int | None = None, is_active: bool | None = None) -> Channel:
    _require(actor, CONFIG_PERM, _("You may not change intake configuration."))
    if not re.match(CODE_RE, code):
        raise ValidationFailed("invalid", _("A channel code is 1–32 lower-case letters, digits, '_', '.' or '-'."),
                               problems=[Problem("invalid", _("Bad channel code."), field="code")])
    ch, created = Channel.objects.get_or_create(code=code, defaults={"name": name or code})
    before = {"name": ch.name, "window_seconds": ch.window_seconds, "is_active": ch.is_active,
              "has_secret": bool(ch.secret)}
    if name is not None:
        ch.name = name[:100]
    if secret is not None:   # stored encrypted (core.crypto), never shown again
        if len(secret) > 200:
            raise ValidationFailed("invalid", _("The webhook secret is at most 200 characters."),
                                   problems=[Problem("too_long", _("At most 200 characters."), field="secret")])
        ch.secret = crypto.encrypt(secret)
    if window_seconds is not None:
        if not 1 <= window_seconds <= 86400:
            raise ValidationFailed("invalid", _("The replay window is 1 to 86400 seconds."),
                                   problems=[Problem("out_of_range", _("1 to 86400."), field="window_seconds")])
        ch.window_seconds = window_seconds
    if is_active is not None:
        ch.is_active = is_active
    ch.save()
    forget_channels()  # this process sees the change at once, others within 2 s
    after = {"name": ch.name, "window_seconds": ch.window_seconds, "is_active": ch.is_active,
             "has_secret": bool(ch.secret)}
    audit_save(subject_type="intake_channel", subject_id=ch.pk, action=events.CHANNEL_SAVED, actor=actor,
               before=None if created else before, after=after, created=created,
               data={"code": code, "secret_changed": secret is not None})
    return ch


@transaction.atomic
def alias_set(*, kind: str, value: str, code: str, actor: Actor, channel: str = "") -> Alias:
    """``value`` (as a channel writes it) means our customer code / SKU ``code``."""
    _require(actor, CONFIG_PERM, _("You may not change intake configuration."))
    if kind == "customer":
        exists = Customer.objects.filter(code=code).exists()
    elif kind == "product":
        exists = Product.objects.filter(sku=code).exists()
    else:
        raise ValidationFailed("invalid", _("An alias is for a customer or a product."),
                               problems=[Problem("invalid_choice", _("customer or product"), field="kind")])
    if not exists:
        raise ValidationFailed("invalid", _("'%(code)s' does not exist.") % {"code": code},
                               problems=[Problem("not_found", _("'%(code)s' does not exist.") % {"code": code},
                                                 field="code")])
    value = value.strip()
    if not value:
        raise ValidationFailed("invalid", _("The alias is empty."),
                               problems=[Problem("required", _("The alias is empty."), field="value")])
    alias, _created = Alias.objects.update_or_create(kind=kind, channel=channel, value=value,
                                                     defaults={"code": code})
    append_event(subject_type="intake_alias", subject_id=alias.pk, action=events.ALIAS_SET, actor=actor,
                 data={"kind": kind, "channel": channel, "value": value, "code": code})
    return alias


PROFILE_FIELDS = ("lead_days", "workflow", "urgency", "default_qty")


@transaction.atomic
def profile_set(*, customer: str, actor: Actor, **fields) -> CustomerProfile:
    """Set what intake fills in for ``customer`` (lead days, workflow, urgency, usual
    quantities per SKU)."""
    _require(actor, CONFIG_PERM, _("You may not change intake configuration."))
    cust = Customer.objects.filter(code=customer).first()
    if cust is None:
        raise NotFound("unknown_customer", _("Unknown customer '%(code)s'.") % {"code": customer})
    unknown = [k for k in fields if k not in PROFILE_FIELDS]
    if unknown:
        raise ValidationFailed("invalid", _("Unknown field '%(field)s'.") % {"field": unknown[0]},
                               problems=[Problem("unknown_field", _("Unknown field."), field=unknown[0])])
    if fields.get("urgency") not in (None, "", "red", "yellow", "green"):
        raise ValidationFailed("invalid", _("Urgency must be red, yellow or green."),
                               problems=[Problem("invalid_choice", _("Urgency must be red, yellow or green."),
                                                 field="urgency")])
    profile, _created = CustomerProfile.objects.get_or_create(customer=cust)
    for key, value in fields.items():
        if value is None and key in ("workflow", "urgency"):
            value = ""
        elif value is None and key == "default_qty":
            value = {}
        setattr(profile, key, value)
    profile.save()
    append_event(subject_type="intake_profile", subject_id=profile.pk, action=events.PROFILE_SET,
                 actor=actor, data={"customer": customer, **{k: v for k, v in fields.items()}})
    return profile


# The channels webhooks reach, cached per process (``webhook.webhook_receive``).
_CHANNEL_TTL = 2.0  # seconds a process keeps a channel's secret and window (saves a query per request)
_channels: dict[str, tuple[float, Channel | None]] = {}


def webhook_channel(code: str) -> Channel | None:
    """The active channel ``code`` that takes webhooks (has a secret), cached a few seconds."""
    if not re.match(CODE_RE, code or ""):
        return None  # no channel has such a code (and a NUL or 5,000 characters never reach a query)
    now = time.monotonic()
    hit = _channels.get(code)
    if hit is not None and now - hit[0] < _CHANNEL_TTL:
        return hit[1]
    ch = Channel.objects.filter(code=code, is_active=True).exclude(secret="").first()
    if len(_channels) > 1000:
        _channels.clear()
    _channels[code] = (now, ch)
    return ch


def forget_channels() -> None:
    """Drop the cached channels (after a save in this process)."""
    _channels.clear()

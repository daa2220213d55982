"""Secrets at rest: the one place that encrypts and decrypts what must not be stored in clear
(intake channel secrets, the secret settings of notification endpoints).

A stored value reads ``enc1:<key id>:<Fernet token>``. Fernet (``cryptography``: AES-128-CBC +
HMAC-SHA256, authenticated) is keyed by HKDF-SHA256 of ``settings.ORDERHUB_ENCRYPTION_KEY`` (any
high-entropy text; made once under ``DATA_DIR/keys`` outside production, from the environment in
production: ``orderhub.core.keys``). The key id (8 hex digits of a hash of the key, never the key)
names the key a value was written with, so keys can be rotated: put the old key in
``ORDERHUB_ENCRYPTION_KEYS_RETIRED`` (comma-separated), set the new one, run
``orderhub manage rotate_secrets``; values written with a retired key still decrypt meanwhile.

A value that cannot be decrypted (its key is not configured, or it was damaged) raises
:class:`SecretUnreadable` with a message naming the key id: never a silent empty secret.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext as _

from .errors import DomainError

PREFIX = "enc1:"
_INFO = b"orderhub secrets at rest v1"

# every column that holds values made by encrypt(), as (app label, model, field): what
# ``orderhub manage rotate_secrets`` re-encrypts under the current key
ENCRYPTED_FIELDS = (("intake", "Channel", "secret"), ("notify", "Endpoint", "secrets"))


class SecretUnreadable(DomainError):
    """A stored secret cannot be decrypted with the configured keys (503: a server fault)."""

    status = 503


def key_id(key: str) -> str:
    """A short public name of ``key`` (8 hex digits of SHA-256 over a fixed prefix and the key)."""
    return hashlib.sha256(b"orderhub-key-id:" + key.encode()).hexdigest()[:8]


def _fernet(key: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


@functools.lru_cache(maxsize=8)
def _keyring(current: str, retired: tuple[str, ...]) -> tuple[str, dict[str, Fernet]]:
    if not current:
        raise SecretUnreadable("no_encryption_key", _(
            "ORDERHUB_ENCRYPTION_KEY is not set: stored secrets can be neither written nor read."))
    ring = {key_id(k): _fernet(k) for k in retired if k}
    ring[key_id(current)] = _fernet(current)
    return key_id(current), ring


def _configured() -> tuple[str, dict[str, Fernet]]:
    current = (getattr(settings, "ORDERHUB_ENCRYPTION_KEY", "") or "").strip()
    retired = getattr(settings, "ORDERHUB_ENCRYPTION_KEYS_RETIRED", ()) or ()
    if isinstance(retired, str):
        retired = retired.split(",")
    return _keyring(current, tuple(k.strip() for k in retired if k.strip()))


def is_encrypted(value: str | None) -> bool:
    return bool(value) and value is not None and value.startswith(PREFIX)


def encrypt(plain: str) -> str:
    """``plain`` encrypted with the current key; ``""`` stays ``""`` (no secret set)."""
    if not plain:
        return ""
    kid, ring = _configured()
    return f"{PREFIX}{kid}:{ring[kid].encrypt(plain.encode()).decode()}"


def decrypt(stored: str) -> str:
    """The plain text of a value made by :func:`encrypt`; ``""`` stays ``""``."""
    if not stored:
        return ""
    if not is_encrypted(stored):
        raise SecretUnreadable("secret_not_encrypted", _(
            "A stored secret is not encrypted (expected the enc1: format); save it again."))
    kid, _sep, token = stored[len(PREFIX):].partition(":")
    _current, ring = _configured()
    f = ring.get(kid)
    if f is None:
        raise SecretUnreadable("secret_key_unknown", _(
            "A stored secret was encrypted with key %(kid)s, which is not configured "
            "(ORDERHUB_ENCRYPTION_KEY, ORDERHUB_ENCRYPTION_KEYS_RETIRED).") % {"kid": kid})
    try:
        return f.decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("secret_damaged", _(
            "A stored secret (key %(kid)s) does not decrypt: it was damaged or altered.")
            % {"kid": kid}) from None


def needs_rotation(stored: str) -> bool:
    """True if ``stored`` is encrypted with a key other than the current one."""
    if not is_encrypted(stored):
        return bool(stored)
    kid = stored[len(PREFIX):].partition(":")[0]
    return kid != _configured()[0]


def reencrypt(stored: str) -> str:
    """``stored`` under the current key (plain legacy values are encrypted)."""
    if not stored:
        return ""
    return encrypt(decrypt(stored) if is_encrypted(stored) else stored)


def rotate_all() -> dict[str, int]:
    """Re-encrypt every stored secret not under the current key (each column in its own
    transaction, rows locked); returns how many per column. A value no configured key decrypts
    stops the rotation with SecretUnreadable (nothing of that column is changed)."""
    from django.apps import apps
    from django.db import transaction

    done: dict[str, int] = {}
    for app_label, model_name, field in ENCRYPTED_FIELDS:
        model = apps.get_model(app_label, model_name)
        n = 0
        with transaction.atomic():
            for pk, value in (model.objects.select_for_update().exclude(**{field: ""})
                              .values_list("pk", field).order_by("pk")):
                if needs_rotation(value):
                    model.objects.filter(pk=pk).update(**{field: reencrypt(value)})
                    n += 1
        done[f"{app_label}.{model_name}.{field}"] = n
    return done

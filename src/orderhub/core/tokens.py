"""Bearer tokens for systems: created once, shown once, stored as SHA-256 (looked up, with the
actor a request acts as, by ``core.store.token_actor``)."""

import hashlib
import secrets

from django.contrib.auth.models import User

from .models import ApiToken

TOKEN_PREFIX = "oh_"


def token_digest(raw: str) -> str:
    """What a token is stored as (and looked up by)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name, user=user, prefix=raw[:10], key_hash=token_digest(raw))
    return token, raw

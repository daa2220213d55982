"""An intake channel's webhook secret is encrypted in its row, still checks signatures, and a
wrong encryption key is a clear 503, never a silent empty secret (which would let anyone sign)."""

import importlib
import time

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test import Client

from orderhub.core import crypto, signing
from orderhub.intake import services
from orderhub.intake.models import Channel, InboundMessage
from orderhub.intake.services.webhook import forget_channels
from orderhub.orders.models import Order

from .conftest import sample

pytestmark = pytest.mark.django_db
SECRET = "wx-shared-secret-5d1e"


def _raw_secret(code: str) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM intake_channel WHERE code = %s", [code])
        return cur.fetchone()[0]


def _post(body: bytes, secret: str):
    ts = str(int(time.time()))
    return Client().post("/api/intake/miniprogram", data=body, content_type="application/json",
                         headers={"X-OrderHub-Timestamp": ts, "X-OrderHub-Signature": signing.sign(secret, ts, body)})


def test_the_row_holds_no_plaintext_and_signatures_still_verify(master, intake_actor):
    services.channel_save(code="miniprogram", secret=SECRET, window_seconds=300, actor=intake_actor)
    raw = _raw_secret("miniprogram")
    assert SECRET not in raw and raw.startswith("enc1:")
    assert Channel.objects.get(code="miniprogram").webhook_secret() == SECRET
    assert _post(sample("miniprogram", "01-paid.json"), "guess").status_code == 401
    resp = _post(sample("miniprogram", "01-paid.json"), SECRET)
    assert resp.status_code == 202, resp.content
    assert Order.objects.filter(channel="miniprogram").count() == 1


def test_a_wrong_key_is_a_503_naming_the_key(master, intake_actor, settings):
    services.channel_save(code="miniprogram", secret=SECRET, window_seconds=300, actor=intake_actor)
    old = crypto.key_id(settings.ORDERHUB_ENCRYPTION_KEY)
    settings.ORDERHUB_ENCRYPTION_KEY = "a-different-key-0123456789abcdefghij"
    forget_channels()          # this process's 2-s cache of the channel
    resp = _post(sample("miniprogram", "01-paid.json"), SECRET)
    assert resp.status_code == 503
    assert resp.json()["code"] == "secret_key_unknown" and old in resp.json()["message"]
    assert not Order.objects.exists()
    # an empty signature secret cannot pass either
    assert _post(sample("miniprogram", "01-paid.json"), "").status_code == 503


def test_the_migration_encrypts_secrets_stored_in_clear(master):
    migration = importlib.import_module("orderhub.intake.migrations.0006_secrets_at_rest")
    Channel.objects.create(code="legacy", name="旧渠道", secret="legacy-plain-secret")
    migration.encrypt_secrets(django_apps, None)
    assert "legacy-plain-secret" not in _raw_secret("legacy")
    assert Channel.objects.get(code="legacy").webhook_secret() == "legacy-plain-secret"
    migration.encrypt_secrets(django_apps, None)          # run twice: unchanged
    assert Channel.objects.get(code="legacy").webhook_secret() == "legacy-plain-secret"
    assert InboundMessage.objects.count() == 0

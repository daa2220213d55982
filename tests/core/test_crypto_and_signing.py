"""core.crypto (secrets at rest: Fernet under a key from the environment, key ids, retired keys,
a clear error for a wrong key) and core.signing (the one webhook signature helper)."""

import hashlib
import hmac

import pytest

from orderhub.core import crypto, signing
from orderhub.core.crypto import SecretUnreadable

KEY_A = "key-A-0123456789abcdefghijklmnopqrstuvwxyz"
KEY_B = "key-B-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def key_a(settings):
    settings.ORDERHUB_ENCRYPTION_KEY = KEY_A
    settings.ORDERHUB_ENCRYPTION_KEYS_RETIRED = []
    return settings


@pytest.mark.smoke
def test_round_trip_names_the_key_and_hides_the_text(key_a):
    token = crypto.encrypt("SEC-秘密-42")
    assert token.startswith(f"enc1:{crypto.key_id(KEY_A)}:")
    assert "SEC" not in token and KEY_A not in token
    assert crypto.decrypt(token) == "SEC-秘密-42"
    assert crypto.encrypt("SEC-秘密-42") != token          # a fresh IV each time
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""
    assert crypto.key_id(KEY_A) != crypto.key_id(KEY_B) and len(crypto.key_id(KEY_A)) == 8


@pytest.mark.smoke
def test_a_wrong_key_is_a_clear_error_never_an_empty_secret(key_a, settings):
    token = crypto.encrypt("SEC-1")
    settings.ORDERHUB_ENCRYPTION_KEY = KEY_B
    with pytest.raises(SecretUnreadable) as e:
        crypto.decrypt(token)
    assert e.value.code == "secret_key_unknown" and e.value.status == 503
    assert crypto.key_id(KEY_A) in e.value.message            # names the key it needs
    # rotation: the old key retired, values still decrypt and are re-encrypted under the new one
    settings.ORDERHUB_ENCRYPTION_KEYS_RETIRED = [KEY_A]
    assert crypto.decrypt(token) == "SEC-1" and crypto.needs_rotation(token)
    rotated = crypto.reencrypt(token)
    assert rotated.startswith(f"enc1:{crypto.key_id(KEY_B)}:") and not crypto.needs_rotation(rotated)
    settings.ORDERHUB_ENCRYPTION_KEYS_RETIRED = []
    assert crypto.decrypt(rotated) == "SEC-1"


def test_damaged_plain_and_keyless_values_are_refused(key_a, settings):
    token = crypto.encrypt("SEC-1")
    head, _sep, body = token.rpartition(":")
    damaged = f"{head}:{body[:20]}{'A' if body[20] != 'A' else 'B'}{body[21:]}"
    with pytest.raises(SecretUnreadable) as e:
        crypto.decrypt(damaged)
    assert e.value.code == "secret_damaged"
    with pytest.raises(SecretUnreadable) as e:
        crypto.decrypt("a plain secret")
    assert e.value.code == "secret_not_encrypted"
    settings.ORDERHUB_ENCRYPTION_KEY = ""
    with pytest.raises(SecretUnreadable) as e:
        crypto.encrypt("x")
    assert e.value.code == "no_encryption_key"


@pytest.mark.smoke
def test_one_signature_helper_for_both_directions():
    from orderhub.intake.services import webhook_signature
    from orderhub.notify import channels

    body, ts = '{"单号": 1}'.encode(), "1764600000"
    expected = "sha256=" + hmac.new(b"s3cret", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert signing.sign("s3cret", ts, body) == expected
    assert webhook_signature is signing.sign                 # intake checks with the same helper
    assert not hasattr(channels, "webhook_signature")       # the outbound copy is gone
    assert signing.verify("s3cret", ts, body, expected)
    assert signing.verify("s3cret", int(ts), body, f"  {expected} ")
    assert not signing.verify("s3cret", ts, body + b" ", expected)
    assert not signing.verify("other", ts, body, expected)
    assert not signing.verify("", ts, body, expected) and not signing.verify("s3cret", ts, body, "")


@pytest.mark.django_db
def test_rotate_secrets_moves_every_stored_secret_to_the_new_key(key_a, settings):
    from django.core.management import call_command

    from orderhub.core.actors import Actor
    from orderhub.core.models import AuditEvent
    from orderhub.intake.models import Channel
    from orderhub.intake.services import channel_save
    from orderhub.notify.models import Endpoint
    from orderhub.notify.services import endpoint_save

    system = Actor.system("test")
    channel_save(code="shop", secret="CH-SECRET", actor=system)
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=system,
                  config={"url": "https://93.184.216.34/h", "secret": "EP-SECRET"})
    settings.ORDERHUB_ENCRYPTION_KEY = KEY_B
    settings.ORDERHUB_ENCRYPTION_KEYS_RETIRED = [KEY_A]
    call_command("rotate_secrets", stdout=__import__("io").StringIO())
    settings.ORDERHUB_ENCRYPTION_KEYS_RETIRED = []          # the old key can go now
    ch, ep = Channel.objects.get(code="shop"), Endpoint.objects.get(code="erp")
    assert ch.secret.startswith(f"enc1:{crypto.key_id(KEY_B)}:") and ch.webhook_secret() == "CH-SECRET"
    assert ep.secrets.startswith(f"enc1:{crypto.key_id(KEY_B)}:") and ep.full_config()["secret"] == "EP-SECRET"
    ev = AuditEvent.objects.get(action="crypto.secrets_rotated")
    assert ev.data["rotated"] == {"intake.Channel.secret": 1, "notify.Endpoint.secrets": 1}
    assert ev.data["key_id"] == crypto.key_id(KEY_B) and KEY_B not in str(ev.data)

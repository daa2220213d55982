"""The demo's intake: the shipped mappings, the Douyin channel's retail account, and the
mini-program channel taking signed webhooks with a secret the demo prints at start (with a
command that sends a sample order)."""

from __future__ import annotations

from orderhub.catalog.models import Customer
from orderhub.catalog.services import customer_save
from orderhub.core.actors import Actor
from orderhub.intake.models import Channel
from orderhub.intake.services.channels import channel_secret_rotate
from orderhub.intake.services.config import config_install_missing

DEMO_CHANNEL = "miniprogram"
RETAIL_ACCOUNT = "DY-RETAIL"


def demo_intake_setup() -> dict[str, str]:
    """Install missing shipped templates and give the demo's webhook channel a secret (kept
    across restarts). Returns the channel and its secret in clear, for the start-up banner."""
    actor = Actor.system("demo-loader")
    config_install_missing(actor=actor)
    if not Customer.objects.filter(code=RETAIL_ACCOUNT).exists():  # the Douyin mapping's default customer
        customer_save(code=RETAIL_ACCOUNT, data={"name": "抖音零售客户", "tier": Customer.Tier.C}, actor=actor)
    channel = Channel.objects.filter(code=DEMO_CHANNEL).first()
    secret = channel.webhook_secret() if channel and channel.secret else ""
    if not secret:
        secret = channel_secret_rotate(code=DEMO_CHANNEL, actor=actor)
    return {"channel": DEMO_CHANNEL, "secret": secret}


def print_intake(info: dict[str, str], host: str, port: int) -> None:
    channel, secret = info["channel"], info["secret"]
    print(f"Webhook channel {channel} (微信小程序订单): POST http://{host}:{port}/api/intake/{channel}")
    print(f"  secret: {secret}")
    print("  sign: X-OrderHub-Timestamp = Unix seconds, X-OrderHub-Signature = sha256=HMAC-SHA256(secret, "
          "\"<timestamp>.<body>\") in hex")
    print("  send a sample:  BODY=../shared/samples/channels/miniprogram/01-paid.json; TS=$(date +%s); "
          "SIG=$(printf '%s.' \"$TS\" | cat - \"$BODY\" | openssl dgst -sha256 -hmac "
          f"'{secret}' | sed 's/^.* //'); curl -s -X POST http://{host}:{port}/api/intake/{channel} "
          "-H 'Content-Type: application/json' -H \"X-OrderHub-Timestamp: $TS\" "
          "-H \"X-OrderHub-Signature: sha256=$SIG\" --data-binary @\"$BODY\"")
    print("  master data of the samples: orderhub intake load-master ../shared/samples/master")
    print()

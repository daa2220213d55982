"""Notification hub: channel endpoints, message templates, the outbox, delivery attempts,
contact profiles and first-touch latency."""

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orderhub.core import crypto

from .secretconfig import merge


class DeliveryChannel(models.TextChoices):
    """How a message reaches people (stored by code). Not intake's ``Channel``: where orders come in."""

    INAPP = "inapp", _("in-app inbox")
    EMAIL = "email", _("e-mail")
    SMS = "sms", _("SMS")
    DINGTALK = "dingtalk", _("DingTalk robot")
    WECOM = "wecom", _("WeCom robot")
    WEBHOOK = "webhook", _("webhook")


# Channels that reach one person (an address per user); the others post to an endpoint
# (a group robot or another system) once per message.
PERSONAL_CHANNELS = frozenset({DeliveryChannel.INAPP, DeliveryChannel.EMAIL, DeliveryChannel.SMS})
GROUP_CHAT_CHANNELS = frozenset({DeliveryChannel.DINGTALK, DeliveryChannel.WECOM})   # robots posting to people
ENDPOINT_CHANNELS = GROUP_CHAT_CHANNELS | {DeliveryChannel.WEBHOOK}


class Severity(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    RED = "red", _("red (ignores quiet hours)")


class Endpoint(models.Model):
    """A configured channel endpoint (an SMTP server, a robot, an SMS provider, a webhook).

    ``config`` holds the channel's settings that may be shown (see ``notify.channels`` for each
    kind's keys); the secret ones (``notify.secretconfig``: robot URLs with their tokens, signing
    secrets, passwords, credential headers) are kept encrypted in ``secrets``
    (``core.crypto``) and never shown again. Both are written by ``services.endpoint_save``,
    which validates the whole configuration with messages naming the faulty key."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("channel"), max_length=16, choices=DeliveryChannel.choices)
    is_active = models.BooleanField(_("active"), default=True)
    # group channels: the roles this group serves (empty: none by default, only by code)
    roles = models.JSONField(_("roles"), default=list, blank=True)
    config = models.JSONField(_("settings"), default=dict, blank=True)
    # core.crypto.encrypt of the JSON of the secret settings ("" when there are none)
    secrets = models.TextField(_("secret settings (encrypted)"), blank=True, default="")
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    timeout_seconds = models.FloatField(_("timeout (s)"), default=5.0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("channel endpoint")
        verbose_name_plural = _("channel endpoints")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.code

    def secret_config(self) -> dict[str, Any]:
        """The secret settings in clear (raises core.crypto.SecretUnreadable with a wrong key)."""
        return json.loads(crypto.decrypt(self.secrets)) if self.secrets else {}

    def full_config(self) -> dict[str, Any]:
        """Every setting, the secret ones decrypted: what the senders use (kept on the
        instance, which lives in a short per-process cache)."""

        cached = getattr(self, "_full_config", None)
        if cached is None or cached[0] != (self.secrets, id(self.config)):
            cached = ((self.secrets, id(self.config)), merge(self.config, self.secret_config()))
            self._full_config = cached
        return cached[1]


class NotifySettings(models.Model):
    """The notification settings of the installation: one row (pk 1), written by
    ``policy.delivery_settings_save`` (audited)."""

    # endpoint URLs and SMTP hosts on loopback, private, link-local … addresses (netguard)
    allow_private_targets = models.BooleanField(_("allow private network targets"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.CharField(_("by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return "notify settings"


class JobRun(models.Model):
    """When each periodic job last ran, whoever ran it (the embedded runner or a Celery worker):
    the runner heartbeat of /healthz and the job lag of /metrics (``notify.heartbeat``)."""

    name = models.CharField(_("job"), max_length=100, primary_key=True)
    last_started_at = models.DateTimeField(_("last started at"))
    last_finished_at = models.DateTimeField(_("last finished at"))
    last_ok = models.BooleanField(_("last run succeeded"), default=True)
    last_seconds = models.FloatField(_("last run took (s)"), default=0.0)
    worker = models.CharField(_("worker"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("periodic job run")
        verbose_name_plural = _("periodic job runs")

    def __str__(self) -> str:
        return self.name


class MessageTemplate(models.Model):
    """Subject and body for one event on one channel ('' = every channel without its own)."""

    event = models.CharField(_("event"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.CharField(_("by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["event", "channel"]
        constraints = [models.UniqueConstraint(fields=["event", "channel"], name="notify_template_unique")]

    def __str__(self) -> str:
        return f"{self.event}/{self.channel or '*'}"


# the namespace of Message.idempotency_key (uuid5; fixed forever: receivers store the keys)
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0c2f0e-7d7a-4a51-9c1e-0d5e8c6a4f21")


class Message(models.Model):
    """One outbox row: one message to one address on one channel."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (will retry)")
        DEAD = "dead", _("dead letter")

    event = models.CharField(_("event"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=DeliveryChannel.choices)
    # (no database constraint, like ``user``: endpoints come from a short per-process cache)
    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.SET_NULL,
                                 db_constraint=False, related_name="+", verbose_name=_("endpoint"))
    recipient = models.CharField(_("recipient"), max_length=100)   # e.g. role:planner, user:3
    # no database constraint: rows are written from a short cache of the users (services.people),
    # so a user deleted meanwhile leaves an unreachable row instead of failing the order change
    # user and order: no index of their own, notify_msg_inbox / notify_msg_order lead with them
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             db_constraint=False, related_name="notify_messages", verbose_name=_("user"),
                             db_index=False)
    address = models.CharField(_("address"), max_length=300, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True)
    payload = models.JSONField(_("payload"), default=dict)   # includes dedupe_key and context
    dedupe_key = models.CharField(_("deduplication key"), max_length=300, unique=True)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices,
                                default=Severity.INFO)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    last_error = models.TextField(_("last error"), blank=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="notify_messages", verbose_name=_("order"), db_index=False)
    created_at = models.DateTimeField(_("created at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)   # in-app only

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [
            # the deliverers' claim: due rows that are queued, failed or whose sending lease ran out
            models.Index(fields=["next_attempt_at"], name="notify_msg_due",
                         condition=Q(status__in=["queued", "sending", "failed"])),
            models.Index(fields=["order", "created_at"], name="notify_msg_order"),
            models.Index(fields=["user", "channel", "read_at"], name="notify_msg_inbox"),
            models.Index(fields=["status", "created_at"], name="notify_msg_status"),
        ]

    def __str__(self) -> str:
        return f"{self.event}→{self.channel}:{self.address or self.recipient}"

    @property
    def idempotency_key(self) -> str:
        """What receivers de-duplicate by (``Idempotency-Key``): a UUID derived from the row's id
        and dedupe key, so the same on every attempt, after a restart, and after a re-send."""
        return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{self.pk}|{self.dedupe_key}"))


class DeliveryAttempt(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    ok = models.BooleanField(_("delivered"))
    error = models.TextField(_("error"), blank=True)
    response = models.CharField(_("response"), max_length=500, blank=True)
    worker = models.CharField(_("worker"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["message", "number", "id"]

    def __str__(self) -> str:
        return f"{self.message_id}#{self.number}"


class ContactProfile(models.Model):
    """How to reach a user besides User.email; ``channels`` are the user's preferred personal
    channels (empty: the site default)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="contact_profile")
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    dingtalk_id = models.CharField(_("DingTalk user id"), max_length=64, blank=True)
    wecom_id = models.CharField(_("WeCom user id"), max_length=64, blank=True)
    channels = models.JSONField(_("preferred channels"), default=list, blank=True)
    # the user's own quiet hours for e-mail and SMS (red messages ignore them)
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact profile")
        verbose_name_plural = _("contact profiles")

    def __str__(self) -> str:
        return str(self.user_id)


class FirstTouch(models.Model):
    """Customer submission → first delivery to an owner of the order's first stage."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="first_touch")
    submitted_at = models.DateTimeField(_("submitted at"))
    touched_at = models.DateTimeField(_("first touch at"))
    message = models.ForeignKey(Message, null=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(_("channel"), max_length=16)
    wall_seconds = models.FloatField(_("latency (s)"))
    business_seconds = models.FloatField(_("latency in business time (s)"))

    class Meta:
        verbose_name = _("first touch")
        verbose_name_plural = _("first touches")
        indexes = [models.Index(fields=["touched_at"], name="notify_first_touch_at")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.wall_seconds:.3f}s"

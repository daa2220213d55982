"""The raw inbox, its configuration (versioned data) and what intake produces.

Raw first: an ``InboundMessage`` row holds the payload verbatim and is committed before
anything parses it; parsing only ever changes its status, error and links.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import Customer
from orderhub.core import crypto
from orderhub.orders.models import Order

# What was received, exactly: never changed once stored (PostgreSQL refuses it with a trigger,
# migration 0002; the model and its queryset refuse it on every backend).
RAW_FIELDS = ("channel", "kind", "payload", "content_type", "headers", "source", "filename", "size",
              "sha256", "received_at", "received_by", "parent")
RAW_COLUMNS = ("channel", "kind", "payload", "content_type", "headers", "source", "filename", "size",
               "sha256", "received_at", "received_by", "parent_id")


class RawImmutable(Exception):
    """An attempt to change or delete a stored payload."""


class InboundMessageQuerySet(models.QuerySet):
    def update(self, **kwargs):
        touched = sorted(set(kwargs) & set(RAW_FIELDS + RAW_COLUMNS))
        if touched:
            raise RawImmutable(gettext("A received payload cannot be changed (%(fields)s).")
                               % {"fields": ", ".join(touched)})
        return super().update(**kwargs)

    def delete(self):
        raise RawImmutable(gettext("A received payload cannot be deleted."))


class InboundMessage(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        PARSED = "parsed", _("parsed")
        NEEDS_REVIEW = "needs_review", _("needs review")
        FAILED = "failed", _("failed")
        DUPLICATE = "duplicate", _("duplicate")
        # no longer written: refused requests are logged as RefusedRequest rows without their
        # body; kept so messages stored that way before stay readable
        REJECTED = "rejected", _("rejected")

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", _("webhook")
        UPLOAD = "upload", _("file upload")
        EMAIL = "email", _("e-mail")
        ATTACHMENT = "attachment", _("e-mail attachment")
        QUICK = "quick", _("quick order")
        API = "api", _("API")

    channel = models.CharField(_("channel"), max_length=32)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.RECEIVED)
    payload = models.BinaryField(_("payload"))
    content_type = models.CharField(_("content type"), max_length=200, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    source = models.CharField(_("source address"), max_length=300, blank=True)
    filename = models.CharField(_("file name"), max_length=300, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    received_at = models.DateTimeField(_("received at"))
    received_by = models.CharField(_("received by"), max_length=150, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children", verbose_name=_("part of"))
    # the business key the payload carries (order id, Message-ID), once known
    external_ref = models.CharField(_("external reference"), max_length=200, blank=True)
    mapping = models.ForeignKey("ConfigVersion", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", verbose_name=_("mapping version used"))
    # the channel whose mapping reads it, when not its own (an e-mail attachment routed to 1688)
    route = models.CharField(_("read as channel"), max_length=32, blank=True)
    # a queued webhook: who may process it next (``process-pending`` claims rows by this)
    queued = models.BooleanField(_("queued"), default=False)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    report = models.JSONField(_("report"), default=dict, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    orders = models.ManyToManyField(Order, through="InboundOrder", related_name="inbound_messages")

    objects = InboundMessageQuerySet.as_manager()
    # the app's database role may UPDATE only the other columns, never DELETE (core.dbroles)
    immutable_columns = RAW_COLUMNS

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_status"),
            models.Index(fields=["channel", "received_at"], name="inbound_channel"),
            models.Index(fields=["channel", "external_ref"], name="inbound_ref"),
            models.Index(fields=["received_at", "id"], condition=Q(queued=True), name="inbound_queued"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} {self.status}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            fields = kwargs.get("update_fields")
            if fields is None or set(fields) & set(RAW_FIELDS + RAW_COLUMNS):
                raise RawImmutable(gettext("A received payload cannot be changed: save only its status "
                                           "fields (update_fields)."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RawImmutable(gettext("A received payload cannot be deleted."))

    @property
    def read_as(self) -> str:
        """The channel whose mapping reads this payload."""
        return self.route or self.channel


class RefusedRequest(models.Model):
    """A request refused at intake's door (signature missing or wrong, outside the replay
    window, unknown channel, wrong quick-order link). Its body is never kept: only its size,
    SHA-256 and first 1 KiB with control characters escaped. The table is bounded: the periodic
    job ``intake.prune_refused`` deletes rows older than ``ORDERHUB_REFUSED_KEEP_DAYS`` and
    beyond the newest ``ORDERHUB_REFUSED_MAX_ROWS``."""

    class Reason(models.TextChoices):
        SIGNATURE_MISSING = "signature_missing", _("signature missing")
        BAD_TIMESTAMP = "bad_timestamp", _("timestamp unreadable")
        OUTSIDE_WINDOW = "outside_window", _("outside the replay window")
        BAD_SIGNATURE = "bad_signature", _("signature does not match")
        UNKNOWN_CHANNEL = "unknown_channel", _("unknown channel")
        UNKNOWN_LINK = "unknown_link", _("wrong quick-order link")

    received_at = models.DateTimeField(_("received at"))
    kind = models.CharField(_("kind"), max_length=16, choices=InboundMessage.Kind.choices)
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    ip = models.CharField(_("client address"), max_length=64, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    content_type = models.CharField(_("content type"), max_length=200, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    head = models.TextField(_("first 1 KiB"), blank=True)

    class Meta:
        verbose_name = _("refused request")
        verbose_name_plural = _("refused requests")
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["received_at"], name="intake_refused_at")]

    def __str__(self) -> str:
        return f"refused {self.kind} {self.channel} {self.reason}"


class InboundOrder(models.Model):
    """An order a message produced or repeated, with what the order itself has no field for
    (paid at, the source total, the seller memo)."""

    # no index of its own: the unique (message, order) index starts with the message (a second
    # one would be written for every imported order and never read)
    message = models.ForeignKey(InboundMessage, on_delete=models.PROTECT, related_name="links", db_index=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    row = models.PositiveIntegerField(_("row"), null=True, blank=True)
    created = models.BooleanField(_("created"), default=True)
    meta = models.JSONField(_("source details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("message order")
        verbose_name_plural = _("message orders")
        constraints = [
            models.UniqueConstraint(fields=["message", "order"], name="inbound_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id}→{self.order_id}"


class ConfigVersion(models.Model):
    """One immutable version of an intake configuration: a channel mapping, the remark tag
    rules or the triage rules. Editing saves a new version; a message records the mapping
    version it was read with."""

    class Kind(models.TextChoices):
        MAPPING = "mapping", _("channel mapping")
        TAGS = "tags", _("remark tag rules")
        TRIAGE = "triage", _("triage rules")
        EMAIL = "email", _("e-mail attachment routes")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    code = models.CharField(_("code"), max_length=32)
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=100)
    spec = models.JSONField(_("definition"))
    is_current = models.BooleanField(_("current"), default=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.CharField(_("created by"), max_length=150)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("intake configuration")
        verbose_name_plural = _("intake configurations")
        ordering = ["kind", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "code", "version"], name="intake_config_version"),
            models.UniqueConstraint(fields=["kind", "code"], condition=Q(is_current=True),
                                    name="intake_config_one_current"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.code} v{self.version}"


class Channel(models.Model):
    """Where a channel's webhooks are checked: its shared secret and replay window."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    # the shared secret, encrypted at rest (core.crypto; "" when none): read it with webhook_secret()
    secret = models.TextField(_("webhook secret (encrypted)"), blank=True)
    window_seconds = models.PositiveIntegerField(_("replay window (s)"), default=300)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return self.code

    def webhook_secret(self) -> str:
        """The shared secret in clear (core.crypto.SecretUnreadable with a wrong key)."""
        return crypto.decrypt(self.secret)


class Alias(models.Model):
    """A name a channel uses for one of our customers or products (a Taobao member name,
    a 1688 company name, a marketplace item code)."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("customer")
        PRODUCT = "product", _("product")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=32, blank=True,
                               help_text=_("Empty: valid for every channel."))
    value = models.CharField(_("alias"), max_length=200)
    code = models.CharField(_("customer code or SKU"), max_length=64)

    class Meta:
        verbose_name = _("alias")
        verbose_name_plural = _("aliases")
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel", "value"], name="intake_alias_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.channel or '*'}:{self.value}→{self.code}"


class CustomerProfile(models.Model):
    """What intake fills in for a customer when a channel does not say it."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="intake_profile")
    lead_days = models.PositiveIntegerField(_("default lead time (working days)"), null=True, blank=True)
    workflow = models.CharField(_("workflow"), max_length=32, blank=True)
    urgency = models.CharField(_("default urgency"), max_length=8, blank=True)
    default_qty = models.JSONField(_("usual quantity per SKU"), default=dict, blank=True)
    quick_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    quick_token_prefix = models.CharField(max_length=12, blank=True)

    class Meta:
        verbose_name = _("intake profile")
        verbose_name_plural = _("intake profiles")

    def __str__(self) -> str:
        return f"profile {self.customer_id}"


class ImportJob(models.Model):
    """Progress of a file import, committed chunk by chunk so a page can poll it."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", _("all or nothing")
        ACCEPT_VALID = "accept_valid", _("accept valid rows")

    message = models.OneToOneField(InboundMessage, on_delete=models.PROTECT, related_name="job")
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.RUNNING)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    orders_created = models.PositiveIntegerField(_("orders created"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    rows_failed = models.PositiveIntegerField(_("rows refused"), default=0)
    started_at = models.DateTimeField(_("started at"))
    updated_at = models.DateTimeField(_("updated at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # a parallel import (``ImportChunk`` rows): how many worker processes, and what the chunks
    # are read with (mapping, tag and triage rule versions: the same for every worker and retry)
    workers = models.PositiveSmallIntegerField(_("worker processes"), default=1)
    plan = models.JSONField(_("chunk plan"), default=dict, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return f"import {self.message_id} {self.rows_done}/{self.rows_total}"


class ImportChunk(models.Model):
    """A range of a parallel import's records: claimed by one worker at a time
    (``SELECT … FOR UPDATE SKIP LOCKED``), imported, and marked done in one transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField(_("chunk"))
    first = models.PositiveIntegerField(_("first record"))
    count = models.PositiveIntegerField(_("records"))
    rows = models.PositiveIntegerField(_("rows"))
    # records repeating the key of an order first met in an earlier chunk (``after``): written
    # last, once those chunks' transactions have ended, so two workers never write one key at once
    repeats = models.JSONField(_("repeated keys (records)"), default=list, blank=True)
    after = models.JSONField(_("after chunks"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    orders_created = models.PositiveIntegerField(_("orders created"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    refused = models.PositiveIntegerField(_("rows refused"), default=0)
    review = models.PositiveIntegerField(_("rows to review"), default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    worker = models.CharField(_("worker"), max_length=100, blank=True)
    seconds = models.FloatField(_("seconds"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import chunk")
        verbose_name_plural = _("import chunks")
        constraints = [
            models.UniqueConstraint(fields=["job", "seq"], name="intake_chunk_seq"),
        ]

    def __str__(self) -> str:
        return f"import {self.job_id} chunk {self.seq} ({self.status})"


class Draft(models.Model):
    """An order read from a picture or PDF, with a confidence per field, for a person to
    confirm (or correct and confirm)."""

    class Status(models.TextChoices):
        OPEN = "open", _("awaiting confirmation")
        CONFIRMED = "confirmed", _("confirmed")
        DISCARDED = "discarded", _("discarded")

    message = models.ForeignKey(InboundMessage, on_delete=models.PROTECT, related_name="drafts")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    data = models.JSONField(_("order data"))
    confidence = models.JSONField(_("confidence per field"), default=dict)
    text = models.TextField(_("recognised text"), blank=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("draft order")
        verbose_name_plural = _("draft orders")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"draft {self.pk} ({self.status})"

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import MONEY, QTY, Customer, Product
from orderhub.workflow.models import WorkflowDefinition


class Urgency(models.TextChoices):
    RED = "red", _("red (urgent)")
    YELLOW = "yellow", _("yellow")
    GREEN = "green", _("green")


class Order(models.Model):
    # not columns: set on orders of lists and exports by ``boards.label_stages``
    stage_label: str
    stage_owner: str

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")

    number = models.CharField(_("order number"), max_length=32, unique=True)
    channel = models.CharField(_("channel"), max_length=32)
    external_ref = models.CharField(_("external reference"), max_length=128, null=True, blank=True)  # noqa: DJ001 (NULL = no key: many allowed)
    # no index of its own: order_customer_status (customer_id, status) serves customer lookups
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders",
                                 verbose_name=_("customer"), db_index=False)
    # no index of its own: order_workflow_created (workflow_id, created_at, id) serves workflow lookups
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.PROTECT, related_name="orders",
                                 verbose_name=_("workflow version"), db_index=False)
    stage = models.CharField(_("stage"), max_length=40)
    stage_entered_at = models.DateTimeField(_("entered stage at"))
    stage_due_at = models.DateTimeField(_("stage due at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.OPEN)
    on_hold = models.BooleanField(_("on hold"), default=False)
    hold_reason = models.CharField(_("hold reason"), max_length=300, blank=True)
    required_date = models.DateField(_("required date"))
    promised_date = models.DateField(_("promised date"), null=True, blank=True)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices,
                               default=Urgency.GREEN)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    total_amount = models.DecimalField(_("total"), default=Decimal("0"), **MONEY)
    remarks = models.TextField(_("remarks"), blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    # where the goods go: defaulted from the customer's default address at creation, editable
    # while the order's stage allows edits (``orders.services.changes.edit_refusal``)
    ship_to_contact = models.CharField(_("ship-to contact"), max_length=100, blank=True, default="")
    ship_to_phone = models.CharField(_("ship-to phone"), max_length=32, blank=True, default="")
    ship_to_address = models.CharField(_("ship-to address"), max_length=300, blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="owned_orders",
                              verbose_name=_("owner"))
    version = models.PositiveIntegerField(_("version"), default=1)
    blocked_reasons = models.JSONField(_("blocking reasons"), default=list, blank=True)
    forced = models.BooleanField(_("force-advanced"), default=False)
    intake_hash = models.CharField(max_length=64)
    intake = models.JSONField(_("intake data"), default=dict)
    audit_seq = models.PositiveIntegerField(default=0)
    audit_head = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.CharField(_("created by"), max_length=150)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        permissions = [
            ("override_guard", _("Can force an order past a guard")),
            ("hold_order", _("Can hold and resume orders")),
            ("cancel_order", _("Can cancel orders")),
            # configurable per role (core.RoleSetting), granted by roles_sync / role_setting_save
            ("change_price", _("Can set a price other than the standard price")),
            ("view_all_orders", _("Can see every customer's orders")),
            ("view_forensics", _("Can see the IP address and browser of each change")),
            # the KPI dashboards and /api/kpis (company-wide figures: supervisory roles)
            ("view_kpis", _("Can see the KPI dashboards")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_ref"],
                                    condition=Q(external_ref__isnull=False),
                                    name="order_channel_external_ref_unique"),
        ]
        indexes = [
            models.Index(fields=["stage_due_at"], name="order_open_due",
                         condition=Q(status="open")),
            # board columns: one index range scan per stage, most urgent deadline first
            models.Index(fields=["workflow", "stage", "stage_due_at"], name="order_stage_due",
                         condition=Q(status="open")),
            # the boards' change stamp (newest change, and what changed recently)
            models.Index(fields=["updated_at"], name="order_updated"),
            models.Index(fields=["customer", "status"], name="order_customer_status"),
            # the customer portal's "my orders": one customer's, newest first, a page at a time
            models.Index(fields=["customer", "-created_at", "-id"], name="order_customer_created"),
            # the orders of a period, newest first (the COEI's "newest orders of the set"): the
            # columns it reads are carried, so it is an index-only scan at a million orders (an
            # order's row is rewritten on every change anyway, updated_at being indexed, so the
            # wider entries cost no extra index writes)
            models.Index(fields=["created_at", "id"], name="order_created",
                         include=["status", "audit_seq", "customer", "workflow", "channel"]),
            models.Index(fields=["workflow", "-created_at", "-id"], name="order_workflow_created",
                         include=["status", "audit_seq", "customer", "channel"]),
            models.Index(fields=["required_date"], name="order_required"),
            # the list sorted by amount (largest first) stays an index walk at a million orders
            models.Index(fields=["total_amount", "id"], name="order_total"),
            # the list filtered by stage, whatever the status (the board's index holds open ones only)
            models.Index(fields=["stage", "workflow"], name="order_stage"),
            # KPIs (orders/kpis.py): orders completed in a window, by when they completed
            models.Index(fields=["stage_entered_at"], name="order_completed_at",
                         include=["promised_date", "required_date", "workflow"],
                         condition=Q(status="completed")),
            # KPIs (kpis/selectors.py): open orders by stage and urgency, overdue and held per stage,
            # read from the index alone (the open orders are a few percent of all)
            models.Index(fields=["workflow", "stage", "urgency"], name="order_open_kpi",
                         include=["on_hold", "stage_due_at"], condition=Q(status="open")),
            # KPIs: stalled orders, the open ones longest unchanged first
            models.Index(fields=["updated_at", "id"], name="order_open_updated", condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    # no index of its own: order_line_unique (order_id, line_no) leads with it
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_no = models.PositiveIntegerField(_("line"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("product"))
    qty = models.DecimalField(_("quantity"), **QTY)
    unit = models.CharField(_("unit"), max_length=16)
    base_qty = models.DecimalField(_("quantity in base unit"), **QTY)
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=4)
    amount = models.DecimalField(_("amount"), **MONEY)
    remarks = models.CharField(_("remarks"), max_length=500, blank=True)
    # False only while the line's order cannot be *waiting* for stock (closed, or holding an
    # active reservation): kept by PostgreSQL triggers on orders_order.status and on
    # inventory_reservation (migration 0022), never written by the application. True may be
    # stale (a new line of an order holding stock; SQLite has no triggers): the stock breaker
    # reads the waiting lines of a product through ``order_line_waiting`` and still checks each
    # order, so the flag only narrows what it reads.
    waiting = models.BooleanField(default=True, db_default=True, editable=False)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="order_line_unique"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="order_line_qty_positive"),
        ]
        indexes = [
            # the stock breaker: the lines of a product whose orders may be waiting for stock
            # (orders.breakers.stock), whatever the history
            models.Index(fields=["product", "order"], name="order_line_waiting", include=["base_qty"],
                         condition=Q(waiting=True)),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no}"


class StageInstance(models.Model):
    """One stay of an order in a stage, with its owner role and business-time deadline."""

    # no index of its own: stage_order (order_id, entered_at) leads with it
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="stage_instances", db_index=False)
    # the order's workflow version, kept here so per-stage KPIs read stays without the orders
    workflow = models.ForeignKey("workflow.WorkflowDefinition", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+", db_index=False,
                                 verbose_name=_("workflow version"))
    stage = models.CharField(_("stage"), max_length=40)
    owner_role = models.CharField(_("owner role"), max_length=32)
    entered_at = models.DateTimeField(_("entered at"))
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    exited_at = models.DateTimeField(_("left at"), null=True, blank=True)
    entered_by = models.CharField(_("by"), max_length=150)
    forced = models.BooleanField(_("forced"), default=False)
    # set once by the overdue sweep (orders.services.stage_instances_mark_overdue, run by
    # orderhub.rules.sweep) when due_at passed while still open
    overdue_at = models.DateTimeField(_("marked overdue at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stage instance")
        verbose_name_plural = _("stage instances")
        indexes = [
            models.Index(fields=["due_at"], name="stage_open_due",
                         condition=Q(exited_at__isnull=True)),
            models.Index(fields=["order", "entered_at"], name="stage_order"),
            # the overdue sweep: open, not yet marked, with a deadline; shrinks as rows are marked
            models.Index(fields=["due_at"], name="stage_sweep_due",
                         condition=Q(exited_at__isnull=True, overdue_at__isnull=True,
                                     due_at__isnull=False)),
            # KPIs (orders/kpis.py): stays that ended in a window, read from the index alone
            models.Index(fields=["exited_at"], name="stage_exited",
                         include=["workflow", "stage", "entered_at"],
                         condition=Q(exited_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}:{self.stage}"


class Snapshot(models.Model):
    """The whole order as canonical JSON with its SHA-256, kept at every stage change; ``mac``
    seals it with the audit key (``orderhub.core.audit.seal``, over ``snapshot_sealed_text``)."""

    # the app's database role gets SELECT and INSERT only (orderhub.core.dbroles)
    append_only = True

    # no index of its own: snapshot_unique (order_id, version) leads with it
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="snapshots", db_index=False)
    version = models.PositiveIntegerField(_("order version"))
    stage = models.CharField(_("stage"), max_length=40)
    taken_at = models.DateTimeField(_("taken at"))
    content = models.TextField(_("canonical JSON"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # the audit key's id and the MAC; both "" on a legacy snapshot (made before keyed MACs)
    key_id = models.CharField(_("key id"), max_length=16, blank=True, default="")
    mac = models.CharField(_("MAC"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        ordering = ["order", "version"]
        constraints = [
            models.UniqueConstraint(fields=["order", "version"], name="snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} v{self.version}"


def snapshot_sealed_text(order_id: int, version: int, content: str) -> str:
    """What a snapshot's MAC covers: its content and where it belongs, so a sealed content
    cannot be moved to another order or version."""
    return f"orders.snapshot:{order_id}:{version}:{content}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"orders/{instance.order_id}/{filename}"


class Attachment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path)
    name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField(_("uploaded at"))
    uploaded_by = models.CharField(_("uploaded by"), max_length=150)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    """Work beside the order's flow: an exception or a change request, with an owner role and a
    business-time deadline, resolved with a written resolution. Opened and resolved only
    through ``orders.services.tickets`` (each an event in the order's history)."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        RESOLVED = "resolved", _("resolved")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="tickets",
                              verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=40, default="exception")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    owner_role = models.CharField(_("owner role"), max_length=32)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.OPEN)
    resolution = models.TextField(_("resolution"), blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    opened_by = models.CharField(_("opened by"), max_length=150)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.CharField(_("resolved by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["owner_role", "due_at"], name="ticket_open_role_due",
                         condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.title}"


class EscalationStep(models.Model):
    """One rung of an escalation ladder, materialised when the stage is entered (or the ticket
    opened): fired once at ``fire_at`` by the ladder job, or cancelled when the work moves."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="escalation_steps")
    stage_instance = models.ForeignKey(StageInstance, null=True, blank=True, on_delete=models.CASCADE,
                                       related_name="escalation_steps")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="escalation_steps")
    step = models.CharField(_("step"), max_length=40)
    seq = models.PositiveSmallIntegerField(_("rung"))
    fire_at = models.DateTimeField(_("fires at"))
    fired_at = models.DateTimeField(_("fired at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # what firing did: notified / condition_false (recorded, nothing sent)
    outcome = models.CharField(_("outcome"), max_length=24, blank=True)

    class Meta:
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        ordering = ["order", "fire_at", "seq"]
        indexes = [
            # the ladder job: pending rungs by moment
            models.Index(fields=["fire_at"], name="escalation_pending",
                         condition=Q(fired_at__isnull=True, cancelled_at__isnull=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(stage_instance__isnull=False) | Q(ticket__isnull=False),
                                   name="escalation_step_has_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}:{self.step}@{self.fire_at:%Y-%m-%d %H:%M}"

    @property
    def state(self) -> str:
        if self.cancelled_at:
            return "cancelled"
        return "fired" if self.fired_at else "pending"


class SafetyFlag(models.Model):
    """A not-yet-started order that needs a material (directly or through its BOM) whose free
    stock crossed below its safety stock (``orders.safety``). Shown red on boards and the order
    page with the substitute offer; removed when the stock crosses back up. ``notified_at``: the
    order's owner was told (the notice job)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="safety_flags", db_index=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(_("flagged at"))
    notified_at = models.DateTimeField(_("owner told at"), null=True, blank=True)

    class Meta:
        verbose_name = _("safety stock flag")
        verbose_name_plural = _("safety stock flags")
        constraints = [models.UniqueConstraint(fields=["order", "product"], name="safety_flag_unique")]
        indexes = [models.Index(fields=["since"], name="safety_flag_unnotified",
                                condition=Q(notified_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.order_id}:{self.product_id}"


class ChangeRequest(models.Model):
    """A proposed change of an order's header and lines waiting for its approvers (issue 15.2).
    While one is pending the order is frozen (``orders.editing.change_pending``); approval
    applies it as the order's next version, rejection closes it. Written only by
    ``orders.services.change_requests``."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting decision")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Declined")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="change_requests",
                              verbose_name=_("order"), db_index=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    # the proposed header changes ({field: value}, as order_update takes them, dates as ISO text)
    header = models.JSONField(_("header changes"), default=dict, encoder=DjangoJSONEncoder, blank=True)
    # the proposed line changes (LineChange fields; decimals as text)
    lines = models.JSONField(_("line changes"), default=list, encoder=DjangoJSONEncoder, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    impact = models.JSONField(_("impact"), default=dict, encoder=DjangoJSONEncoder, blank=True)
    base_version = models.PositiveIntegerField(_("order version"))
    approvers = models.JSONField(_("approver roles"), default=list)
    # [{role, decision: approved/rejected, by, comment, at}]
    decisions = models.JSONField(_("decisions"), default=list, encoder=DjangoJSONEncoder, blank=True)
    requested_by = models.CharField(_("requested by"), max_length=150)
    requested_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(_("requested at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    applied_version = models.PositiveIntegerField(_("applied as version"), null=True, blank=True)
    ticket = models.ForeignKey("Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("Change request")
        verbose_name_plural = _("Change request")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # one pending request per order: the freeze has one reason at a time
            models.UniqueConstraint(fields=["order"], condition=Q(status="pending"),
                                    name="change_request_one_pending"),
        ]
        indexes = [models.Index(fields=["order", "requested_at"], name="change_request_order")]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.pk}"


class Breaker(models.Model):
    """A circuit breaker's configuration (issue 15.6): data, edited on the settings page and
    ``PUT /api/breakers/config/{kind}``, written only by ``orders.breakers.config``. One row per
    kind, seeded by the migration. ``stages``: the stage codes it watches (empty: every stage);
    ``ticket_role``: who gets the ticket when it trips; ``alternatives`` (carrier breaker):
    {disrupted carrier: the carrier proposed instead}."""

    class Kind(models.TextChoices):
        STOCK = "stock", _("Stock breaker")
        CREDIT = "credit", _("Credit breaker")
        CARRIER = "carrier", _("Carrier breaker")

    kind = models.CharField(_("Breaker"), max_length=16, choices=Kind.choices, unique=True)
    enabled = models.BooleanField(_("Enabled"), default=True)
    stages = models.JSONField(_("Stages watched"), default=list, blank=True)
    ticket_role = models.CharField(_("Role handling the ticket"), max_length=32)
    ticket_hours = models.DecimalField(_("Ticket time limit (working hours)"), max_digits=5, decimal_places=1,
                                       default=Decimal("4"))
    alternatives = models.JSONField(_("Alternative carriers"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("Breaker")
        verbose_name_plural = _("Breaker")
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.kind


class BreakerTrip(models.Model):
    """A breaker tripped for one order about one subject (``product:<id>`` for stock,
    ``customer:<id>`` for credit, ``shipment:<id>`` for carrier). Written set-based where the
    condition is checked (a stock write's transaction records trips and resets without locking
    orders); ``orders.breakers.trips.apply_pending`` then puts the order on hold (the one hold
    of ``Order.on_hold``), opens the ticket and writes the history, and on reset releases the
    hold only if a breaker put it there (``holds``) and no other active trip still holds it."""

    kind = models.CharField(_("Breaker"), max_length=16, choices=Breaker.Kind.choices)
    # no database constraint: the stock breaker inserts trips inside a stock write, and the
    # deferred FK check at its commit would take a share lock on the order row — waiting on
    # a move that holds the order and waits for that stock (orders are never deleted)
    order = models.ForeignKey(Order, on_delete=models.DO_NOTHING, related_name="breaker_trips", db_index=False,
                              db_constraint=False)
    subject = models.CharField(_("Tripped on"), max_length=64)
    reason = models.CharField(_("Reason"), max_length=500)
    detail = models.JSONField(_("Details"), default=dict, encoder=DjangoJSONEncoder, blank=True)
    tripped_at = models.DateTimeField(_("Tripped at"))
    applied_at = models.DateTimeField(_("Held at"), null=True, blank=True)
    holds = models.BooleanField(_("Held by the breaker"), default=False)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reset_at = models.DateTimeField(_("Reset at"), null=True, blank=True)
    reset_by = models.CharField(_("Reset by"), max_length=150, blank=True)
    reset_reason = models.CharField(_("Reset reason"), max_length=300, blank=True)
    reset_applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Breaker trip")
        verbose_name_plural = _("Breaker trip")
        ordering = ["-tripped_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "order", "subject"], condition=Q(reset_at__isnull=True),
                                    name="breaker_trip_active"),
        ]
        indexes = [
            models.Index(fields=["kind", "subject"], name="breaker_trip_subject",
                         condition=Q(reset_at__isnull=True)),
            models.Index(fields=["order"], name="breaker_trip_order", condition=Q(reset_at__isnull=True)),
            models.Index(fields=["order"], name="breaker_trip_pending",
                         condition=Q(applied_at__isnull=True) | Q(reset_at__isnull=False,
                                                                   reset_applied_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.order_id}:{self.subject}"


class LineNeedBound(models.Model):
    """An upper bound of what any order may need of a line product: at least the largest sum of
    one order's lines of that product (base units) ever written. Rows are only added, by
    PostgreSQL triggers on ``orders_orderline`` (migration 0023): a line written whose order's
    need of its product is above the product's highest bound adds that need. Never lowered (a
    line deleted or reserved leaves it): too high costs the stock breaker a read, never a wrong
    answer. The breaker's fast twin skips reading a product's waiting lines when this bound is
    within the free stock the product may be needed to (no waiting order can be short), so its
    cost stops following the number of waiting orders. Never written by the application;
    SQLite has no triggers (the ORM twin does not read it)."""

    product = models.ForeignKey(Product, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False,
                                db_index=False)
    need = models.DecimalField(max_digits=38, decimal_places=4)   # a sum of lines: wider than a line's

    class Meta:
        indexes = [models.Index(fields=["product", "need"], name="line_need_bound")]

    def __str__(self) -> str:
        return f"{self.product_id}≤{self.need}"


class CustomerOpenAmount(models.Model):
    """The total of a customer's open orders, kept as rows whose sum per customer equals
    ``sum(total_amount)`` of the customer's orders with status ``open`` in every snapshot: each
    statement writing ``orders_order`` adds a row per customer whose open total it changed (the
    difference), in the same transaction (PostgreSQL statement triggers with transition tables,
    migration 0024: inserts, updates of any column, deletes; a TRUNCATE empties it). Rows are
    only added by the triggers and folded by the reading move (``locks.lock_move_stock``: a
    customer's rows replaced by their sum, in the same statement, rows another transaction holds
    skipped), so no writer ever waits on another for it, and the credit guard reads a few rows
    per customer instead of every open order. Never written by the application; SQLite has no
    triggers (the ORM twin sums the orders)."""

    customer = models.ForeignKey(Customer, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    amount = models.DecimalField(max_digits=38, decimal_places=2)   # a sum of order totals

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.amount}"

"""The one way in: every change to an order goes through these functions.

Each checks permission, validates, writes state, appends the audit event (and, at a stage
change, the snapshot) in one transaction.
"""

from .attachments import MAX_ATTACHMENT_BYTES, order_attach
from .batch_moves import BatchMove, order_transition_batch
from .change_requests import (
    approvers_for,
    change_request_decide,
    change_request_raise,
    pending_roles,
)
from .changes import (
    EDITABLE_FIELDS,
    edit_refusal,
    order_cancel,
    order_hold,
    order_override,
    order_resume,
    order_transition,
    order_update,
)
from .common import Blocked, CreateResult, TransitionResult, snapshot_content
from .create import BatchItem, order_create, order_create_batch
from .deadlines import order_deadlines_recompute
from .escalation import (
    Firing,
    Rung,
    escalation_step_fire,
    escalation_steps_cancel,
    escalation_steps_create,
)
from .expiry import reservations_expire
from .exports import ExportFile, orders_export
from .lines import LineChange, order_lines_change
from .overdue import OverdueStage, stage_instances_mark_overdue
from .preview import Preview, order_preview
from .restore import order_restore, restorable_snapshot
from .stages import evaluate_guards
from .tickets import ticket_open, ticket_resolve

__all__ = [
    "MAX_ATTACHMENT_BYTES", "EDITABLE_FIELDS", "BatchItem", "ExportFile", "orders_export", "Blocked", "CreateResult",
    "TransitionResult", "evaluate_guards", "order_attach", "order_cancel", "order_create",
    "order_create_batch", "order_hold", "order_override", "order_resume", "order_transition",
    "order_update", "edit_refusal", "snapshot_content", "ticket_open", "ticket_resolve",
    "Firing", "Rung", "escalation_step_fire", "escalation_steps_cancel", "escalation_steps_create",
    "BatchMove", "order_transition_batch", "OverdueStage", "stage_instances_mark_overdue",
    "order_deadlines_recompute", "Preview", "order_preview",
    "LineChange", "order_lines_change", "order_restore", "restorable_snapshot", "reservations_expire",
    "approvers_for", "change_request_decide", "change_request_raise", "pending_roles",
]

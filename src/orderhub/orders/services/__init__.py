"""The one way in: every change to an order goes through these functions.

Each checks permission, validates, writes state, appends the audit event (and, at a stage
change, the snapshot) in one transaction.
"""

from .attachments import MAX_ATTACHMENT_BYTES, order_attach
from .changes import (
    EDITABLE_FIELDS,
    order_cancel,
    order_hold,
    order_override,
    order_resume,
    order_transition,
    order_update,
)
from .common import Blocked, CreateResult, TransitionResult, snapshot_content
from .create import BatchItem, order_create, order_create_batch
from .exports import ExportFile, orders_export
from .notes import order_record
from .stages import evaluate_guards
from .tickets import ticket_open, ticket_resolve

__all__ = [
    "MAX_ATTACHMENT_BYTES", "EDITABLE_FIELDS", "BatchItem", "ExportFile", "orders_export", "Blocked", "CreateResult",
    "TransitionResult", "evaluate_guards", "order_attach", "order_cancel", "order_create",
    "order_create_batch", "order_hold", "order_override", "order_resume", "order_transition",
    "order_update", "snapshot_content", "order_record", "ticket_open", "ticket_resolve",
]

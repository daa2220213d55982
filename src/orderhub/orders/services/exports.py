"""Excel exports of order lists: stamped with who and when, and recorded in the audit log.

Every text cell goes through ``_text_cell``: text a spreadsheet would run as a formula
(``=HYPERLINK(...)`` in an external reference) is written as a string cell with the quote
prefix set, so Excel neither runs it on opening nor after someone edits the cell; characters XML
cannot hold are replaced, so one bad tag stored long ago cannot break the export for everyone."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.canonical import to_plain
from orderhub.core.errors import PermissionDenied, ValidationFailed
from orderhub.core.text import is_formula_like, xml_safe

from .. import events
from ..boards import label_stages
from ..models import Order

MAX_EXPORT_ROWS = 200_000
CHUNK = 2000


@dataclass(frozen=True)
class ExportFile:
    name: str
    content: bytes
    rows: int
    sha256: str


def _stamp(actor: Actor, now: datetime) -> str:
    return _("Generated %(at)s by %(who)s") % {
        "at": timezone.localtime(now).strftime("%Y-%m-%d %H:%M:%S"), "who": actor.label}


def _text_cell(ws, value):
    """A value for ``ws.append``: text as text, never a formula, never a character XML refuses
    (openpyxl raises on those). Other values (numbers, dates) pass unchanged."""
    if not isinstance(value, str):
        return value
    value = xml_safe(value)
    if not is_formula_like(value):
        return value
    # here, not at import: a process that never exports never loads it
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # openpyxl made "=..." a formula
    cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
    return cell


def orders_export(*, queryset: QuerySet[Order], actor: Actor, title: str,
                  filters: dict | None = None) -> ExportFile:
    """Write the orders of ``queryset`` (already filtered and sorted for the list view) to
    xlsx. The sheet carries the generation time and the exporting user in its first row and
    in the printed header and footer; the export itself is an audit event of the user."""
    if not actor.has_perm("orders.view_order"):
        raise PermissionDenied("permission_denied", _("You may not export orders."))
    # here, not at import: a process that never writes a workbook never loads it
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Font

    total = queryset.count()
    if total > MAX_EXPORT_ROWS:
        raise ValidationFailed("too_many_rows", _("At most %(n)d rows can be exported at once; narrow the filters.")
                               % {"n": MAX_EXPORT_ROWS})
    now = clock.now()
    title = xml_safe(title)
    stamp = xml_safe(_stamp(actor, now))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Orders"))
    ws.oddHeader.left.text = title
    ws.oddHeader.right.text = stamp
    ws.oddFooter.left.text = stamp
    ws.oddFooter.right.text = _("Page &P of &N")
    bold = Font(bold=True)

    def cells(values):
        out = []
        for v in values:
            c = _text_cell(ws, v)
            if not isinstance(c, Cell):
                c = WriteOnlyCell(ws, value=c)
            c.font = bold
            out.append(c)
        return out

    ws.append(cells([title, stamp]))
    ws.append(cells([_("Order"), _("Customer code"), _("Customer"), _("Workflow"), _("Stage"),
                     _("Status"), _("Urgency"), _("On hold"), _("Stage due at"), _("Required date"),
                     _("Promised date"), _("Total"), _("Currency"), _("Tags"), _("Channel"),
                     _("External reference"), _("Created at")]))
    rows = 0
    qs = queryset.select_related("customer", "workflow")
    for start in range(0, total, CHUNK):
        for o in label_stages(qs[start:start + CHUNK]):
            due = timezone.localtime(o.stage_due_at).replace(tzinfo=None) if o.stage_due_at else None
            ws.append([_text_cell(ws, v) for v in (
                o.number, o.customer.code, o.customer.name, o.workflow.code, o.stage_label,
                o.get_status_display(), o.get_urgency_display(), _("yes") if o.on_hold else "",
                due, o.required_date, o.promised_date, o.total_amount, o.currency,
                " ".join(f"#{t}" for t in o.tags), o.channel, o.external_ref or "",
                timezone.localtime(o.created_at).replace(tzinfo=None))])
            rows += 1
    ws.append([])
    ws.append([_text_cell(ws, stamp)])
    buf = io.BytesIO()
    wb.save(buf)
    content = buf.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    name = f"orders-{timezone.localtime(now):%Y%m%d-%H%M%S}.xlsx"
    append_event(subject_type="export", subject_id=int(actor.id) if actor.id.isdigit() else 0,
                 action=events.ORDERS_EXPORTED, actor=actor,
                 data={"rows": rows, "file": name, "sha256": digest, "title": title,
                       "filters": to_plain(filters or {})})
    return ExportFile(name=name, content=content, rows=rows, sha256=digest)


__all__ = ["ExportFile", "MAX_EXPORT_ROWS", "orders_export"]

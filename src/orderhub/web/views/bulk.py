"""Bulk actions on the board: the orders ticked on the board moved together
(``orders.services.order_transition_batch``), answered with a summary that names each blocked
order with its reasons and each refused one with why."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core.errors import DomainError
from orderhub.orders import services
from orderhub.orders.selectors import visible_numbers
from orderhub.orders.services.batch_moves import MAX_BATCH
from orderhub.workflow.services import compiled

from .common import actor_for, requires


def _stage_name(order) -> str:
    return compiled(order.workflow_id).stage(order.stage).spec.name


def _summary(numbers: list[str], seen: set[str], results: list[services.BatchMove]) -> dict:
    answers = iter(results)
    moved, blocked, refused = [], [], []
    for n in numbers:
        if n not in seen:   # an order the user may not see is answered as one that does not exist
            refused.append({"number": n, "why": _("Order %(number)s does not exist.") % {"number": n}})
            continue
        r = next(answers)
        if r.outcome == services.batch_moves.MOVED:
            moved.append({"number": n, "stage": _stage_name(r.order)})
        elif r.outcome == services.batch_moves.BLOCKED:
            blocked.append({"number": n, "reasons": [str(p.message) for p in r.reasons]})
        else:
            refused.append({"number": n, "why": r.error.message if r.error else ""})
    return {"moved": moved, "blocked": blocked, "refused": refused}


@requires("orders.move")
@require_POST
def bulk_move(request):
    """Move the ticked orders (``numbers``) to ``to``; answers the summary (htmx) or, without
    script, the same as messages on the board it came from."""
    actor = actor_for(request)
    numbers = list(dict.fromkeys(n.strip() for n in request.POST.getlist("numbers") if n.strip()))
    to = request.POST.get("to", "").strip()
    board = request.POST.get("board", "")
    context: dict = {"to": to}
    if not numbers:
        context["error"] = _("Tick the orders to move first.")
    elif len(numbers) > MAX_BATCH:
        context["error"] = _("At most %(n)d orders can be moved at once.") % {"n": MAX_BATCH}
    else:
        seen = visible_numbers(numbers, actor)
        try:
            results = services.order_transition_batch(numbers=[n for n in numbers if n in seen], to=to,
                                                      actor=actor, reason=request.POST.get("reason", ""))
        except DomainError as e:
            context["error"] = e.message
        else:
            context.update(_summary(numbers, seen, results))
    if request.headers.get("HX-Request"):
        return render(request, "web/_bulk_move_result.html", context)
    if "error" in context:
        messages.error(request, context["error"])
    else:
        messages.info(request, _("Moved %(moved)s, blocked %(blocked)s, refused %(refused)s.") % {
            k: len(context[k]) for k in ("moved", "blocked", "refused")})
        for b in context["blocked"]:
            messages.error(request, _("%(number)s blocked: %(reasons)s") % {
                "number": b["number"], "reasons": "；".join(b["reasons"])})
        for r in context["refused"]:
            messages.error(request, _("%(number)s refused: %(why)s") % r)
    return redirect(reverse("web:board", args=[board]) if board else reverse("web:order_list"))

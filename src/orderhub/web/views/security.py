"""Pages of the edge: refused intake requests (admins), and lifting a user's login lockout."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core.errors import DomainError
from orderhub.core.lockout import user_unlock
from orderhub.intake.models import RefusedRequest
from orderhub.intake.selectors import refused_queryset

from .common import actor_for, refused, requires

PAGE_SIZE = 50


@requires("intake.refused")
def refused_requests(request):
    """拒收的请求: what was turned away at intake's door, newest first (bodies never kept)."""
    f = {k: request.GET.get(k) or None for k in ("channel", "reason", "ip")}
    page = Paginator(refused_queryset(**f), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/intake/refused.html", {
        "page": page, "f": f, "reasons": RefusedRequest.Reason.choices})


@requires("users.manage")
@require_POST
def unlock_user(request, username: str):
    try:
        cleared = user_unlock(username=username, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, "web:config_users")
    messages.success(request, _("%(u)s may log in again (%(n)d lockout records cleared).")
                     % {"u": username, "n": cleared})
    return redirect("web:config_users")

"""Log in and out (with the lockout page), and each role's home page: my work."""

import math

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from orderhub.core import permissions
from orderhub.core.client import client_ip
from orderhub.core.lockout import lockout_until
from orderhub.core.roles import ROLES
from orderhub.orders.boards import my_work
from orderhub.orders.shortages import shortage_overview
from orderhub.purchasing.selectors import purchasing_todo

from .common import actor_for, requires


class LoginView(auth_views.LoginView):
    capability = "public"  # core.permissions
    template_name = "web/login.html"
    redirect_authenticated_user = True


def locked_out(request, response=None, credentials=None):
    """django-axes' answer when a username is locked from this address (AXES_LOCKOUT_CALLABLE):
    the login page again, 429, saying until when (and that an administrator can unlock)."""
    username = ((credentials or {}).get("username") or request.POST.get("username") or "")[:150]
    until = lockout_until(username=username, ip=client_ip(request))
    if until is None:  # raced with the end of the lockout: say "in a moment"
        until = timezone.now()
    local = timezone.localtime(until)
    message = _("Too many failed logins for %(user)s from this address. Try again after %(time)s, "
                "or ask an administrator to unlock the account.") % {
        "user": username, "time": date_format(local, "H:i") if local.date() == timezone.localdate()
        else date_format(local, "Y-m-d H:i")}
    form = AuthenticationForm(request, initial={"username": username})
    resp = render(request, "web/login.html", {"form": form, "locked_message": message,
                                              "next": request.POST.get("next", "")}, status=429)
    resp["Retry-After"] = str(max(1, math.ceil((until - timezone.now()).total_seconds())))
    return resp


class LogoutView(auth_views.LogoutView):
    capability = "public"
    next_page = "web:login"


@requires("home")
def home(request):
    """Orders whose current stage my roles own, of those I may see: due soonest and overdue
    first, with counts. Someone without a role sees none."""
    actor = actor_for(request)
    work = my_work(actor)
    roles = [str(ROLES.get(r, r)) for r in sorted(actor.roles)]
    return render(request, "web/home.html", {"work": work, "roles": roles, "now": work.now,
                                             **_purchasing(actor, work.now.date())})


def _purchasing(actor, today) -> dict:
    """A purchaser's (or approver's) part of the home page: the top 3 shortages, the to-do sorted
    by countdown, and how many to-dos are overdue (the reminder shown on arriving)."""
    if not permissions.allowed(actor, "purchasing.view"):
        return {}
    may_order = permissions.allowed(actor, "purchasing.order")
    may_approve = permissions.allowed(actor, "purchasing.approve")
    if not (may_order or may_approve):
        return {}
    todo = purchasing_todo(may_order=may_order, may_approve=may_approve)
    top = [r for r in shortage_overview() if r.missing][:3] if may_order else []
    return {"purchase_todo": [{"t": t, "days": (t.due - today).days} for t in todo],
            "purchase_overdue": sum(1 for t in todo if t.due < today), "top_shortages": top,
            "purchasing_home": True}

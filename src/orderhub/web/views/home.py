"""Log in and out, and each role's home page: my work."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from orderhub.core.roles import ROLES
from orderhub.orders.boards import my_work

from .common import actor_for


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "web:login"


@login_required
def home(request):
    """Orders whose current stage my roles own: due soonest and overdue first, with counts."""
    actor = actor_for(request)
    work = my_work(actor.roles)
    roles = [str(ROLES.get(r, r)) for r in sorted(actor.roles)]
    return render(request, "web/home.html", {"work": work, "roles": roles, "now": work.now})

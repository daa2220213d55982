"""Log in and out, and each role's home page: my work."""

from django.contrib.auth import views as auth_views
from django.shortcuts import render

from orderhub.core.roles import ROLES
from orderhub.orders.boards import my_work

from .common import actor_for, requires


class LoginView(auth_views.LoginView):
    capability = "public"  # core.permissions
    template_name = "web/login.html"
    redirect_authenticated_user = True


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
    return render(request, "web/home.html", {"work": work, "roles": roles, "now": work.now})

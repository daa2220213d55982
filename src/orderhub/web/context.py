"""Template context every page needs: the boards in the menu and whether to show settings."""

from orderhub.core import permissions
from orderhub.workflow.models import WorkflowDefinition

from .views.common import actor_for
from .views.notify import badge_count as notify_badge_count


def workspace(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    actor = actor_for(request)
    return {
        "nav_workflows": WorkflowDefinition.objects.filter(is_current=True).only("code").order_by("code"),
        "nav_is_admin": permissions.allowed(actor, "settings.view"),
        "nav_can_add": permissions.allowed(actor, "orders.create"),
        "nav_can_view": permissions.allowed(actor, "orders.view"),
        "nav_can_kpi": permissions.allowed(actor, "kpis.view"),
        "nav_can_intake": permissions.allowed(actor, "intake.view"),
        "nav_can_purchasing": permissions.allowed(actor, "purchasing.view"),
        "nav_can_planning": permissions.allowed(actor, "planning.view"),
        "nav_can_finance": permissions.allowed(actor, "finance.view"),
        "nav_can_returns": permissions.allowed(actor, "returns.view"),
        "actor": actor,
        "nav_unread": notify_badge_count(request),
    }

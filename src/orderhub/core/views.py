from django.db.models import Count
from django.shortcuts import render

from orderhub.core import clock
from orderhub.orders.models import Order
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled


def home(request):
    """Landing page: what is in the hub, by workflow and stage, and where to go next."""
    now = clock.now()
    boards = []
    for wf in WorkflowDefinition.objects.filter(is_current=True).order_by("code"):
        spec = compiled(wf).spec
        counts = dict(Order.objects.filter(workflow__code=wf.code, status=Order.Status.OPEN)
                      .values_list("stage").annotate(n=Count("pk")))
        overdue = dict(Order.objects.filter(workflow__code=wf.code, status=Order.Status.OPEN,
                                            stage_due_at__lt=now)
                       .values_list("stage").annotate(n=Count("pk")))
        boards.append({"wf": wf, "stages": [
            {"code": s.code, "name": s.name, "owner_role": s.owner_role,
             "count": counts.get(s.code, 0), "overdue": overdue.get(s.code, 0)}
            for s in spec.stages]})
    return render(request, "orderhub/home.html", {"boards": boards,
                                                   "total": Order.objects.count()})

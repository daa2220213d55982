"""Words for the codes the KPI figures answer with (workflows, stages, customers, ticket kinds):
shared by the dashboards and the daily report."""

from __future__ import annotations

from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled


class Names:
    """Words for codes: workflows, stages (per workflow), customers, ticket kinds."""

    def __init__(self) -> None:
        self.workflows: dict[str, str] = {}
        self.stages: dict[tuple[str, str], str] = {}
        self.kinds: dict[str, str] = {"exception": _("Exception")}
        for wf in WorkflowDefinition.objects.filter(is_current=True).order_by("code"):
            flow = compiled(wf)
            self.workflows[wf.code] = f"{wf.code} {wf.name}"
            for code, st in flow.stages.items():
                self.stages[(wf.code, code)] = str(st.spec.name)
            for kind, t in flow.tickets.items():
                self.kinds.setdefault(kind, str(t.spec.name))
        self.customers = dict(Customer.objects.values_list("code", "name"))

    def stage(self, workflow: str | None, stage: str | None) -> str:
        if not stage:
            return "—"
        return self.stages.get((workflow or "", stage), stage)

    def workflow(self, code: str | None) -> str:
        return self.workflows.get(code or "", code or "—")

    def customer(self, code: str | None) -> str:
        return self.customers.get(code or "", code or "—")

    def kind(self, code: str | None) -> str:
        return self.kinds.get(code or "", code or "—")

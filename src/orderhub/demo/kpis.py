"""Demo of the daily report: mailed at 08:00 to the managers and the operations director
(through the service, as an admin sets it on /kpi/daily-report/setting/). Today's report is
downloadable from /kpi/ (日报 PDF / Excel) over the demo's orders."""

from __future__ import annotations

from datetime import time

from orderhub.core.actors import Actor
from orderhub.kpis.services import daily_report_setting_save


def load_daily_report(actors: dict[str, Actor]) -> dict[str, object]:
    roles = ["manager", "operations_director"]
    s = daily_report_setting_save(enabled=True, send_at=time(8, 0), roles=roles, actor=actors["admin"])
    return {"send_at": s.send_at.strftime("%H:%M"), "roles": s.roles}

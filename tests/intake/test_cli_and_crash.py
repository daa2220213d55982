"""`orderhub intake` commands, and a crash mid-import: nothing lost, nothing doubled."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from orderhub.intake import services
from orderhub.intake.models import ImportJob, InboundMessage
from orderhub.orders.models import Order
from tests.pgroles import database_url

from .conftest import sample

HEADER = ("订单编号,买家会员名,买家应付货款,买家应付邮费,总金额,买家实际支付金额,订单状态,买家留言,收货人姓名,收货地址 ,"
          "运送方式,联系手机,订单创建时间,订单付款时间 ,宝贝标题 ,宝贝种类,宝贝总数量,商家编码,订单备注")


def taobao_csv(n: int, start: int = 0) -> bytes:
    rows = [HEADER]
    for i in range(start, start + n):
        qty = 1 + i % 7
        rows.append(f'"=""{3100000000000000000 + i}""",捷达汽配,{qty * 86}.00,0.00,{qty * 86}.00,{qty * 86}.00,'
                    f'买家已付款,"备注 {i}",李强,杭州,快递,13858012345,2026-02-18 09:12:03,2026-02-18 09:12:40,'
                    f'机油滤清器,1,{qty},OIL-FLT-0915,')
    return ("\r\n".join(rows) + "\r\n").encode("gbk")


def run(*args) -> list | dict:
    out = io.StringIO()
    call_command("intake", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_cli_import_and_replay(master, tmp_path, intake_actor):
    path = tmp_path / "ExportOrderList.csv"
    path.write_bytes(sample("taobao", "ExportOrderList202602181230.csv"))
    job = run("import", str(path), "--channel", "taobao", "--mode", "accept_valid")
    assert (job["orders_created"], job["rows_failed"], job["message_status"]) == (2, 3, "needs_review")
    assert {e["row"] for e in job["errors"]} == {3, 4, 5}
    msg = services.inbound_receive(channel="miniprogram", kind="api", actor=intake_actor,
                                   payload=sample("miniprogram", "06-unknown-sku.json"))
    services.inbound_process(message=msg, actor=intake_actor)
    services.alias_set(kind="product", value="BRK-PAD-R-9999", code="OIL-FLT-0915", actor=intake_actor)
    assert run("replay", "--failed") == [{"id": msg.pk, "status": "parsed", "errors": []}]
    with pytest.raises(CommandError, match="not_replayable"):
        run("replay", str(msg.pk))
    with pytest.raises(CommandError, match="no such file"):
        run("import", str(tmp_path / "missing.csv"), "--channel", "taobao")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_killed_mid_import_then_resumed_loses_nothing_and_doubles_nothing(master, tmp_path):
    n = 6000
    path = tmp_path / "big.csv"
    path.write_bytes(taobao_csv(n))
    env = {**os.environ, "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "orderhub.settings"}
    proc = subprocess.Popen([sys.executable, "-m", "orderhub.cli", "intake", "import", str(path),
                             "--channel", "taobao"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        job = ImportJob.objects.first()
        if job is not None and 0 < job.rows_done < n:
            proc.send_signal(signal.SIGKILL)
            killed_at = job.rows_done
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert killed_at is not None, proc.stderr.read().decode()[-2000:]
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.RUNNING  # the crash left it half done
    partial = Order.objects.filter(channel="taobao").count()
    assert 0 < partial < n
    assert bytes(job.message.payload) == path.read_bytes()  # the file is safe
    resumed = run("resume")
    assert len(resumed) == 1 and resumed[0]["status"] == "done"
    job.refresh_from_db()
    assert Order.objects.filter(channel="taobao").count() == n
    assert Order.objects.filter(channel="taobao").values("external_ref").distinct().count() == n
    assert job.rows_done == job.rows_total == n
    assert job.orders_created + job.duplicates == n and job.duplicates >= partial
    assert InboundMessage.objects.get(pk=job.message_id).status == InboundMessage.Status.PARSED

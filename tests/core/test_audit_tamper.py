"""Each kind of tampering, done as an attacker with direct database access would (the superuser
with triggers bypassed, or the owner disabling them), is found by `orderhub audit verify`, which
names the order by its number, says what is wrong and exits 1. Untouched orders stay clean."""

import gzip
import os
import shutil
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from orderhub.core import audit
from orderhub.core.audit_verify import verify
from orderhub.core.canonical import sha256_hex
from orderhub.core.checkpoints import checkpoint_files, checkpoint_write
from orderhub.orders import services
from orderhub.orders.models import Order, Snapshot
from tests.conftest import order_input
from tests.pgroles import database_url

from . import tamper

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


@pytest.fixture
def orders(company):
    a = company["actors"]
    made = []
    for _ in range(3):
        order = services.order_create(data=order_input(), actor=a["sales"]).order
        services.order_transition(order=order, to="scheduled", actor=a["service"])
        services.order_hold(order=order, actor=a["finance"], reason="核对税号")
        made.append(Order.objects.get(pk=order.pk))
    assert verify().ok
    return made


def _found(order, capsys=None) -> set[str]:
    """The kinds of break verify reports; each names ``order`` (only ``order``) by its number."""
    report = verify()
    assert report.findings, "tampering went unnoticed"
    assert {f.label for f in report.findings} == {f"订单 {order.number}"}, report.findings
    if capsys is not None:
        capsys.readouterr()
        with pytest.raises(CommandError):
            call_command("audit", "verify", language="en")
        out = capsys.readouterr().out
        assert f"BROKEN order {order.number}" in out
    return {f.kind for f in report.findings}


def test_edited_event_content(orders, capsys, settings):
    ev = tamper.events(orders[1])[2]
    tamper.run("UPDATE core_auditevent SET reason = %s WHERE id = %s", ["已核对", ev.pk])
    assert _found(orders[1], capsys) == {"edited"}
    if connection.vendor == "postgresql":   # the operator's command, as the app role: exit 1
        done = subprocess.run([sys.executable, "-m", "orderhub.cli", "audit", "verify"], capture_output=True,
                              text=True, timeout=300, env={
                                  **os.environ, "DATABASE_URL": database_url(),
                                  "ORDERHUB_AUDIT_CHECKPOINT_DIR": str(settings.ORDERHUB_AUDIT_CHECKPOINT_DIR)})
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"已损坏 订单 {orders[1].number}: 事件 #3：内容与其 MAC 不符" in done.stdout
        assert "审计日志中发现 1 处问题" in done.stderr


def test_edited_event_content_by_the_owner_with_triggers_disabled(orders):
    ev = tamper.events(orders[0])[0]
    tamper.run("UPDATE core_auditevent SET actor_label = 'admin' WHERE id = %s", [ev.pk], role="owner")
    assert _found(orders[0]) == {"edited"}


def test_event_deleted_mid_chain(orders, capsys):
    ev = tamper.events(orders[0])[1]
    tamper.run("DELETE FROM core_auditevent WHERE id = %s", [ev.pk])
    assert _found(orders[0], capsys) == {"events_missing"}


def test_tail_deleted_with_the_head_moved_back_is_caught_by_the_checkpoint(orders, capsys):
    assert checkpoint_write().path is not None
    first, second, third = tamper.events(orders[2])
    tamper.run("DELETE FROM core_auditevent WHERE id = %s", [third.pk])
    tamper.run("UPDATE orders_order SET audit_seq = 2, audit_head = %s WHERE id = %s", [second.hash, orders[2].pk])
    assert _found(orders[2], capsys) == {"tail_deleted"}
    assert "checkpoint" in verify().findings[0].message or "检查点" in verify().findings[0].message


def test_tail_deleted_without_moving_the_head(orders):
    tail = tamper.events(orders[2])[-1]
    tamper.run("DELETE FROM core_auditevent WHERE id = %s", [tail.pk])
    assert _found(orders[2]) == {"tail_deleted"}


def test_chain_rehashed_without_the_key_with_the_head_moved(orders, capsys):
    def edit(ev):
        ev.reason = "客户同意"

    tamper.rewrite_chain(orders[0], key=None, key_id="", edit=edit)   # the old scheme: plain SHA-256
    assert _found(orders[0], capsys) == {"unkeyed"}


def test_chain_rehashed_with_a_wrong_key_under_its_own_id(orders):
    tamper.rewrite_chain(orders[1], key=b"guessed", key_id=audit.key_id_of("guessed"))
    assert _found(orders[1]) == {"unknown_key"}


def test_chain_rehashed_with_a_wrong_key_claiming_the_real_key_id(orders):
    tamper.rewrite_chain(orders[1], key=b"guessed", key_id=audit.current_key()[0])
    assert _found(orders[1]) == {"edited"}


def test_chain_rehashed_with_the_right_key_is_contradicted_by_the_checkpoint(orders, capsys):
    checkpoint_write()
    kid, key = audit.current_key()

    def edit(ev):
        ev.reason = "客户同意"

    tamper.rewrite_chain(orders[0], key=key, key_id=kid, edit=edit)   # an insider who holds the key
    assert _found(orders[0], capsys) == {"rewritten"}
    # and the checkpoint job refuses to write a checkpoint that would launder it
    result = checkpoint_write()
    assert result.path is None and {f.kind for f in result.refused} == {"rewritten"}


def test_well_formed_event_inserted(orders, capsys):
    """Linked and hashed as the old scheme would accept, inserted at the tail, head moved."""
    last = tamper.events(orders[1])[-1]
    last.seq, last.prev_hash, last.action, last.reason = last.seq + 1, last.hash, "order.resumed", "已放行"
    for key, kid in ((None, ""), (b"guessed", audit.current_key()[0])):
        forged = tamper.reseal(last, key=key, key_id=kid)
        with tamper.attacker() as cur:
            cur.execute("DELETE FROM core_auditevent WHERE subject_type = 'order' AND subject_id = %s AND seq = %s",
                        [orders[1].pk, last.seq])
            cur.execute("INSERT INTO core_auditevent (id, subject_type, subject_id, seq, at, action, actor_kind, "
                        "actor_id, actor_label, user_agent, request_id, changes, data, reason, forced, prev_hash, "
                        "hash, key_id) SELECT id + 9000000, subject_type, subject_id, %s, at, %s, actor_kind, "
                        "actor_id, actor_label, user_agent, request_id, changes, data, %s, forced, %s, %s, %s "
                        "FROM core_auditevent WHERE id = %s",
                        [last.seq, last.action, last.reason, last.prev_hash, forged, kid, last.pk])
            cur.execute("UPDATE orders_order SET audit_seq = %s, audit_head = %s WHERE id = %s",
                        [last.seq, forged, orders[1].pk])
        assert _found(orders[1], capsys) == ({"unkeyed"} if key is None else {"edited"})


def test_all_events_of_an_order_deleted_and_its_head_cleared(orders, capsys):
    tamper.run("DELETE FROM core_auditevent WHERE subject_type = 'order' AND subject_id = %s", [orders[2].pk])
    tamper.run("UPDATE orders_order SET audit_seq = 0, audit_head = '' WHERE id = %s", [orders[2].pk])
    assert _found(orders[2], capsys) == {"no_history"}
    tamper.run("UPDATE orders_order SET audit_seq = 3 WHERE id = %s", [orders[2].pk])
    assert _found(orders[2]) == {"all_events_missing"}


def test_all_events_deleted_after_a_checkpoint(orders):
    checkpoint_write()
    tamper.run("DELETE FROM core_auditevent WHERE subject_type = 'order' AND subject_id = %s", [orders[2].pk])
    tamper.run("UPDATE orders_order SET audit_seq = 0, audit_head = '' WHERE id = %s", [orders[2].pk])
    assert _found(orders[2]) == {"no_history", "all_events_missing"}


def test_snapshot_edited_with_its_sha256_recomputed(orders, capsys):
    snap = Snapshot.objects.filter(order=orders[0]).order_by("version").last()
    content = snap.content.replace('"100"', '"10"')
    assert content != snap.content
    tamper.run("UPDATE orders_snapshot SET content = %s, sha256 = %s WHERE id = %s",
               [content, sha256_hex(content), snap.pk])
    assert _found(orders[0], capsys) == {"snapshot_edited"}
    assert f"第 {snap.version} 版快照" in verify().findings[0].message


def test_snapshot_edited_alone(orders):
    snap = Snapshot.objects.filter(order=orders[1]).first()
    tamper.run("UPDATE orders_snapshot SET content = replace(content, '\"100\"', '\"10\"') WHERE id = %s", [snap.pk])
    assert _found(orders[1]) == {"snapshot_edited"}


def test_edited_checkpoint_file_is_reported_as_tampering(orders, company, capsys):
    older = checkpoint_write().path
    services.order_resume(order=orders[0], actor=company["actors"]["finance"])
    newer = checkpoint_write().path
    assert newer is not None and checkpoint_files(newer.parent) == [older, newer]
    with gzip.open(newer, "rt", encoding="utf-8") as fh:
        text = fh.read()
    head = Order.objects.get(pk=orders[0].pk).audit_head
    assert head in text
    with gzip.open(newer, "wt", encoding="utf-8") as fh:   # an attacker moves a head in the file
        fh.write(text.replace(head, "0" * 64))
    report = verify()
    assert [(f.kind, f.label) for f in report.findings] == [("checkpoint_signature", f"检查点文件 {newer.name}")]
    assert report.checkpoint.path == older   # the newest valid one is used instead
    with pytest.raises(CommandError):
        call_command("audit", "verify", language="en")
    assert f"BROKEN checkpoint file {newer.name}: its signature does not match" in capsys.readouterr().out
    shutil.copy(older, newer)   # a valid file of another time under the newer name still verifies
    assert verify().ok


"""Events are sealed with a keyed MAC (the audit key lives outside the database), keys rotate,
events made before keyed chains verify as a clearly reported legacy segment, and an intact
history passes `orderhub audit verify`. Each kind of tampering: test_audit_tamper.py."""

import hashlib
import hmac

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from orderhub.core import audit
from orderhub.core.actors import Actor
from orderhub.core.audit_verify import verify
from orderhub.core.canonical import canonical_json, sha256_hex
from orderhub.core.models import AuditEvent
from orderhub.orders import services
from orderhub.orders.models import Order
from tests.conftest import order_input

from . import tamper


def _history(company, n=3):
    a = company["actors"]
    orders = []
    for _ in range(n):
        order = services.order_create(data=order_input(), actor=a["sales"]).order
        services.order_transition(order=order, to="scheduled", actor=a["service"])
        services.order_hold(order=order, actor=a["finance"], reason="核对税号")
        orders.append(order)
    return orders


@pytest.mark.smoke
@pytest.mark.django_db
def test_intact_history_verifies_and_every_event_is_sealed_with_the_audit_key(company, capsys, settings):
    orders = _history(company)
    report = verify()
    assert report.ok and report.events >= 9 and report.legacy_events == 0
    kid, key = audit.current_key()
    assert kid == hashlib.sha256(settings.ORDERHUB_AUDIT_KEY.encode()).hexdigest()[:8]
    evs = tamper.events(orders[0])
    assert [e.seq for e in evs] == [1, 2, 3] and {e.key_id for e in evs} == {kid}
    text = canonical_json(audit._hashed_fields(evs[1]))
    assert evs[1].hash == hmac.new(key, text.encode(), "sha256").hexdigest() != sha256_hex(text)
    assert evs[1].prev_hash == evs[0].hash
    call_command("audit", "verify", language="en")
    out = capsys.readouterr().out
    assert "OK: every chain intact" in out and "No valid checkpoint" in out


@pytest.mark.smoke
def test_the_mac_depends_on_the_key_and_no_key_refuses_to_seal(settings):
    actor = Actor.system("t")

    def make(key):
        settings.ORDERHUB_AUDIT_KEY = key
        return audit.build_event(subject_type="x", subject_id=1, head=(0, ""), action="x.made", actor=actor,
                                 at=audit.clock.now().replace(microsecond=0))

    with audit.clock.frozen(audit.clock.now()):
        a, b = make("key-a"), make("key-b")
    assert (a.key_id, b.key_id) == (audit.key_id_of("key-a"), audit.key_id_of("key-b"))
    assert a.hash != b.hash and len(a.hash) == 64
    assert audit.event_seal_matches(a, {a.key_id: b"key-a"}) is True
    assert audit.event_seal_matches(a, {a.key_id: b"key-b"}) is False
    assert audit.event_seal_matches(a, {b.key_id: b"key-b"}) is None   # that key is not configured
    settings.ORDERHUB_AUDIT_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="ORDERHUB_AUDIT_KEY"):
        audit.build_event(subject_type="x", subject_id=1, head=(0, ""), action="x.made", actor=actor)


@pytest.mark.smoke
def test_sealing_an_event_sends_no_query(settings):
    """No database access is allowed here: a query per event would raise."""
    evs = [audit.build_event(subject_type="order", subject_id=i, head=(3, "ab" * 32), action="order.held",
                             actor=Actor.system("t"), changes={"on_hold": [False, True]}) for i in range(50)]
    assert len({e.hash for e in evs}) == 50


@pytest.mark.smoke
@pytest.mark.django_db
def test_a_rotated_key_still_verifies_while_it_is_listed_as_retired(company, settings):
    setup_key = settings.ORDERHUB_AUDIT_KEY   # sealed the company's workflows
    settings.ORDERHUB_AUDIT_KEY = "the-first-key"
    old = _history(company, n=2)
    settings.ORDERHUB_AUDIT_KEY = "the-second-key"
    settings.ORDERHUB_AUDIT_RETIRED_KEYS = [setup_key, "the-first-key"]
    services.order_transition(order=Order.objects.get(pk=old[0].pk), to="pending",
                              actor=company["actors"]["service"], reason="重排")
    assert {e.key_id for e in tamper.events(old[0])} == {audit.key_id_of("the-first-key"),
                                                          audit.key_id_of("the-second-key")}
    assert verify().ok
    settings.ORDERHUB_AUDIT_RETIRED_KEYS = [setup_key]
    findings = verify().findings
    assert {f.kind for f in findings} == {"unknown_key", "snapshot_unknown_key"}
    assert {f.label for f in findings} == {f"订单 {o.number}" for o in old}
    assert all(audit.key_id_of("the-first-key") in f.message for f in findings)


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_events_from_before_keyed_chains_verify_as_a_reported_legacy_segment(company, capsys):
    """An install upgraded from unkeyed chains: its events (ids up to the boundary the migration
    recorded) are checked by SHA-256 and reported as legacy, never counted as keyed; once a
    checkpoint covers them, a legacy event beyond it is a forgery."""
    orders = _history(company, n=2)
    for order in orders:    # as the old code wrote them: plain SHA-256, no key id
        tamper.rewrite_chain(order, key=None, key_id="")
    top = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    # the boundary the migration would have recorded (ids handed out in blocks: some unused); an
    # upsert: a transactional test run before this one flushed the migration's row away
    tamper.run("INSERT INTO core_auditlegacyboundary (\"table\", max_id, recorded_at) "
               "VALUES ('core_auditevent', %s, CURRENT_TIMESTAMP) ON CONFLICT (\"table\") DO UPDATE SET max_id = EXCLUDED.max_id",
               [top + 1000])
    report = verify()
    assert report.ok, report.findings
    assert report.legacy_events >= 6 and report.legacy_subjects >= 2
    call_command("audit", "verify", language="en")
    assert "legacy events" in capsys.readouterr().out
    # new events go on keyed after the legacy ones
    services.order_resume(order=Order.objects.get(pk=orders[0].pk), actor=company["actors"]["finance"])
    assert tamper.events(orders[0])[-1].key_id == audit.current_key()[0]
    assert verify().ok
    # with a checkpoint the legacy events are covered; a legacy-looking event appended after it
    # (its id below the boundary, as a forger would pick) is not
    call_command("audit", "checkpoint")
    assert verify().ok
    last = tamper.events(orders[1])[-1]
    last.seq, last.prev_hash, last.action = last.seq + 1, last.hash, "order.resumed"
    forged = tamper.reseal(last, key=None, key_id="")
    with tamper.attacker() as cur:
        cur.execute("INSERT INTO core_auditevent (id, subject_type, subject_id, seq, at, action, actor_kind, "
                    "actor_id, actor_label, user_agent, request_id, changes, data, reason, forced, prev_hash, "
                    "hash, key_id) SELECT %s, subject_type, subject_id, %s, at, %s, actor_kind, actor_id, "
                    "actor_label, user_agent, request_id, changes, data, reason, forced, %s, %s, '' "
                    "FROM core_auditevent WHERE id = %s",
                    [top + 500, last.seq, last.action, last.prev_hash, forged, last.pk])
        cur.execute("UPDATE orders_order SET audit_seq = %s, audit_head = %s WHERE id = %s",
                    [last.seq, forged, orders[1].pk])
    findings = verify().findings
    assert [(f.kind, f.label) for f in findings] == [("legacy_uncovered", f"订单 {orders[1].number}")]


@pytest.mark.smoke
@pytest.mark.django_db
def test_the_report_names_orders_by_number_in_the_site_language(company, capsys):
    orders = _history(company, n=1)
    Order.objects.filter(pk=orders[0].pk).update(audit_seq=7)   # the head says #7, the chain ends at #3
    with pytest.raises(CommandError, match="1"):
        call_command("audit", "verify")
    out = capsys.readouterr().out
    assert f"订单 {orders[0].number}" in out and "被删除" in out and "#7" in out
    with pytest.raises(CommandError):
        call_command("audit", "verify", language="en")
    assert (f"order {orders[0].number}: the chain ends at event #3 but the order records #7"
            in capsys.readouterr().out)

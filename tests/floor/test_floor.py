"""Shop-floor tickets against PostgreSQL: photos checked for real, the ``floor`` ladder of the
workflow (2 business hours, then the production manager, then the operations director), cause
and fix in the order's history, trigram-served Chinese substring search, similar resolutions
in order, the problem-type list, and the API twins."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from django.db import connection
from django.test import Client
from PIL import Image

from orderhub.core import clock
from orderhub.core.errors import PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.floor import selectors, services
from orderhub.floor.models import FloorTicket, ProblemType
from orderhub.notify.models import Message
from orderhub.orders import events
from orderhub.orders import services as order_services
from orderhub.orders.models import Attachment, EscalationStep
from orderhub.rules.ladders import ladder_fire_due
from tests.conftest import SH, order_input

pytestmark = [pytest.mark.django_db]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def jpeg(w: int = 1200, h: int = 900, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), color).save(out, format="JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def order(company):
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        return order_services.order_create(data=order_input(), actor=company["actors"]["sales"]).order


def _open(company, order, **kw):
    args = {"order": order.number, "problem_type": "size", "severity": "serious",
            "body": "外径尺寸超差0.05", "product": "HSG-100", "actor": company["actors"]["production"]}
    args.update(kw)
    return services.floor_ticket_open(**args)


def test_open_with_a_real_jpeg_keeps_it_as_an_attachment_with_a_thumbnail(company, order):
    photo = jpeg(4000, 3000)
    with clock.frozen(at(2026, 11, 23, 9, 30)):
        floor = _open(company, order, photos=[("IMG_0001.JPG", photo)])
    t = floor.ticket
    assert t.kind == "floor" and t.owner_role == "qc"          # the type's role
    assert t.title == "尺寸超差: 外径尺寸超差0.05"
    (p,) = floor.photos.select_related("attachment")
    assert (p.width, p.height) == (4000, 3000)
    assert p.attachment.order_id == order.pk and p.attachment.content_type == "image/jpeg"
    assert p.attachment.file.read() == photo
    thumb = Image.open(io.BytesIO(bytes(p.thumbnail)))
    assert thumb.format == "PNG" and max(thumb.size) == 320
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk, action=events.TICKET_OPENED).get()
    assert ev.data["problem_type"] == "size" and ev.data["severity"] == "serious"
    assert ev.data["photos"] == ["IMG_0001.jpg"]


@pytest.mark.parametrize("name,content", [
    ("evil.jpg", b"<html><script>alert(1)</script></html>"),
    ("fake.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200),                # a JPEG header and nothing
    ("doc.jpg", b"%PDF-1.4\n1 0 obj<<>>endobj\n"),
])
def test_a_non_image_disguised_as_jpg_is_refused_and_nothing_is_kept(company, order, name, content):
    with pytest.raises(ValidationFailed) as e:
        _open(company, order, photos=[("ok.jpg", jpeg()), (name, content)])
    assert e.value.problems[0].field == "photos"
    assert not FloorTicket.objects.exists() and not Attachment.objects.exists()


def test_size_caps(company, order, monkeypatch):
    from orderhub.floor import images
    monkeypatch.setattr(images, "MAX_PHOTO_BYTES", 10_000)
    with pytest.raises(ValidationFailed, match="8 MB"):
        _open(company, order, photos=[("big.jpg", jpeg(2000, 2000, (1, 2, 3)) + b"\0" * 20_000)])
    with pytest.raises(ValidationFailed) as e:
        _open(company, order, photos=[("a.jpg", b"x")] * 7)
    assert e.value.code == "too_many"


def test_the_deadline_is_two_business_hours_and_the_ladder_climbs(company, order):
    # Monday 11:30: one working half-hour before lunch, then 13:00–14:30
    with clock.frozen(at(2026, 11, 23, 11, 30)):
        floor = _open(company, order, owner_role="production")
    t = floor.ticket
    assert t.owner_role == "production" and t.due_at == at(2026, 11, 23, 14, 30)
    steps = list(EscalationStep.objects.filter(ticket=t).order_by("seq"))
    assert [(s.step, s.fire_at) for s in steps] == [("floor_overdue", at(2026, 11, 23, 14, 30)),
                                                   ("floor_overdue_4h", at(2026, 11, 23, 16, 30))]
    with clock.frozen(at(2026, 11, 23, 14, 29)):
        assert ladder_fire_due() == 0
    with clock.frozen(at(2026, 11, 23, 14, 31)):
        assert ladder_fire_due() == 1
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk,
                                   action=events.ORDER_ESCALATED).last()
    assert ev.data["step"] == "floor_overdue" and ev.data["ticket"] == t.pk
    pm = company["users"]["production_manager"]
    msg = Message.objects.get(event=events.ESCALATION, user_id=pm.pk)
    assert msg.severity == "red"
    with clock.frozen(at(2026, 11, 23, 15, 0)):
        services.floor_ticket_resolve(ticket=t.pk, cause="刀具磨损", fix="更换刀片, 首件复检", actor=company["actors"]["production"])
    steps[1].refresh_from_db()
    assert steps[1].cancelled_at == at(2026, 11, 23, 15, 0)
    with clock.frozen(at(2026, 11, 23, 17, 0)):
        assert ladder_fire_due() == 0


def test_a_workflow_without_the_floor_kind_still_gets_two_business_hours(company):
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        o = order_services.order_create(data=order_input(workflow="T3"), actor=company["actors"]["sales"]).order
        floor = _open(company, o)
    assert floor.ticket.due_at == at(2026, 11, 23, 11, 0)
    assert not EscalationStep.objects.filter(ticket=floor.ticket).exists()


def test_resolution_needs_cause_and_fix_and_only_the_owner_role_and_is_audited(company, order):
    floor = _open(company, order)
    with pytest.raises(ValidationFailed) as e:
        services.floor_ticket_resolve(ticket=floor.pk, cause="刀具磨损", fix=" ", actor=company["actors"]["qc"])
    assert e.value.problems[0].field == "fix"
    with pytest.raises(PermissionDenied):
        services.floor_ticket_resolve(ticket=floor.pk, cause="刀具磨损", fix="换刀", actor=company["actors"]["sales"])
    done = services.floor_ticket_resolve(ticket=floor.pk, cause="刀具磨损", fix="换刀, 首件复检",
                                         actor=company["actors"]["qc"])
    assert done.ticket.status == "resolved" and "刀具磨损" in done.ticket.resolution
    ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk, action=events.TICKET_RESOLVED).get()
    assert ev.data["cause"] == "刀具磨损" and ev.data["fix"] == "换刀, 首件复检"


def _closed(company, order, ptype, body, cause, fix, product="HSG-100"):
    f = _open(company, order, problem_type=ptype, body=body, product=product, owner_role="qc")
    services.floor_ticket_resolve(ticket=f.pk, cause=cause, fix=fix, actor=company["actors"]["qc"])
    return f


def test_the_trigram_index_exists_and_serves_chinese_substrings(company, order):
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'floor_search_trgm'")
        (indexdef,) = cur.fetchone()
    assert "gin_trgm_ops" in indexdef and "upper(search_text)" in indexdef
    a = _closed(company, order, "size", "外径尺寸超差0.05", "刀具磨损", "更换刀片")
    _closed(company, order, "material", "来料表面划伤", "供应商包装不当", "退货并要求加泡棉")
    _open(company, order, body="内孔尺寸偏大")              # open tickets are not in the KB
    sales = company["actors"]["sales"]
    assert [f.pk for f in selectors.kb_search(selectors.KbQuery(text="尺寸"), actor=sales)] == [a.pk]
    assert [f.pk for f in selectors.kb_search(selectors.KbQuery(text="刀片"), actor=sales)] == [a.pk]
    assert len(selectors.kb_search(selectors.KbQuery(text="超差 划伤"), actor=sales)) == 0
    assert len(selectors.kb_search(selectors.KbQuery(problem_type="material"), actor=sales)) == 1
    assert len(selectors.kb_search(selectors.KbQuery(customer="博锐"), actor=sales)) == 2
    assert len(selectors.kb_search(selectors.KbQuery(product="壳体"), actor=sales)) == 2
    assert len(selectors.kb_search(selectors.KbQuery(product="M8X30"), actor=sales)) == 0
    # the planner can use the index for a 3-character pattern
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN SELECT 1 FROM floor_floorticket WHERE UPPER(search_text::text) LIKE UPPER(%s)",
                    ["%尺寸超%"])
        plan = " ".join(r[0] for r in cur.fetchall())
    assert "floor_search_trgm" in plan


def test_similar_resolutions_same_type_and_product_first_then_text(company, order):
    bolt_and_size = _closed(company, order, "size", "螺纹孔位置偏移", "夹具松动", "紧固夹具", product="M8X30")
    size_other_text = _closed(company, order, "size", "长度偏短", "程序坐标错", "改程序")
    size_close_text = _closed(company, order, "size", "外径尺寸超差0.03", "刀具磨损", "换刀")
    other_type_close = _closed(company, order, "machine", "外径尺寸超差 主轴跳动", "主轴轴承坏", "换轴承",
                               product="")
    _closed(company, order, "packing", "纸箱破损", "叉车碰撞", "加护角", product="")   # nothing in common
    found = selectors.similar_resolutions(actor=company["actors"]["production"], problem_type="size",
                                          product="HSG-100", text="外径尺寸超差0.05")
    assert [s.floor.pk for s in found] == [size_close_text.pk, size_other_text.pk, bolt_and_size.pk,
                                          other_type_close.pk]
    assert found[0].same_type and found[0].same_product and found[0].score > found[1].score
    assert not found[2].same_product and not found[3].same_type and found[3].score > 0.1


def test_problem_types_are_configuration_audited_and_admin_only(company):
    types = services.problem_types_data()
    assert [t["name"] for t in types][:6] == ["尺寸超差", "来料不良", "设备故障", "缺料", "图纸错误", "包装错误"]
    with pytest.raises(PermissionDenied):
        services.problem_types_save(types=types, actor=company["actors"]["production"])
    new = [*types[:2], {"code": "burr", "name": "毛刺", "default_role": "production"}]
    out = services.problem_types_save(types=new, actor=company["actors"]["admin"])
    assert [t["code"] for t in out if t["active"]] == ["size", "material", "burr"]
    assert not ProblemType.objects.get(code="packing").active
    with pytest.raises(ValidationFailed):
        services.problem_types_save(types=[{"code": "x", "name": "y", "default_role": "nobody"}],
                                    actor=company["actors"]["admin"])
    assert AuditEvent.objects.filter(subject_type="problem_types", action="problem_types.saved").count() == 1


def _client(role: str) -> Client:
    c = Client()
    assert c.login(username=role, password="pw-" + role)
    return c


def test_the_api_opens_with_photos_searches_and_resolves(company, order):
    c = _client("production")
    resp = c.post("/api/tickets", {"order": order.number, "problem_type": "machine", "severity": "urgent",
                                   "body": "主轴异响", "photos": [io.BytesIO(jpeg()), io.BytesIO(jpeg(10, 10))]},
                  format="multipart")
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["problem_type"] == "machine" and data["owner_role"] == "production" and len(data["photos"]) == 2
    tid, pid = data["id"], data["photos"][0]["id"]
    fake = io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    fake.name = "x.jpg"
    bad = c.post("/api/tickets", {"order": order.number, "problem_type": "machine", "photos": [fake]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "photos"
    thumb = c.get(f"/api/tickets/{tid}/photos/{pid}/thumbnail")
    assert thumb["Content-Type"] == "image/png" and thumb["X-Content-Type-Options"] == "nosniff"
    assert thumb["Content-Disposition"].startswith("attachment;")
    orig = c.get(f"/api/tickets/{tid}/photos/{pid}")
    assert orig["Content-Type"] == "application/octet-stream" and b"".join(orig.streaming_content)[:2] == b"\xff\xd8"
    r = c.post(f"/api/tickets/{tid}/resolve", {"cause": "主轴轴承润滑不足", "fix": "加注润滑脂, 列入点检"},
               content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    kb = _client("sales").get("/api/tickets/knowledge", {"q": "轴承"}).json()
    assert [t["id"] for t in kb] == [tid] and kb[0]["fix"] == "加注润滑脂, 列入点检"
    sim = c.get("/api/tickets/similar", {"problem_type": "machine", "text": "主轴有异响"}).json()
    assert sim[0]["ticket"]["id"] == tid and sim[0]["same_type"]
    types = c.get("/api/tickets/problem-types").json()
    assert types[0]["name"] == "尺寸超差"
    put = _client("admin").put("/api/tickets/problem-types", [*types, {"code": "burr", "name": "毛刺",
                                                                       "default_role": "qc"}],
                               content_type="application/json")
    assert put.status_code == 200 and put.json()[-1]["code"] == "burr"


def test_the_pages_open_resolve_and_search(company, order):
    c = _client("production")
    page = c.get("/tickets/new/", {"q": order.number[-4:]})
    assert order.number in page.content.decode()
    form = c.get("/tickets/new/", {"order": order.number}).content.decode()
    assert 'capture="environment"' in form and "尺寸超差" in form
    bad = io.BytesIO(b"GIF89a not really")
    bad.name = "x.jpg"
    r = c.post("/tickets/new/", {"order": order.number, "problem_type": "size", "severity": "normal",
                                 "body": "外径尺寸超差", "photos": [bad]})
    assert r.status_code == 422 and "不是图片" in r.content.decode()
    photo = io.BytesIO(jpeg())
    photo.name = "p.jpg"
    r = c.post("/tickets/new/", {"order": order.number, "problem_type": "machine", "severity": "normal",
                                 "body": "主轴异响", "photos": [photo]})
    assert r.status_code == 302
    floor = FloorTicket.objects.get()
    detail = c.get(r["Location"]).content.decode()
    assert "设备故障" in detail and f"/tickets/{floor.pk}/photos/" in detail
    r = c.post(f"/tickets/{floor.pk}/resolve", {"cause": "轴承缺油", "fix": "加油"})
    floor.ticket.refresh_from_db()
    assert floor.ticket.status == "resolved"
    kb = c.get("/tickets/knowledge/", {"q": "缺油"}).content.decode()
    assert "轴承缺油" in kb and "加油" in kb


def test_search_terms_with_control_characters_are_answered_not_crashed(company, order):
    _closed(company, order, "size", "外径尺寸超差", "刀具磨损", "换刀")
    c = _client("sales")
    assert c.get("/api/tickets/knowledge", {"q": "尺寸\x00"}).status_code == 200
    assert len(c.get("/api/tickets/knowledge", {"q": "尺\x00寸"}).json()) == 1
    assert c.get("/api/tickets/similar", {"text": "\x00", "product": "\x00"}).status_code == 200
    assert c.post("/tickets/new/", {"order": "\x00"}).status_code == 200   # the order search again
    assert c.get("/tickets/knowledge/", {"customer": "\x00"}).status_code < 500


def test_the_ticket_page_names_the_kind_and_insists_on_cause_and_fix(company):
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        o = order_services.order_create(data=order_input(workflow="T3"), actor=company["actors"]["sales"]).order
        floor = _open(company, o, owner_role="qc")
    c = _client("qc")
    page = c.get(f"/tickets/{floor.pk}/").content.decode()
    assert "现场异常" in page and ">floor<" not in page
    c.post(f"/tickets/{floor.pk}/resolve", {"resolution": "已处理"})   # the generic form's field only
    floor.ticket.refresh_from_db()
    assert floor.ticket.status == "open"

"""Intake set up without code (issue 14.1): shipped mappings on a fresh install, channels with
generated secrets that take webhooks at once, nested JSON paths, ISO offsets, customer aliases,
e-mail files from disk, a CLI that fails when nothing was accepted, and name matches below
certainty flagged, never chosen."""

from __future__ import annotations

import io
import json
import time
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from orderhub.catalog.models import Customer
from orderhub.core import signing
from orderhub.core.errors import Conflict, ValidationFailed
from orderhub.intake import services
from orderhub.intake.models import Alias, Channel, ConfigVersion, Draft, InboundMessage
from orderhub.intake.services.channels import (
    channel_create,
    channel_secret_rotate,
    customer_aliases_set,
)
from orderhub.intake.services.config import config_install_missing
from orderhub.intake.trial import mapping_trial
from orderhub.intake.values import parse_path, resolve_path
from orderhub.orders.models import Order

from .conftest import SAMPLES, sample
from .test_cli_and_crash import taobao_csv

pytestmark = pytest.mark.django_db


def _post(channel: str, body: bytes, secret: str):
    ts = str(int(time.time()))
    return Client().post(f"/api/intake/{channel}", data=body, content_type="application/json",
                         headers={"X-OrderHub-Timestamp": ts, "X-OrderHub-Signature": signing.sign(secret, ts, body)})


NESTED = {
    "kind": "mapping", "code": "shop", "name": "商城", "format": "json", "lines_from": "data.goods",
    "order": {
        "external_ref": {"from": "data.no", "required": True},
        "customer": {"from": "buyer.open_id", "transforms": [{"lookup": {"kind": "customer", "by": ["openid"]}}]},
        "paid_at": {"from": "data.paid", "transforms": [{"datetime": ["%Y-%m-%dT%H:%M:%S%z"]}]},
        "remarks": {"from": "data.goods[0].memo"},
    },
    "line": {"sku": {"from": "sku.code", "transforms": [{"lookup": "product"}]},
             "qty": {"from": "n", "transforms": ["number", "positive"]}},
}


def _nested_body(ref="S-1", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") -> bytes:
    return json.dumps({"buyer": {"open_id": openid},
                       "data": {"no": ref, "paid": "2026-02-03T15:12:34+08:00",
                                "goods": [{"sku": {"code": "OIL-FLT-0915"}, "n": 3, "memo": "加急"},
                                          {"sku": {"code": "BRK-PAD-F-2231"}, "n": 2}]}},
                      ensure_ascii=False).encode()


def test_paths_parse_and_resolve():
    assert parse_path("buyer.open_id") == ("buyer", "open_id")
    assert parse_path("items[0].sku") == ("items", 0, "sku")
    for bad in ("", ".a", "a.", "a..b", "a[x]", "[0]", "a[0", "a.[0]"):
        assert parse_path(bad) is None, bad
    data = {"items": [{"sku": "A"}], "b": {"c": None}}
    assert resolve_path(data, ("items", 0, "sku")) == "A"
    assert resolve_path(data, ("items", 3, "sku")) is None
    assert resolve_path(data, ("b", "c", "d")) is None


def test_nested_paths_list_indexes_and_iso_offsets_make_the_order(master, intake_actor):
    version = services.config_save(data=NESTED, actor=intake_actor)
    assert version.version == 1   # %z is accepted on save
    msg = services.inbound_receive(channel="shop", kind="api", payload=_nested_body(), actor=intake_actor)
    msg = services.inbound_process(message=msg, actor=intake_actor)
    assert msg.status == "parsed", msg.errors
    order = Order.objects.get(channel="shop")
    assert order.customer.code == "C0217" and order.remarks.startswith("加急")
    assert sorted((ln.product.sku, ln.qty) for ln in order.lines.all()) == [
        ("BRK-PAD-F-2231", Decimal("2")), ("OIL-FLT-0915", Decimal("3"))]
    paid = msg.links.get().meta["paid_at"]
    assert paid.startswith("2026-02-03T15:12:34") and paid.endswith("+08:00")


def test_an_unknown_nested_customer_is_named_by_its_path(master, intake_actor):
    services.config_save(data=NESTED, actor=intake_actor)
    msg = services.inbound_receive(channel="shop", kind="api", payload=_nested_body(openid="nobody"),
                                   actor=intake_actor)
    msg = services.inbound_process(message=msg, actor=intake_actor)
    assert msg.status == "needs_review"
    assert any(e["field"] == "buyer.open_id" and "nobody" in e["message"] for e in msg.errors), msg.errors


def test_a_bad_path_and_a_bad_offset_format_are_refused_on_save(db, intake_actor):
    bad = json.loads(json.dumps(NESTED))
    bad["order"]["customer"]["from"] = "buyer[x]"
    with pytest.raises(ValidationFailed) as e:
        services.config_save(data=bad, actor=intake_actor)
    assert e.value.problems[0].field == "order.customer.from"
    bad = json.loads(json.dumps(NESTED))
    bad["order"]["paid_at"]["transforms"] = [{"datetime": ["%Y-%m-%dT%H:%M:%S%Q"]}]
    with pytest.raises(ValidationFailed, match="%Q"):
        services.config_save(data=bad, actor=intake_actor)


def test_shipped_mappings_are_installed_once_and_edits_are_kept(db, intake_actor):
    first = config_install_missing(actor=intake_actor)
    codes = {(v.kind, v.code) for v in first}
    assert {("mapping", "miniprogram"), ("mapping", "taobao"), ("email", "default"), ("triage", "default")} <= codes
    assert Channel.objects.filter(code="taobao").exists()
    spec = ConfigVersion.objects.get(kind="mapping", code="taobao", is_current=True).spec
    services.config_save(data={**spec, "name": "我的淘宝店"}, actor=intake_actor)
    assert config_install_missing(actor=intake_actor) == []
    assert ConfigVersion.objects.get(kind="mapping", code="taobao", is_current=True).name == "我的淘宝店"


def test_a_new_channel_takes_webhooks_at_once_and_its_secret_rotates(master, intake_actor):
    channel, secret = channel_create(code="wxshop", name="微信商城", based_on="miniprogram", actor=intake_actor)
    assert len(secret) >= 40 and channel.webhook_secret() == secret
    assert ConfigVersion.objects.get(kind="mapping", code="wxshop").spec["name"] == "微信商城"
    resp = _post("wxshop", sample("miniprogram", "01-paid.json"), secret)
    assert resp.status_code == 202 and resp.json()["status"] == "parsed", resp.content
    new = channel_secret_rotate(code="wxshop", actor=intake_actor)
    assert new != secret
    assert _post("wxshop", sample("miniprogram", "06-unknown-sku.json"), secret).status_code == 401
    assert _post("wxshop", sample("miniprogram", "06-unknown-sku.json"), new).status_code == 202
    with pytest.raises(Conflict):
        channel_create(code="wxshop", name="又一个", based_on="miniprogram", actor=intake_actor)
    with pytest.raises(ValidationFailed) as e:
        channel_create(code="uploads", name="x", based_on="nothing", actor=intake_actor)
    assert {p.field for p in e.value.problems} == {"code", "based_on"}
    with pytest.raises(ValidationFailed) as e:
        channel_create(code="Wx Shop", name="x", based_on="miniprogram", actor=intake_actor)
    assert [(p.code, p.field) for p in e.value.problems] == [("invalid", "code")]
    # a file channel needs no secret
    _ch, none = channel_create(code="tb2", name="淘宝二店", based_on="taobao", actor=intake_actor)
    assert none == ""


def test_customer_aliases_replace_as_a_list_and_refuse_one_held_by_another(master, intake_actor):
    customer_aliases_set(customer="C0451", aliases=[{"value": "恒通紧固", "channel": "taobao"},
                                                    {"value": "恒通紧固件", "channel": ""}], actor=intake_actor)
    assert set(Alias.objects.filter(code="C0451").values_list("channel", "value")) == {
        ("taobao", "恒通紧固"), ("", "恒通紧固件")}
    customer_aliases_set(customer="C0451", aliases=[{"value": "恒通紧固件"}], actor=intake_actor)
    assert list(Alias.objects.filter(code="C0451").values_list("value", flat=True)) == ["恒通紧固件"]
    with pytest.raises(ValidationFailed) as e:
        customer_aliases_set(customer="C0451", aliases=[{"value": "捷达汽配", "channel": "taobao"}],
                             actor=intake_actor)
    assert e.value.problems[0].field == "aliases[0].value" and "C0502" in e.value.problems[0].message


def test_two_customers_of_one_name_go_to_review_never_to_one_of_them(master, intake_actor):
    Customer.objects.create(code="C0999", name="上海浦东汽修连锁(川沙店)", tier="B")
    spec = json.loads(json.dumps(NESTED))
    spec["order"]["customer"] = {"from": "buyer.name", "transforms": [{"lookup": {"kind": "customer", "by": ["name"]}}]}
    services.config_save(data=spec, actor=intake_actor)
    body = json.loads(_nested_body())
    body["buyer"]["name"] = "上海浦东汽修连锁(川沙店)"
    msg = services.inbound_receive(channel="shop", kind="api", payload=json.dumps(body).encode(), actor=intake_actor)
    msg = services.inbound_process(message=msg, actor=intake_actor)
    assert msg.status == "needs_review" and not Order.objects.filter(channel="shop").exists()
    assert msg.errors[0]["code"] == "ambiguous_customer" and "C0217" in msg.errors[0]["message"] \
        and "C0999" in msg.errors[0]["message"]


def test_trial_shows_the_order_and_each_fields_source_without_writing(master, intake_actor):
    out = mapping_trial(spec=NESTED, payload=_nested_body())
    assert out["records"] == 1 and not out["unreadable"]
    item = out["items"][0]
    assert item["order"]["customer"] == "C0217" and item["total"] == "1028.00"
    by_field = {f["field"]: f for f in item["source_fields"]}
    assert by_field["customer"]["source"] == "buyer.open_id"
    assert by_field["customer"]["raw"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert item["source_lines"][0]["fields"][0]["source"] == "data.goods[0].sku.code"
    assert not Order.objects.exists() and not InboundMessage.objects.exists()
    assert not ConfigVersion.objects.filter(code="shop").exists()
    bad = mapping_trial(spec=NESTED, payload=b'{"data": ')
    assert bad["unreadable"] and bad["items"] == []


def _run(*args) -> dict:
    out = io.StringIO()
    call_command("intake", *args, stdout=out)
    return json.loads(out.getvalue())


def test_cli_import_fails_when_nothing_was_accepted(master, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(taobao_csv(3).replace(b"OIL-FLT-0915", b"NOPE-0000"))   # every row an unknown SKU
    with pytest.raises(CommandError, match="Nothing was accepted"):
        _run("import", str(path), "--channel", "taobao")
    with pytest.raises(CommandError, match="--channel"):
        _run("import", str(path))


def test_cli_imports_an_eml_file_from_disk(master, tmp_path):
    path = tmp_path / "po.eml"
    path.write_bytes((SAMPLES / "channels" / "email" / "po-2026-0318.eml").read_bytes())
    out = _run("import", str(path))
    assert out["status"] == "needs_review" and len(out["drafts"]) == 1, out
    draft = Draft.objects.get(pk=out["drafts"][0])
    assert draft.data["customer"] == "C0388"


def test_an_ocr_name_two_customers_carry_is_flagged_not_chosen(master, tmp_path):
    Customer.objects.create(code="C0389", name="无锡华泰汽车部件有限公司", tier="B")
    path = tmp_path / "po.eml"
    path.write_bytes((SAMPLES / "channels" / "email" / "po-2026-0318.eml").read_bytes())
    out = _run("import", str(path))
    draft = Draft.objects.get(pk=out["drafts"][0])
    assert "customer" not in draft.data and "customer" not in draft.confidence
    problem = next(p for p in draft.message.errors if p["field"] == "customer")
    assert problem["code"] == "ambiguous_customer" and "C0388" in problem["message"] \
        and "C0389" in problem["message"]


def test_the_demo_webhook_channel_has_a_secret_that_works_and_stays(master, capsys):
    from orderhub.demo.intake import demo_intake_setup, print_intake

    Customer.objects.filter(code="DY-RETAIL").delete()
    info = demo_intake_setup()
    assert demo_intake_setup() == info   # a restart prints the same secret
    print_intake(info, "127.0.0.1", 8103)
    out = capsys.readouterr().out
    assert info["secret"] in out and "/api/intake/miniprogram" in out and "load-master" in out
    assert _post("miniprogram", sample("miniprogram", "01-paid.json"), info["secret"]).json()["status"] == "parsed"
    assert Customer.objects.filter(code="DY-RETAIL").exists()


def test_a_mapping_saved_without_a_channel_gets_one_with_its_secret(master, intake_actor):
    services.config_save(data=NESTED, actor=intake_actor)
    assert not Channel.objects.filter(code="shop").exists()
    secret = channel_secret_rotate(code="shop", actor=intake_actor)
    assert Channel.objects.get(code="shop").name == "商城"
    assert _post("shop", _nested_body(), secret).json()["status"] == "parsed"

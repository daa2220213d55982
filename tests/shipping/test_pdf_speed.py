"""The first rendering's speed-ups (``core.pdf.tune``, issue 19: a 1,000-line delivery note
in < 2 s): WeasyPrint makes the same document, byte for byte, with them and without them, for
every shipped document and for an admin's template that uses what the shared computed styles
depend on (attributes, ``style``, ``lang``, links, ids, list markers, ``::before`` with
``attr()``, inherited and propagated properties, nested tables); a 1,000-line note keeps every
line in order on a sane number of pages; the garbage collector is left as it was found."""

from __future__ import annotations

import gc
import io
import re
import threading
from decimal import Decimal

import pypdf
import pytest
import weasyprint

from orderhub.core import pdf as core_pdf
from orderhub.shipping import documents
from tests.shipping.test_documents import shipped  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
D = Decimal

# An admin's body with its own stylesheet: what makes two elements' computed styles differ
# (class, id, lang, style attribute, position among siblings, pseudo-elements, inheritance), and
# the pseudo-elements read only for list items and footnotes (a footnote, a ::before displayed as
# a list item, a ::marker with an anchor).
VARIED = """<style>
  .hot { color: #b00; font-weight: bold; } tr:nth-child(3n) td { background: #f4f4f4; }
  td.r { text-align: right; } [lang=en] { font-style: italic; } a { text-decoration: underline; }
  p.note::before { content: "※ " attr(data-tag) " "; color: #666; }
  li::marker { color: #07c; } ol { list-style: decimal; } .big { font-size: 12pt; letter-spacing: 1pt; }
  div.box { border: 1pt dashed #999; padding: 2pt; margin: 2pt 0; } span.u { text-decoration: line-through; }
  span.fn { float: footnote; } ::footnote-call { color: #c00; } div.item::before { display: list-item; content: "项"; }
  div.item::marker { color: #0a0; } h1::marker { anchor: attr(id); }
</style>
<h1 id="top">{{ doc.title }} {{ shipment.number }}</h1>
<p class="note" data-tag="甲">备注一<span class="fn">脚注内容</span></p><div class="item">条目</div><p class="note" data-tag="乙" lang="en">note two</p>
<ol>{% for l in lines %}{% if forloop.counter <= 5 %}<li class="{% cycle '' 'hot' %}">{{ l.sku }}</li>{% endif %}{% endfor %}</ol>
<div class="box big">大字 <span class="u">删除线</span> <a href="https://hub.example/orders/1/">链接</a></div>
<table class="lines"><thead><tr><th>序号</th><th>产品</th><th class="r">数量</th></tr></thead><tbody>
{% for l in lines %}<tr{% if forloop.counter == 7 %} style="color: #0a0"{% endif %}><td>{{ l.no }}</td>
<td{% if forloop.counter|divisibleby:5 %} class="hot"{% endif %}>{{ l.sku }} {{ l.name }}
<table class="info"><tr><td>内</td><td lang="en">inner</td></tr></table></td>
<td class="r">{{ l.qty }} {{ l.unit }}</td></tr>{% endfor %}</tbody></table>
<p style="text-align: right" id="end">共 {{ totals.lines }} 行</p>
"""


@pytest.fixture
def speedups_back():
    yield
    core_pdf.tune(True)


def _lines(n: int) -> dict:
    names = ["传感器壳体", "M8×30 螺栓", "6061铝棒"]
    lines = [{"no": i, "line_no": i, "sku": f"SKU-{i:05d}", "name": names[i % 3], "qty": str(i), "unit": "件",
              "unit_price": "1.00", "amount": "1.00", "remarks": "急" if i % 11 == 0 else ""} for i in range(1, n + 1)]
    return {"order": {"number": "SO-1", "customer": "苏州博锐精工", "customer_code": "C001", "currency": "CNY",
                      "remarks": "", "total": "0.00", "ship_to_contact": "王工", "ship_to_phone": "13800000000",
                      "ship_to_address": "苏州工业园区星湖街 328 号", "required_date": "2026-12-20",
                      "promised_date": "", "created_date": "2026-12-01"},
            "shipment": {"number": "SO-1-F1", "carrier": "顺丰速运", "waybill": "SF1", "packages": 2,
                         "weight_kg": "3.5", "ship_to_contact": "王工", "ship_to_phone": "13800000000",
                         "ship_to_address": "苏州工业园区星湖街 328 号", "shipped_at": "", "created_at": ""},
            "lines": lines, "totals": {"qty": str(n * (n + 1) // 2), "lines": n, "amount": ""}}


def _both(make) -> tuple[bytes, bytes]:
    assert core_pdf.tune(True), f"no speed-ups for WeasyPrint {weasyprint.__version__}"
    fast = make()
    assert not core_pdf.tune(False)
    shipped_as_is = make()
    core_pdf.tune(True)
    return fast, shipped_as_is


def test_every_shipped_document_is_the_same_bytes_with_the_speed_ups(shipped, speedups_back):  # noqa: F811
    order, sh = shipped
    for kind in documents.ORDER_KINDS:
        fast, as_is = _both(lambda kind=kind: documents.render_pdf(
            kind, documents.order_context(order, kind), url=documents.order_url(order.number),
            cache_result=False))
        assert fast == as_is, kind
    for kind in documents.SHIPMENT_KINDS:
        fast, as_is = _both(lambda kind=kind: documents.render_pdf(
            kind, documents.shipment_context(sh, kind), url=documents.order_url(order.number),
            cache_result=False))
        assert fast == as_is, kind


def test_an_admins_template_with_its_own_styles_is_the_same_bytes(speedups_back):
    company = {"name": "苏州精密制造有限公司", "address": "苏州市吴中区金枫路 88 号", "phone": "0512-66668888",
               "logo": ""}
    data = _lines(60)
    fast, as_is = _both(lambda: documents.render_pdf("delivery-note", data, url="https://hub.example/orders/1/",
                                                     company=company, body=VARIED, cache_result=False))
    assert fast == as_is
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(fast)).pages)
    assert "※ 甲 备注一" in text and "删除线" in text and "共 60 行" in text and "脚注内容" in text


def test_a_1000_line_note_made_with_the_speed_ups_has_every_line_in_order_on_sane_pages():
    assert core_pdf.tune()
    data = _lines(1000)
    pdf = documents.render_pdf("delivery-note", data, url="https://hub.example/orders/SO-1/",
                               company={"name": "苏州精密制造有限公司", "address": "", "phone": "", "logo": ""},
                               body=documents.DEFAULTS["delivery-note"], cache_result=False)
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    rows = [ln for page in pages for ln in page.splitlines() if re.fullmatch(r"\d+ SKU-\d{5} .+ \d+ 件(急)?", ln)]
    assert rows == [f"{i} SKU-{i:05d} {ln['name']} {i} 件{ln['remarks']}"   # the remark in its column
                    for i, ln in enumerate(data["lines"], 1)]
    # about 43 rows a page (9 pt text, A4): 24 pages; each page numbered of the total
    assert 20 <= len(pages) <= 30
    for n, page in enumerate(pages, 1):
        assert f"第 {n} 页 / 共 {len(pages)} 页" in page
    assert "苏州精密制造有限公司" in pages[0] and "合计 500500共 1000 行，2 件" in pages[-1]


def test_the_garbage_collector_is_left_as_it_was_found(monkeypatch):
    fonts = core_pdf.font_urls()
    css = documents.CSS % fonts
    seen = []
    real = weasyprint.HTML.write_pdf

    def spying(self, *args, **kwargs):
        seen.append(gc.isenabled())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", spying)
    assert gc.isenabled()
    core_pdf.write_pdf("<p>一</p>", css=css, fonts=fonts)
    assert seen == [False] and gc.isenabled()          # paused while rendering, back on after

    def failing(self, *args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", failing)
    with pytest.raises(RuntimeError):
        core_pdf.write_pdf("<p>二</p>", css=css, fonts=fonts)
    assert gc.isenabled()
    monkeypatch.setattr(weasyprint.HTML, "write_pdf", spying)
    gc.disable()
    try:
        core_pdf.write_pdf("<p>三</p>", css=css, fonts=fonts)
        assert not gc.isenabled()                       # off before: still off
    finally:
        gc.enable()
    # two threads rendering at once: on again only when both are done
    done = []
    threads = [threading.Thread(target=lambda: done.append(core_pdf.write_pdf("<p>四</p>", css=css, fonts=fonts)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 2 and gc.isenabled()


def test_a_rendering_is_freed_at_once_not_left_to_the_collector(monkeypatch, speedups_back):
    """The layout context's, anonymous styles' and tables' cycles are broken once the PDF is
    written: the collection after the rendering finds a small part of what it found before."""
    assert core_pdf.tune(True)
    company = {"name": "苏州精密制造有限公司", "address": "", "phone": "", "logo": ""}
    data = _lines(200)

    def make(url: str) -> bytes:
        return documents.render_pdf("delivery-note", data, url=url, company=company,
                                    body=documents.DEFAULTS["delivery-note"], cache_result=False)

    broken = make("https://hub.example/orders/1/")
    collected_broken = core_pdf._gc_state["collected"]
    monkeypatch.setattr(core_pdf, "_break_cycles", lambda made: made.clear())
    left = make("https://hub.example/orders/1/")
    collected_left = core_pdf._gc_state["collected"]
    assert broken == left
    assert collected_left > 20_000 and collected_broken * 5 < collected_left, (collected_broken, collected_left)
    assert getattr(core_pdf._made, "objects", None) is None      # nothing kept after the rendering

    def failing(self, *args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", failing)
    with pytest.raises(RuntimeError):
        make("https://hub.example/orders/2/")
    assert getattr(core_pdf._made, "objects", None) is None


def test_another_weasyprint_version_renders_as_shipped(monkeypatch, speedups_back):
    from weasyprint.css import StyleFor

    core_pdf.tune(False)
    theirs = StyleFor.set_computed_styles
    monkeypatch.setattr(weasyprint, "__version__", "99.0")
    assert not core_pdf.tune(True)
    assert StyleFor.set_computed_styles is theirs
    monkeypatch.setattr(weasyprint, "__version__", core_pdf.TUNED_VERSIONS[0])
    assert core_pdf.tune() and StyleFor.set_computed_styles is not theirs

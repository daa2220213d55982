"""One table of what people call the names guards and rules use (workflow.labels): every name
has a label, in Chinese, and the web layer reads that table instead of keeping its own copy."""

from pathlib import Path

from django.utils import translation

from orderhub.rules.spec import EVENT_SYMBOLS
from orderhub.web import labels as web_labels
from orderhub.workflow import labels
from orderhub.workflow.spec import LINE_SYMBOLS, ORDER_SYMBOLS

SRC = Path(__file__).resolve().parents[2] / "src" / "orderhub"


def test_every_name_has_one_label_and_web_reads_the_same_table():
    assert set(ORDER_SYMBOLS) == set(labels.SYMBOL_LABELS)
    assert set(LINE_SYMBOLS) - set(ORDER_SYMBOLS) <= set(labels.LINE_LABELS)
    assert set(EVENT_SYMBOLS) == set(labels.EVENT_LABELS)
    assert web_labels.FACT_LABELS is labels.FACT_LABELS
    with translation.override("zh-hans"):
        assert web_labels.fact_label("total") == "订单金额(元)"
        assert web_labels.fact_label("held") == "本次变更挂起了订单"
        for name, label in labels.FACT_LABELS.items():
            assert not str(label).isascii(), name


def test_no_label_string_is_spelt_twice():
    web_source = (SRC / "web" / "labels.py").read_text(encoding="utf-8")
    assert "FACT_LABELS = {" not in web_source
    with translation.override("en"):
        for name in (*labels.SYMBOL_LABELS, *labels.LINE_LABELS, "from_stage", "changed_fields", "added_tags"):
            assert f'"{labels.FACT_LABELS[name]}"' not in web_source, name

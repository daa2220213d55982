"""UI strings are translatable with an English msgid; the Chinese is the zh-hans translation in
django.po. A gettext call in src/orderhub (``_``, ``gettext``, ``gettext_lazy``, ...) and a
template's ``{% translate %}`` / ``{% blocktranslate %}`` must not carry Chinese as the msgid.

Chinese means Han characters and CJK or full-width punctuation (、。「」（）：，); English
typography (“ ” × → ›) is fine. Files not yet converted are listed; the list may only shrink: a
new file with a Chinese msgid fails, and so does a listed file that has none left (delete it)."""

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
GETTEXT = {"gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
TEMPLATE_MSGID = re.compile(
    r"\{%\s*(?:translate|trans)\s+(\"[^\"]*\"|'[^']*')"
    r"|\{%\s*blocktrans(?:late)?\b[^%]*%\}(.*?)\{%\s*endblocktrans(?:late)?\s*%\}", re.S)

# files (relative to src/) whose owners have not converted them yet: a list that may only shrink
NOT_YET_ENGLISH: set[str] = {
    "orderhub/core/pdf.py",
    "orderhub/kpis/report.py",
    "orderhub/kpis/services.py",
    "orderhub/orders/breakers/configure.py",
    "orderhub/orders/breakers/credit.py",
    "orderhub/orders/breakers/stock.py",
    "orderhub/orders/breakers/trips.py",
    "orderhub/orders/services/expiry.py",
    "orderhub/orders/services/lines.py",
    "orderhub/shipping/documents.py",
    "orderhub/web/templates/web/kpi/dashboard.html",
    "orderhub/web/templates/web/kpi/report_setting.html",
    "orderhub/web/views/kpi.py",
}

# English msgids that name the Chinese words a person types (the holiday table's keywords)
QUOTES_INPUT_KEYWORDS = {
    "One entry per line: a date or a range, then 休 (day off) or 班 (make-up workday). For example:",
    "No dates found. Write one entry per line, e.g. 2027-02-06~2027-02-12 休.",
    "Line %(n)s: say whether the days are 休 (off) or 班 (workday).",
}


def _gettext_names(tree: ast.Module) -> set[str]:
    """The local names of django.utils.translation's gettext functions (``_``, ``_lazy``, ...)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
            names |= {a.asname or a.name for a in node.names if a.name in GETTEXT}
    return names


def python_msgids(text: str) -> list[str]:
    tree = ast.parse(text)
    names = _gettext_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            found += [a.value for a in node.args[:3] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return found


def template_msgids(text: str) -> list[str]:
    return [literal[1:-1] if literal else block for literal, block in TEMPLATE_MSGID.findall(text)]


def chinese_msgids(msgids: list[str]) -> list[str]:
    return [m for m in msgids if CHINESE.search(m) and m not in QUOTES_INPUT_KEYWORDS]


def _sources() -> list[tuple[str, list[str]]]:
    """(path relative to src/, its msgids) of every module and template in src/orderhub."""
    out = []
    for path in sorted((SRC / "orderhub").rglob("*")):
        if "migrations" in path.parts or not path.is_file():
            continue
        if path.suffix == ".py":
            msgids = python_msgids(path.read_text(encoding="utf-8"))
        elif path.suffix in (".html", ".txt") and "templates" in path.parts:
            msgids = template_msgids(path.read_text(encoding="utf-8"))
        else:
            continue
        out.append((path.relative_to(SRC).as_posix(), msgids))
    return out


def _scan() -> dict[str, list[str]]:
    return {name: bad for name, msgids in _sources() if (bad := chinese_msgids(msgids))}


def violations(found: dict[str, list[str]], exceptions: set[str]) -> list[str]:
    problems = [f"{name}: {len(bad)} Chinese msgids, e.g. {bad[0]!r}"
                for name, bad in sorted(found.items()) if name not in exceptions]
    problems += [f"{name}: no Chinese msgid left; delete it from NOT_YET_ENGLISH"
                 for name in sorted(exceptions) if name not in found]
    return problems


def test_gettext_msgids_are_english():
    assert violations(_scan(), NOT_YET_ENGLISH) == []


def test_the_scan_sees_python_and_templates():
    sources = dict(_sources())
    assert len([n for n in sources if n.endswith(".py")]) > 50
    assert len([n for n in sources if n.endswith(".html")]) > 20
    assert "Payment promise recorded." in sources["orderhub/web/views/finance.py"]
    assert "Finance workbench" in sources["orderhub/web/templates/web/finance/home.html"]


def test_python_msgids_follow_the_import_names():
    text = ("from django.utils.translation import gettext as _, gettext_lazy as _lazy\n"
            "A = _lazy('状态')\nB = _('Saved.')\nC = print('未翻译')\n"
            "def f():\n    return _('第 %(n)s 行') % {'n': 1}\n")
    assert chinese_msgids(python_msgids(text)) == ["状态", "第 %(n)s 行"]


def test_template_msgids_cover_both_tags():
    text = ('{% translate "Status" %}{% translate \'状态\' %}{% trans "保存" as s %}'
            "{% blocktranslate with n=1 %}{{ n }} 天{% endblocktranslate %}"
            "{% blocktrans count n=2 %}{{ n }} day{% plural %}{{ n }} days{% endblocktrans %}")
    assert chinese_msgids(template_msgids(text)) == ["状态", "保存", "{{ n }} 天"]


@pytest.mark.parametrize(
    ("found", "exceptions", "expected"),
    [
        ({"a.py": ["状态"]}, set(), ["a.py: 1 Chinese msgids, e.g. '状态'"]),
        ({"a.py": ["状态", "天"]}, {"a.py"}, []),
        ({}, {"a.py"}, ["a.py: no Chinese msgid left; delete it from NOT_YET_ENGLISH"]),
    ],
)
def test_the_check_itself(found, exceptions, expected):
    assert violations(found, exceptions) == expected

"""What a user must never read on a page: internal codes, `None`, machine timestamps.

Shared by the crawl test; kept in one place so a new leak pattern is added once.
"""

from __future__ import annotations

import re

# snake_case identifiers (stage codes, report keys, field names): two or more lowercase words
SNAKE = re.compile(r"(?<![\w./@-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@.-])")
# dotted event types such as order.created, stage.entered (not file names or hosts)
DOTTED = re.compile(r"(?<![\w./@-])[a-z]+(?:_[a-z]+)*\.[a-z]+(?:_[a-z]+)*(?![\w./@-])")
NONE = re.compile(r"(?<![\w])(None|True|False|null|undefined|nan|NaN)(?![\w])")
# ISO 8601 timestamps: a T between date and time, microseconds, or a UTC offset
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}:\d{2}\.\d{3,}|\d{2}:\d{2}(?::\d{2})?(?:\+|-)\d{2}:\d{2}")
# words a user may legitimately read that look like code: file extensions, domains, hosts
ALLOWED_DOTTED = {"example.com", "example.net", "example.org"}
FILE_EXT = re.compile(r"\.(xlsx|xls|csv|pdf|eml|json|txt|png|jpg|jpeg|zip|yaml|yml|com|cn|net|org)$")


# on a Chinese page a lone lowercase English word is a code (stage `pending`, channel `wechat`);
# these are units and names a Chinese user reads as they are
LATIN_WORD = re.compile(r"(?<![\w./@:-])[a-z]{3,}(?![\w@-]|\.\w)")   # not a file name
ALLOWED_WORDS = {"pcs", "set", "kgs"}


# The text a person reads on the page: the body's rendered text plus placeholders and
# tooltips, without what is shown *as code* on purpose (an expression in <code>, a template's
# source, a YAML editor, an audit hash): those are for the administrator who writes them.
VISIBLE_TEXT_JS = """() => {
  let text = document.body.innerText;
  for (const el of document.querySelectorAll('code, pre, textarea, .hash')) {
    const t = el.innerText;
    if (t) text = text.replace(t, ' ');
  }
  const extra = [];
  for (const el of document.querySelectorAll('[placeholder], [title]')) {
    if (el.closest('code, pre') || el.classList.contains('font-monospace')) continue;
    extra.push(el.getAttribute('placeholder') || '', el.getAttribute('title') || '');
  }
  return text + '\\n' + extra.join('\\n');
}"""


def offending_tokens(text: str, *, chinese: bool = True, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Every code-like token in visible text, in order of appearance (duplicates kept once).
    ``allowed``: words that are data, not codes (the user names people log in with)."""
    found: list[str] = []
    patterns = (SNAKE, DOTTED, NONE, ISO) + ((LATIN_WORD,) if chinese else ())
    for pattern in patterns:
        for match in pattern.finditer(text):
            token = match.group(0)
            if pattern is DOTTED and (token in ALLOWED_DOTTED or FILE_EXT.search(token)):
                continue
            if (pattern is LATIN_WORD and token in ALLOWED_WORDS) or token in allowed:
                continue
            if token not in found:
                found.append(token)
    return found


def route_key_simple(path: str) -> str:
    """One visit per kind of page: ids and order numbers collapse to N (board codes such as
    T1 stay distinct)."""
    return re.sub(r"[A-Za-z]*-?\d{2,}[\w-]*", "N", path)

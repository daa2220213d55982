"""Rules for text that enters and leaves the system.

In: what the database can store (no NUL, which PostgreSQL refuses; no lone surrogates, which are
not encodable as UTF-8), and no control characters (C0, DEL and C1; multi-line fields may hold
tab, line feed and carriage return). Entry points refuse such text naming the field.

Out: what a file format can hold. Text already stored (before these rules, or written by a
path that skipped them) must never crash a page or an export: ``xml_safe`` replaces what XML 1.0
cannot carry, and ``spreadsheet_text`` tells which cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model
from django.utils.translation import gettext as _

# every C0 control, DEL and every C1 control, and lone surrogates (one scan finds any fault)
_NOT_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# the same, less tab, line feed and carriage return (allowed in multi-line fields)
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# what XML 1.0 cannot hold: C0 controls other than tab/LF/CR, lone surrogates, U+FFFE and U+FFFF
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# a spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"


def unstorable(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_fault(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` may not be stored as text, in words for the person who typed it, or None."""
    found = (_NOT_TEXT if multiline else _NOT_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00" or "\ud800" <= char <= "\udfff":
        return _("Text may not contain NUL or invalid characters.")
    return _("Text may not contain control characters (found U+%(code)04X).") % {"code": ord(char)}


def column_fault(model: type[Model], name: str, value: Any, *, multiline: bool = False) -> str | None:
    """Why the column ``model.name`` cannot hold ``value`` (text too long for it, a number
    beyond its digits, an invalid e-mail, text with control characters), in the user's language
    from the model field's own validators, or None: services call it before saving, so a form
    value gets a message under its field instead of a database error (a 500)."""
    if isinstance(value, str):
        fault = text_fault(value, multiline=multiline)
        if fault:
            return fault
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if value is None or value == "" or not field.concrete or field.is_relation:
        return None
    try:
        field.run_validators(value)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


def xml_safe(value: str) -> str:
    """``value`` with every character XML 1.0 cannot hold replaced by U+FFFD (the last line of
    defence of exports: text stored before the input rules must not crash them)."""
    return _NOT_XML.sub(REPLACEMENT, value)


def is_formula_like(value: str) -> bool:
    """A spreadsheet would read this text as a formula (or strip its first character)."""
    return value.startswith(FORMULA_PREFIXES)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few lines of ``*a`` referring to each other expand
    into billions of nodes once the data is walked (the YAML "billion laughs")."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """YAML a person typed (a workflow, rule actions), as data. Every fault, including those
    PyYAML lets through as other exceptions (``2026-02-30`` read as a date, nesting too deep),
    is a ``yaml.YAMLError`` for the page to show under the field."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        raise
    except (ValueError, OverflowError, RecursionError) as exc:
        raise yaml.YAMLError(str(exc) or type(exc).__name__) from None


def yaml_fault(exc: yaml.YAMLError) -> tuple[str, str]:
    """Where a YAML fault is (``line N``, or "" when PyYAML does not say) and what it is, in
    the user's language, for an editor to show beside the text."""
    mark = getattr(exc, "problem_mark", None)
    where = _("line %(line)d") % {"line": mark.line + 1} if mark else ""
    return where, _("Not valid YAML: %(problem)s") % {"problem": getattr(exc, "problem", None) or str(exc)}

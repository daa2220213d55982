"""Event types are constants owned by the app that emits them (``<app>/events.py``); no other
module of ``src/`` spells one as a string, so a renamed or mistyped event cannot drift apart
between the emitter and what matches on it (subscribers, rules, ladders, templates, pages)."""

import ast
import importlib
import io
import re
import tokenize
from pathlib import Path

from django.utils import translation

import orderhub
from orderhub.core.permissions import CAPABILITIES
from orderhub.orders import events

SRC = Path(orderhub.__file__).parent
EVENT_MODULES = sorted(p for p in SRC.glob("*/events.py"))
# a literal with an event type's spelling that means something else
ALLOWED = {("rules/ladders.py", "escalation"),        # the name of the system actor rungs fire as
           ("web/labels.py", "escalation"),           # that actor's label
           ("web/views/workflow_form.py", "escalation"),  # a stage's ladder key in a workflow spec
           ("intake/spec.py", "order.customer"),      # a field path in an intake mapping
           ("intake/tasks.py", "intake.prune_refused"),   # periodic jobs' names
           ("intake/tasks.py", "intake.resume_stalled")}
# the families of event types the events modules own: a new one spelt elsewhere is caught too
FAMILY = re.compile(r"^(order|ticket|stage|intake|export|rule)\.[a-z_]+$")
PERMISSION = re.compile(r"^[a-z]+\.(add|change|delete|view)_[a-z]+$")
HTML_LITERAL = re.compile(r"""(['"])([a-z_]+(?:\.[a-z_]+)?)\1""")


def _owned() -> dict[str, str]:
    owner: dict[str, str] = {}
    for path in EVENT_MODULES:
        module = importlib.import_module(f"orderhub.{path.parent.name}.events")
        for value in module.ALL:
            assert value not in owner, f"{value!r} is owned by {owner[value]} and {path.parent.name}"
            owner[value] = path.parent.name
    return owner


def _string_literals(source: bytes):
    """(line, value) of every plain string literal of Python source (not f-strings, comments)."""
    for tok in tokenize.tokenize(io.BytesIO(source).readline):
        if tok.type != tokenize.STRING or tok.string.lstrip("rbuRBU")[:1] not in "'\"":
            continue
        try:
            value = ast.literal_eval(tok.string)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, str):
            yield tok.start[0], value


def _violations(owned: dict[str, str], files: dict[str, bytes]) -> list[str]:
    """``files``: path under src/ → content."""
    found = []
    for rel, content in files.items():
        if rel.endswith(".py"):
            literals = _string_literals(content)
        else:
            text = content.decode()
            literals = ((text.count("\n", 0, m.start()) + 1, m.group(2)) for m in HTML_LITERAL.finditer(text))
        for line, value in literals:
            # capability codes (core.permissions) share the spelling: "intake.view"
            if (rel, value) in ALLOWED or PERMISSION.match(value) or value in CAPABILITIES:
                continue
            if value in owned or FAMILY.match(value):
                found.append(f"{rel}:{line}: {value!r}" + (f" (use {owned[value]}.events)" if value in owned else ""))
    return found


def _sources() -> dict[str, bytes]:
    """Python modules and templates of src/, but the events modules and migrations."""
    return {path.relative_to(SRC).as_posix(): path.read_bytes() for path in sorted(SRC.rglob("*"))
            if path.suffix in (".py", ".html") and "migrations" not in path.parts and path not in EVENT_MODULES}


def test_every_event_type_has_one_owner_and_the_modules_list_them():
    owned = _owned()
    assert {"orders", "intake", "notify", "rules"} <= set(owned.values())
    assert owned[events.ORDER_CREATED] == "orders" and owned["intake.triage"] == "intake"
    # every string constant of an events module is one of its listed types (or its subject)
    for path in EVENT_MODULES:
        module = importlib.import_module(f"orderhub.{path.parent.name}.events")
        constants = {k: v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}
        assert set(constants.values()) - set(module.ALL) <= {"inbound", "intake_triage", ""}, path   # subjects, GENESIS


def test_no_event_type_is_spelt_outside_its_events_module():
    owned = _owned()
    found = _violations(owned, _sources())
    assert not found, "event types spelt outside their events module:\n" + "\n".join(found)


def test_the_scan_finds_what_it_is_for():
    found = _violations(_owned(), {
        "x/bad.py": b'X = "order.created"  # "order.held" in a comment is fine\n'
                    b'Y = "stage.exploded"\nZ = f"order.created:{1}"\nP = "intake.change_configversion"\n'
                    b'"""A docstring naming ``order.created`` is fine."""\nE = "escalation"\n',
        "rules/ladders.py": b'ESCALATION_ACTOR = "escalation"\n',
        "x/bad.html": b"<p>\n{% if e.action == 'order.blocked' %}{% endif %}</p>",
    })
    assert found == ["x/bad.py:1: 'order.created' (use orders.events)", "x/bad.py:2: 'stage.exploded'",
                     "x/bad.py:6: 'escalation' (use orders.events)",
                     "x/bad.html:2: 'order.blocked' (use orders.events)"]


def test_every_history_event_has_a_chinese_label():
    from orderhub.web.templatetags.orderhub_ui import action_label, is_blocked_move

    with translation.override("zh-hans"):
        labels = {t: action_label(t) for t in events.HISTORY}
    assert all(label != t and not label.isascii() for t, label in labels.items()), labels
    assert is_blocked_move(events.ORDER_BLOCKED) and not is_blocked_move(events.ORDER_HELD)

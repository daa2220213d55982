"""HTML to PDF with WeasyPrint, shared by the printed documents (``shipping.documents``) and the
daily report (``kpis.report``).

- **Font.** The project's CJK font (Noto Sans SC, regular and bold, copied by ``make assets`` to
  ``ORDERHUB_PDF_FONT_DIR``) is declared by ``@font-face`` with its file URL (``font_urls``); no
  system font. Missing: ``PdfFontMissing`` (409 ``font_missing``, "请运行 make assets").
- **Fetching.** The renderer's URL fetcher (``fetcher``) serves only the font files and inline
  ``data:`` URLs, so an HTML body (an admin's template) cannot make the server call out.
- **Made once.** With ``cache=True`` the PDF is kept (Django's cache: Redis in production) under
  the SHA-256 of everything it is made of: the HTML, the stylesheet, the font files (size and
  time) and the WeasyPrint version. The same document asked for again (printed twice, printed
  then attached to the notice) is served from there; any change to its data, template,
  letterhead or date is another key, so a stale PDF is never served.
- **Once per process.** ``write_pdf(html, css=)`` takes the page's stylesheet apart from the body:
  the stylesheet is parsed and its fonts loaded once per (thread, stylesheet text) and reused
  (WeasyPrint's ``FontConfiguration`` and ``CSS`` objects), instead of once per document.
- **Speed of a first rendering** (a 1,000-line delivery note, issue 19): WeasyPrint's work is
  per box (about 0.4 ms per table cell with text), and overheads on top of it are removed
  here without changing a byte of the PDF (``tune``, installed on first use, only for the
  WeasyPrint versions in ``TUNED_VERSIONS``; ``tests/shipping/test_pdf_speed.py`` compares the
  bytes with WeasyPrint as shipped):

  * *computed styles shared*: elements with the same parent style, tag, attributes and matched
    declarations (the 4,000 cells of a long table) have the same computed style; it is computed
    once per such class and copied, instead of property by property for every element (each
    element keeps its own copy: WeasyPrint edits some in place); the same for the anonymous
    boxes' styles (lines, runs of text) per parent class;
  * *no cyclic garbage collection while a document is made*: the renderer makes hundreds of
    thousands of objects that live until it ends, and Python's collector walked the whole heap
    again and again; it is paused for the rendering and the young generations collected once
    after it (counted in the rendering's time);
  * *the rendering freed at once*: three kinds of reference cycle (the layout context's image
    getter, every anonymous style's ``specified``, each laid-out table's columns' ``get_cells``)
    held nearly all of a rendering's objects (440,000 after 1,000 lines), so the collection after
    it walked them all (0.25–0.35 s); they are broken once the PDF is written (``_break_cycles``)
    and reference counting frees them (the collection then finds about 16,000: the HTML parser's);
  * four small functions WeasyPrint calls hundreds of thousands of times (``check_math``,
    ``get_color``, ``percentage``, ``resolve_one_percentage``) answer the common case first, the
    initial colours are parsed once, not once per box, and a colour's sRGB coordinates are
    converted once, not at every border line and run of text (``Stream.set_color``).
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import sys
import threading
from contextlib import contextmanager, nullcontext
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from orderhub.core.errors import DomainError

__all__ = ["CACHE_SECONDS", "FONT_FILES", "TUNED_VERSIONS", "PdfFontMissing", "fetcher", "font_urls", "tune",
           "write_pdf"]

CACHE_SECONDS = 2 * 24 * 3600   # a document printed again (or attached) within two days
CACHE_MAX_BYTES = 8 * 1024 * 1024
FONT_FILES = {"normal": "NotoSansSC_400Regular.ttf", "bold": "NotoSansSC_700Bold.ttf"}


class PdfFontMissing(DomainError):
    """The CJK font is not installed (``make assets`` not run): 409 with the reason."""

    status = 409


def font_urls() -> dict[str, str]:
    """The font files' ``file:`` URLs by weight (``normal``, ``bold``), for ``@font-face``."""
    out = {}
    for weight, name in FONT_FILES.items():
        path = settings.ORDERHUB_PDF_FONT_DIR / name
        if not path.is_file():
            raise PdfFontMissing("font_missing", _("缺少打印用的中文字体 %(f)s：请运行 make assets。") % {"f": name})
        out[weight] = path.resolve().as_uri()
    return out


def fetcher(allowed: set[str]) -> Any:
    """WeasyPrint's fetcher limited to ``allowed`` (the font files) and ``data:`` URLs: a
    template's ``<img src="http://…">`` or ``file:///etc/…`` fetches nothing."""
    from weasyprint.urls import URLFetcher

    tune()   # the daily report renders with this fetcher: it gets the speed-ups too

    class OnlyOurs(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url in allowed or url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError("only the project's font and inline images are fetched")

    return OnlyOurs(allowed_protocols=("file", "data"), allow_redirects=False)


_local = threading.local()
atexit.register(_local.__dict__.clear)   # font configurations gone before the interpreter is


def _cache_key(html: str, css: str, fonts: dict[str, str]) -> str:
    import weasyprint

    h = hashlib.sha256(f"{weasyprint.__version__}\0{css}\0".encode())
    for weight in sorted(fonts):
        st = (settings.ORDERHUB_PDF_FONT_DIR / FONT_FILES[weight]).stat()
        h.update(f"{fonts[weight]}:{st.st_size}:{st.st_mtime_ns}\0".encode())
    h.update(html.encode())
    return f"pdf:{h.hexdigest()}"


def _stylesheet(css: str, allowed: frozenset[str]) -> tuple[Any, Any, Any]:
    """(font configuration, parsed stylesheet, fetcher) for ``css``, made once per thread.
    Per thread: a WeasyPrint font configuration is not shared between threads."""
    cache: dict[tuple[str, frozenset[str]], tuple[Any, Any, Any]] = _local.__dict__.setdefault("sheets", {})
    key = (css, allowed)
    hit = cache.get(key)
    if hit is None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        fetch = fetcher(set(allowed))
        font_config = FontConfiguration()
        sheet = CSS(string=css, font_config=font_config, url_fetcher=fetch, base_url="/")
        if len(cache) >= 8:   # a few stylesheets (documents, report); never grows without bound
            cache.clear()
        hit = cache[key] = (font_config, sheet, fetch)
    return hit


def write_pdf(html: str, *, css: str, fonts: dict[str, str], cache_result: bool = False) -> bytes:
    """``html`` (a document without its stylesheet) with the stylesheet ``css`` as PDF bytes;
    ``fonts`` (``font_urls()``) are the only files the renderer may read. ``cache_result``:
    served from / kept in the cache (see the module's text)."""
    from weasyprint import HTML

    key = _cache_key(html, css, fonts) if cache_result else ""
    if key and isinstance(hit := cache.get(key), bytes):
        return hit
    tuned = tune()
    font_config, sheet, fetch = _stylesheet(css, frozenset(fonts.values()))
    with _collector_paused() if tuned else nullcontext():
        doc = HTML(string=html, url_fetcher=fetch, base_url="/")
        with _cycles_broken() if tuned else nullcontext():
            out = bytes(doc.write_pdf(stylesheets=[sheet], font_config=font_config))
    if key and len(out) <= CACHE_MAX_BYTES:
        cache.set(key, out, CACHE_SECONDS)
    return out


# --------------------------------------------------------------------------- speed (see the module's text)

TUNED_VERSIONS = ("68.1",)   # checked byte for byte (tests/shipping/test_pdf_speed.py); another: as shipped
_tune_lock = threading.Lock()
_swaps: list[tuple[Any, str, Any, Any]] = []   # (class or None, name, WeasyPrint's, ours) installed
_tuning = {"on": True}
_gc_lock = threading.Lock()
_gc_state = {"renders": 0, "was_enabled": False, "collected": 0}
_made = threading.local()   # .objects: the layout contexts and renderings made in this thread's write_pdf


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off while a document is made (by any thread), back on
    after the last one, then one collection of the young generations (the rendering's garbage)."""
    with _gc_lock:
        if _gc_state["renders"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["renders"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["renders"] -= 1
            last = _gc_state["renders"] == 0
            if last and _gc_state["was_enabled"]:
                gc.enable()
        if last:
            _gc_state["collected"] = gc.collect(1)


@contextmanager
def _cycles_broken():
    """The layout context and the rendering WeasyPrint makes inside (recorded by the wrapped
    ``Document._build_layout_context`` and ``Document._render``) have their reference cycles
    broken once the PDF is written, so that reference counting frees them at once and the
    collection after the rendering has little left to walk (see ``_break_cycles``)."""
    previous = getattr(_made, "objects", None)
    made: list[Any] = []
    _made.objects = made
    try:
        yield
    finally:
        _made.objects = previous
        _break_cycles(made)


def _break_cycles(made: list[Any]) -> None:
    """After the PDF is written (nothing reads these objects again): the three kinds of cycle
    that held nearly all of a rendering's objects (440,000 after 1,000 lines, left to the cyclic
    collector): the layout context's ``get_image_from_uri`` (a partial holding the context), every
    anonymous style's ``specified`` (itself; listed in the document's style cache as they are
    made) and each laid-out table's columns' ``get_cells`` (a closure holding the table)."""
    from weasyprint.formatting_structure.boxes import TableBox

    for obj in made:
        style_for = getattr(obj, "style_for", None)
        if style_for is not None:                       # the layout context
            for style in style_for.get_computed_styles().values():
                for anonymous in style.cache.pop("orderhub_anonymous_made", ()):
                    anonymous.specified = None
                break                                   # one cache per document
            obj.get_image_from_uri = None
        for page in getattr(obj, "pages", ()):          # the rendering
            for box in page._page_box.descendants():
                if isinstance(box, TableBox):
                    for group in box.column_groups:
                        for column in group.children:
                            column.__dict__.pop("get_cells", None)
    made.clear()


def tune(on: bool | None = None) -> bool:
    """Install WeasyPrint's speed-ups once per process (what ``write_pdf`` and ``fetcher`` call).
    ``on=False`` takes them out and keeps them out, ``on=True`` puts them back (the byte-for-byte
    test and the bench compare both). Installed only for ``TUNED_VERSIONS``; True when installed
    (then ``write_pdf`` also pauses the garbage collector while it renders)."""
    import weasyprint

    with _tune_lock:
        if on is not None:
            _tuning["on"] = on
        if not _tuning["on"]:
            for owner, name, theirs, ours in _swaps:
                _replace(owner, name, ours, theirs)
            _swaps.clear()
        elif not _swaps and weasyprint.__version__ in TUNED_VERSIONS:
            for owner, name, theirs, ours in _speedups():
                _replace(owner, name, theirs, ours)
                _swaps.append((owner, name, theirs, ours))
        return bool(_swaps)


def _replace(owner: Any, name: str, old: Any, new: Any) -> None:
    """``new`` for ``old``: a method of class ``owner``, or (``owner`` None) a function wherever a
    loaded WeasyPrint module holds it under ``name`` (a module that imported it by name has its
    own reference) and as a property's computing function."""
    import weasyprint.document  # noqa: F401 - every module that holds one loaded
    from weasyprint.css.computed_values import COMPUTER_FUNCTIONS

    if owner is not None:
        setattr(owner, name, new)
        return
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("weasyprint") and getattr(mod, name, None) is old:
            setattr(mod, name, new)
    for key, fn in list(COMPUTER_FUNCTIONS.items()):
        if fn is old:
            COMPUTER_FUNCTIONS[key] = new


def _speedups() -> list[tuple[Any, str, Any, Any]]:
    from weasyprint.css import AnonymousStyle, StyleFor, computed_values, functions
    from weasyprint.document import Document
    from weasyprint.draw import color as draw_color
    from weasyprint.layout import percent
    from weasyprint.pdf.stream import Stream

    document = Document.__dict__
    return [(Document, "_build_layout_context", document["_build_layout_context"],
             _recorded(document["_build_layout_context"])),
            (Document, "_render", document["_render"], _recorded(document["_render"])),
            (StyleFor, "set_computed_styles", StyleFor.set_computed_styles,
             _shared_styles(StyleFor.set_computed_styles)),
            (AnonymousStyle, "__init__", AnonymousStyle.__init__, _shared_anonymous(AnonymousStyle.__init__)),
            (None, "check_math", functions.check_math, _check_math(functions.check_math)),
            (None, "color", computed_values.color, _initial_colors(computed_values.color)),
            (None, "get_color", draw_color.get_color, _get_color(draw_color.get_color)),
            (None, "percentage", percent.percentage, _percentage(percent.percentage)),
            (None, "resolve_one_percentage", percent.resolve_one_percentage,
             _one_percentage(percent.resolve_one_percentage)),
            (Stream, "set_color", Stream.set_color, _converted_colors(Stream.set_color))]


def _shared_styles(original: Any) -> Any:
    """``StyleFor.set_computed_styles`` that, after WeasyPrint's own, gives an element the values
    already computed for its class: the same parent class, tag, attributes (the
    values that read attributes: ``lang``, ``link``, ``anchor``, ``attr()``) and the same matched
    declarations (by identity: a ``style`` attribute's are its own). The first element of a class
    computes every property; the others copy them (and the specified position, float, display).
    Pages and pseudo-elements are left as WeasyPrint makes them, but for the ``::marker`` and two
    footnote ones its stylesheet gives every element (15,000 styles for 1,000 lines): WeasyPrint
    reads those only for a list item (or an element whose ``::before``/``::after`` has a style: it
    may be one) and a footnote (``float: footnote``), so for any other element they are not made
    (``_pseudo_unread``; one that sets ``anchor`` is made, its anchor is collected)."""
    from weasyprint.css.properties import INITIAL_VALUES

    names = tuple(INITIAL_VALUES)

    def set_computed_styles(self: Any, element: Any, parent: Any, root: Any = None, pseudo_type: Any = None,
                            base_url: Any = None, target_collector: Any = None) -> None:
        if pseudo_type in _PSEUDO_READ_IF and _pseudo_unread(self, element, pseudo_type):
            return
        original(self, element, parent, root=root, pseudo_type=pseudo_type, base_url=base_url,
                 target_collector=target_collector)
        attrib = getattr(element, "attrib", None)
        if pseudo_type is not None or type(attrib) is not dict:
            return
        style = self.get_computed_styles()[element, pseudo_type]
        classes = self.__dict__.setdefault("_orderhub_classes", {})
        if style.parent_style is None:     # the root: a class of its own
            style._orderhub_class = len(classes)
            classes[("root", len(classes))] = None
            return
        parent_class = getattr(style.parent_style, "_orderhub_class", None)
        if parent_class is None:
            return
        key = (parent_class, element.tag, tuple(attrib.items()),
               tuple([(name, id(value[0])) for name, value in style.cascaded.items()]))
        known = classes.get(key, False)
        if known is False:
            try:
                for name in names:
                    style[name]
            except Exception:  # noqa: BLE001 - left to WeasyPrint, which says what when it needs it
                classes[key] = None
                return
            # the cascaded declarations are kept so that the ids in the key stay theirs
            known = classes[key] = (len(classes), dict(style), dict(style.specified), style.cascaded)
        elif known is None:
            return
        else:
            style.clear()                  # (only the anchor yet) empty, the copy is one block
            style.update(known[1])
            style.specified.update(known[2])
        style._orderhub_class = known[0]

    return set_computed_styles


def _recorded(original: Any) -> Any:
    """A ``Document`` class method (``_build_layout_context``, ``_render``) whose result is kept
    for ``_break_cycles`` when made inside ``write_pdf`` (``_cycles_broken``) in this thread."""
    function = original.__func__

    def recorded(cls: Any, *args: Any, **kwargs: Any) -> Any:
        out = function(cls, *args, **kwargs)
        made = getattr(_made, "objects", None)
        if made is not None:
            made.append(out)
        return out

    return classmethod(recorded)


_PSEUDO_READ_IF = ("marker", "footnote-call", "footnote-marker")


def _pseudo_unread(style_for: Any, element: Any, pseudo_type: str) -> bool:
    """True when WeasyPrint 68.1 never reads ``element``'s ``pseudo_type`` style (one of
    ``_PSEUDO_READ_IF``): ``::marker`` is read (``marker_to_box``) for an element displayed as a
    list item and for one whose ``::before``/``::after`` is, the footnote ones for an element
    floated as a footnote. Made anyway when its declarations set ``anchor`` (collected then)."""
    style = style_for.get_computed_styles().get((element, None))
    cascaded = style_for.get_cascaded_styles()
    if style is None or "anchor" in cascaded.get((element, pseudo_type), ()):
        return False
    if pseudo_type == "marker":
        return ("list-item" not in style["display"] and (element, "before") not in cascaded
                and (element, "after") not in cascaded)
    return style["float"] != "footnote"


def _shared_anonymous(original: Any) -> Any:
    """``AnonymousStyle.__init__`` (the style of a line, a run of text, a table part WeasyPrint
    adds) that copies the values already computed for an anonymous child of the same parent
    class, when the parent's values it reads (the inherited ones, ``page``, the propagated text
    decorations) are still those (WeasyPrint edits some styles in place: then as WeasyPrint does)."""
    from operator import itemgetter

    from weasyprint.css.properties import INHERITED, INITIAL_VALUES

    names = tuple(INITIAL_VALUES)
    read = itemgetter(*sorted(set(INHERITED) | {"page"} | {n for n in names if n.startswith("text_decoration_")}))

    def __init__(self: Any, parent_style: Any) -> None:
        original(self, parent_style)
        # listed for _break_cycles, in the document's own cache (gone with the document)
        self.cache.setdefault("orderhub_anonymous_made", []).append(self)
        parent_class = getattr(parent_style, "_orderhub_class", None)
        if parent_class is None:
            return
        known = parent_style.cache.setdefault("orderhub_anonymous", {})   # the document's own dict
        seen = known.get(parent_class)
        if seen is None:
            try:
                for name in names:
                    self[name]
            except Exception:  # noqa: BLE001 - left to WeasyPrint, which says what when it needs it
                known[parent_class] = False
                return
            known[parent_class] = (dict(self), read(parent_style))
        elif seen and read(parent_style) == seen[1]:
            self.clear()
            self.update(seen[0])

    return __init__


def _check_math(original: Any) -> Any:
    def check_math(token: Any) -> Any:   # only a function token (calc(), min() …) can be math
        return original(token) if getattr(token, "type", None) == "function" else None

    return check_math


def _initial_colors(original: Any) -> Any:
    """The colour properties' computing function, with the keyword values (``currentcolor``,
    ``transparent``: the initial values every box has) parsed once."""
    parsed: dict[tuple[str, Any], Any] = {}

    def color(style: Any, name: str, values: Any) -> Any:
        if type(values) is not str:
            return original(style, name, values)
        scheme = style["color_scheme"]
        try:
            return parsed[values, scheme]
        except KeyError:
            out = original(style, name, values)
            if len(parsed) < 256:
                parsed[values, scheme] = out
            return out
        except TypeError:   # a scheme that is not hashable
            return original(style, name, values)

    return color


def _get_color(original: Any) -> Any:
    from tinycss2.color4 import Color

    def get_color(style: Any, key: str) -> Any:   # a colour (not the keyword currentcolor) as it is
        value = style[key]
        return value if isinstance(value, Color) else original(style, key)

    return get_color


def _percentage(original: Any) -> Any:
    from weasyprint.css.properties import Dimension

    def percentage(value: Any, computed: Any, refer_to: Any) -> Any:   # a length or a percentage first
        if type(value) is Dimension:
            if value.unit == "px":
                return value.value
            if value.unit == "%":
                return refer_to * value.value / 100
        return original(value, computed, refer_to)

    return percentage


def _one_percentage(original: Any) -> Any:
    """``resolve_one_percentage`` (170,000 calls for 1,000 lines: every margin, padding and size
    of every box) with a length in pixels or ``auto`` set at once; anything else as WeasyPrint."""
    from weasyprint.css.properties import Dimension

    def resolve_one_percentage(box: Any, property_name: str, refer_to: Any) -> None:
        value = box.style[property_name]
        if type(value) is Dimension and value.unit == "px":
            setattr(box, property_name, value.value)
        elif type(value) is str and value == "auto" and property_name not in ("min_width", "min_height"):
            setattr(box, property_name, value)
        else:
            original(box, property_name, refer_to)

    return resolve_one_percentage


def _converted_colors(original: Any) -> Any:
    """``Stream.set_color`` with the conversion of an sRGB, HSL or HWB colour to sRGB coordinates
    (6 µs, for every border line and run of text: a state restored forgets the current colour)
    made once per colour; other colour spaces as WeasyPrint does."""
    converted: dict[tuple[Any, ...], Any] = {}

    def set_color(self: Any, color: Any, stroke: bool = False) -> None:
        if color.space not in ("srgb", "hsl", "hwb"):
            return original(self, color, stroke)
        *channels, alpha = color
        self.set_alpha(alpha, stroke)
        current = (color.space, *channels)
        if stroke:
            if current == self._current_color_stroke:
                return None
            self._current_color_stroke = current
        else:
            if current == self._current_color:
                return None
            self._current_color = current
        srgb = converted.get(current)
        if srgb is None:
            srgb = color.to("srgb").coordinates
            if len(converted) < 256:
                converted[current] = srgb
        self.set_color_rgb(*srgb, stroke)
        return None

    return set_color


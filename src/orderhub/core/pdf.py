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
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from orderhub.core.errors import DomainError

__all__ = ["CACHE_SECONDS", "FONT_FILES", "PdfFontMissing", "fetcher", "font_urls", "write_pdf"]

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
    font_config, sheet, fetch = _stylesheet(css, frozenset(fonts.values()))
    doc = HTML(string=html, url_fetcher=fetch, base_url="/")
    out = bytes(doc.write_pdf(stylesheets=[sheet], font_config=font_config))
    if key and len(out) <= CACHE_MAX_BYTES:
        cache.set(key, out, CACHE_SECONDS)
    return out

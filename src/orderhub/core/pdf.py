"""PDF rendering shared by every document the project prints (shipping's order and shipment
documents, the KPI daily report): the project's CJK font files (``make assets`` puts them in
``settings.ORDERHUB_PDF_FONT_DIR``) and a WeasyPrint fetcher that loads those fonts and
``data:`` URLs and nothing else, so a template's ``<img src="http://…">`` or ``file:///etc/…``
fetches nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import DomainError

FONT_FILES = {"normal": "NotoSansSC_400Regular.ttf", "bold": "NotoSansSC_700Bold.ttf"}


class PdfError(DomainError):
    """A PDF that cannot be made (the font missing, a broken template): 409 with a reason."""

    status = 409


def font_urls() -> dict[str, str]:
    """``file://`` URLs of the font files by weight ("normal", "bold"); PdfError
    ``font_missing`` when one is not installed."""
    out = {}
    for weight, name in FONT_FILES.items():
        path = settings.ORDERHUB_PDF_FONT_DIR / name
        if not path.is_file():
            raise PdfError("font_missing", _("缺少打印用的中文字体 %(f)s：请运行 make assets。") % {"f": name})
        out[weight] = path.resolve().as_uri()
    return out


def url_fetcher(allowed: set[str]) -> Any:
    """WeasyPrint's fetcher limited to ``allowed`` (the font files) and ``data:`` URLs."""
    from weasyprint.urls import URLFetcher

    class OnlyOurs(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url in allowed or url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError("only the project's font and inline images are fetched")

    return OnlyOurs(allowed_protocols=("file", "data"), allow_redirects=False)


def html_to_pdf(html: str, fonts: dict[str, str]) -> bytes:
    """``html`` (which uses ``fonts``, from ``font_urls``) as PDF bytes, fetching nothing else."""
    from weasyprint import HTML

    return bytes(HTML(string=html, url_fetcher=url_fetcher(set(fonts.values())), base_url="/").write_pdf())

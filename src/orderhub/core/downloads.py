"""Every response that hands out stored or user-supplied bytes goes through ``download_response``.

Stored bytes never run in a browser: the response is always a download
(``Content-Disposition: attachment`` with a cleaned file name, RFC 6266 ``filename*``), of a fixed
type (``application/octet-stream`` unless the caller serves a file it generated itself, such as
an Excel export or a QR code), with ``X-Content-Type-Options: nosniff``, a policy under which
nothing in it may run or load even if a browser were to render it (``sandbox``), and
``Cross-Origin-Resource-Policy: same-origin`` so no other site can embed it.
A page that must show a payload's text renders it escaped inside one of our own pages.
"""

from __future__ import annotations

import unicodedata
from typing import IO
from urllib.parse import quote

from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase

OCTET_STREAM = "application/octet-stream"
# types of files OrderHub itself generates; anything stored or received is served as OCTET_STREAM
GENERATED_TYPES = frozenset({
    OCTET_STREAM,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf",       # printed documents (shipping.documents)
    "image/png",
    "image/svg+xml",
})
DOWNLOAD_POLICY = "default-src 'none'; sandbox"
MAX_NAME = 150


def safe_filename(name: str | None, fallback: str) -> str:
    """The last path component of ``name`` without control, format or unassigned characters,
    leading/trailing dots and blanks, at most 150 characters; ``fallback`` if nothing is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    base = base.strip(" .")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else base[:MAX_NAME]
    return base or fallback


def _ascii_name(name: str, fallback: str) -> str:
    """What old clients that ignore ``filename*`` get: printable ASCII, no quotes or backslashes."""
    folded = unicodedata.normalize("NFKD", name)
    out = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in folded
                  if not unicodedata.combining(ch))
    stem = out.rsplit(".", 1)[0]
    if not stem.strip("_ "):
        ext = out.rsplit(".", 1)[1] if "." in out else ""
        return fallback.rsplit(".", 1)[0] + ("." + ext if ext.strip("_") else "")
    return out


def content_disposition(name: str, fallback: str = "download.bin") -> str:
    """``attachment; filename="<ASCII>"; filename*=UTF-8''<percent-encoded>`` (RFC 6266)."""
    return f"attachment; filename=\"{_ascii_name(name, fallback)}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_response(content: bytes | IO[bytes], *, filename: str | None, fallback: str,
                      content_type: str = OCTET_STREAM) -> HttpResponseBase:
    """A response that can only be saved, never run: see the module doc. ``content`` is bytes or
    an open binary file (streamed); ``content_type`` other than octet-stream is for files we
    generated ourselves (an export, a QR code) and must be one of ``GENERATED_TYPES``."""
    if content_type not in GENERATED_TYPES:
        raise ValueError(f"download_response: {content_type!r} is not a type OrderHub generates; "
                         "stored bytes are served as application/octet-stream")
    name = safe_filename(filename, fallback)
    resp: HttpResponseBase
    if isinstance(content, bytes | bytearray | memoryview):
        resp = HttpResponse(bytes(content), content_type=content_type)
    else:
        resp = FileResponse(content, content_type=content_type)
    resp["Content-Type"] = content_type  # no charset: the bytes are not text to us
    resp["Content-Disposition"] = content_disposition(name, fallback)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Content-Security-Policy"] = DOWNLOAD_POLICY
    resp["Cross-Origin-Resource-Policy"] = "same-origin"
    return resp

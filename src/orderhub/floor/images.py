"""What a photo must be before it is kept: a real JPEG, PNG or WebP picture (decoded by Pillow,
not judged by its name or declared type), at most ``MAX_PHOTO_BYTES`` and ``MAX_PIXELS``; and
the thumbnail OrderHub draws from it (a PNG it generated itself, so ``core.downloads`` may hand it
out as ``image/png``)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from orderhub.core.errors import Problem, ValidationFailed

MAX_PHOTO_BYTES = 8 * 1024 * 1024      # the browser sends ~1600 px JPEGs of a few hundred KB
MAX_PHOTOS = 6
MAX_PIXELS = 40_000_000                 # decompression bombs stop here
THUMB_SIDE = 320
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class Picture:
    name: str
    content: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes


def _refuse(message: str, code: str = "invalid_image") -> ValidationFailed:
    return ValidationFailed(code, message, problems=[Problem(code, message, field="photos")])


def check_photo(name: str, content: bytes) -> Picture:
    """The picture in ``content``, or ValidationFailed saying why it is not one."""
    if not content:
        raise _refuse(_("The photo is empty."))
    if len(content) > MAX_PHOTO_BYTES:
        raise _refuse(_("A photo may be at most 8 MB."), "too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if fmt not in FORMATS:
                    raise _refuse(_("“%(name)s” is not a JPEG, PNG or WebP picture.") % {"name": name})
                if width * height > MAX_PIXELS:
                    raise _refuse(_("The photo has too many pixels."), "too_large")
                probe.verify()            # a truncated or forged file fails here
            with Image.open(io.BytesIO(content)) as img:
                img.load()
                thumb = ImageOps.exif_transpose(img).convert("RGB")
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise _refuse(_("“%(name)s” is not a picture.") % {"name": name}) from None
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    thumb.save(out, format="PNG", optimize=True)
    ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
    stem = (name or "photo").rsplit(".", 1)[0][:80] or "photo"
    return Picture(name=f"{stem}.{ext}", content=content, content_type=FORMATS[fmt], width=width,
                   height=height, thumbnail=out.getvalue())

"""Uploaded files: size limit, format check and decoding (through the engine's `decode_image`).

The cheap checks (byte size, the header's format and declared pixel count) run before a request takes a
place in the inference pool; decoding runs inside the pool.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from fastapi import UploadFile

from app.api.errors import ApiError
from app.core.image_io import decode_image
from app.core.types import Frame

# Formats OpenCV decodes (Pillow's names for them). Anything else Pillow recognises is refused with 415.
READABLE_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "BMP", "TIFF", "PPM", "JPEG2000"})
READABLE_NAMES = "PNG, JPEG, WebP, BMP or TIFF"


@dataclass(frozen=True)
class Upload:
    field: str
    data: bytes


async def read_upload(file: UploadFile, field: str, max_bytes: int) -> Upload:
    """The file's bytes; 413 when over `max_bytes` (checked before the whole file is read where possible)."""
    if file.size is not None and file.size > max_bytes:
        raise _too_big(field, max_bytes)
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_big(field, max_bytes)
    if not data:
        raise ApiError(400, "invalid_image", f"{field} is empty")
    return Upload(field, data)


def _too_big(field: str, max_bytes: int) -> ApiError:
    return ApiError(413, "file_too_large", f"{field} is larger than the upload limit of {max_bytes} bytes")


def check_header(upload: Upload, max_pixels: int) -> None:
    """Refuse a known but unreadable format (415) or a declared size over `max_pixels` (413) from the header
    alone; bytes Pillow cannot identify are left to the decoder, which says whether they are an image."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.data)) as im:
                fmt, (w, h) = (im.format or "").upper(), im.size
    except Image.DecompressionBombError:
        raise _too_many_pixels(upload.field, None, max_pixels) from None
    except Exception:  # not something Pillow knows: the decoder decides
        return
    if fmt not in READABLE_FORMATS:
        raise ApiError(415, "unsupported_format",
                       f"{upload.field} is a {fmt or 'unknown'} image; send {READABLE_NAMES}")
    if w * h > max_pixels:
        raise _too_many_pixels(upload.field, (w, h), max_pixels)


def _too_many_pixels(field: str, size: tuple[int, int] | None, max_pixels: int) -> ApiError:
    dims = f" ({size[0]}x{size[1]})" if size else ""
    return ApiError(413, "image_too_large", f"{field} has too many pixels{dims}; the limit is {max_pixels}")


def decode(upload: Upload, max_pixels: int) -> Frame:
    """A BGR frame (InputError -> 400 when the bytes are not an image)."""
    return decode_image(upload.data, upload.field, max_pixels)

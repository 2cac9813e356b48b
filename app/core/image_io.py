"""Reading and writing still images, with clear errors and atomic writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np

from app.core.atomic import write_bytes_atomically
from app.core.types import Frame
from app.errors import InputError, OutputError

WRITE_FORMATS = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg", ".webp": ".webp"}
MAX_PIXELS = 100_000_000  # refuses decompression bombs; a 100 MP photo is already enormous


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> Frame:
    """Decode image bytes (any format OpenCV reads) into a BGR frame."""
    if not data:
        raise InputError(f"{name} is empty")
    buf = np.frombuffer(data, dtype=np.uint8)
    # Check the header's size before decoding, so a tiny file cannot claim gigapixels.
    header_ok = _check_declared_size(data, name, max_pixels)
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{name} is not an image OpenCV can read (PNG, JPEG, WebP, BMP, TIFF ...)")
    if not header_ok and image.shape[0] * image.shape[1] > max_pixels:
        raise InputError(f"{name} is too large ({image.shape[1]}x{image.shape[0]} pixels)")
    return np.ascontiguousarray(image)


def _check_declared_size(data: bytes, name: str, max_pixels: int) -> bool:
    """True when the header's declared size was read and is acceptable; raises when it is too large."""
    from PIL import Image  # Pillow reads the header without decoding pixels

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Image.DecompressionBombError as exc:  # Pillow's own guard fired: far beyond any limit of ours
        raise InputError(f"{name} is too large ({exc})") from exc
    except Exception:
        return False
    if w * h > max_pixels:
        raise InputError(f"{name} is too large ({w}x{h} pixels; the limit is {max_pixels} pixels)")
    return True


def read_image(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> Frame:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist")
    if not p.is_file():
        raise InputError(f"{p} is not a file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p} cannot be read: {exc.strerror or exc}") from exc
    return decode_image(data, str(p), max_pixels)


def encode_image(frame: Frame, ext: str, quality: int = 95) -> bytes:
    fmt = WRITE_FORMATS.get(ext.lower())
    if fmt is None:
        raise OutputError(f"unsupported output format {ext!r}; use one of {', '.join(sorted(WRITE_FORMATS))}")
    params: list[int] = []
    if fmt == ".jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif fmt == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    ok, buf = cv2.imencode(fmt, frame, params)
    if not ok:
        raise OutputError(f"could not encode the image as {fmt}")
    return bytes(buf.tobytes())


def write_image(path: str | os.PathLike[str], frame: Frame, quality: int = 95) -> Path:
    """Write atomically: a crash or a full disk never leaves a half-written file under the output name."""
    p = Path(path)
    return write_bytes_atomically(p, encode_image(frame, p.suffix, quality))

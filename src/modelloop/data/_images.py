"""Image values: reading them (bytes, ``data:`` URIs, files), checking them, describing them.

An image column holds one image per row, as one of

* ``bytes``: the file's content (what the server hands over after decoding base64);
* a ``data:image/...;base64,...`` URI (how modelloop keeps images inside tables: the
  reference rows of a registered model, the prediction log);
* a path to a file (a folder of images, or a table's column of paths): only where the user
  named the data (training, ``modelloop predict``); the server never reads paths.

JPEG, PNG, GIF (the first frame), WebP, BMP and TIFF are read with Pillow, in any size,
aspect ratio and mode: EXIF orientation is applied, transparency is laid on white, grayscale
and palette images become RGB. A file that is not an image, a truncated one, or a
*placeholder* (smaller than 16 pixels on a side, or one colour on nearly all of it, such as
an "image not found" picture) is an :class:`~modelloop.exceptions.InvalidInputError`
naming it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelloop.exceptions import InvalidInputError

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_STATS",
    "ImageInfo",
    "decode_base64_image",
    "image_bytes",
    "image_digest",
    "image_stats",
    "is_image_path",
    "open_image",
    "square_image",
    "to_data_uri",
    "value_digest",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
IMAGE_STATS = ("width", "height", "brightness", "colourfulness")
"""Simple statistics of an image that monitoring compares (see :func:`image_stats`)."""

_MIN_SIDE = 16  # pixels: smaller is a placeholder (a tracking pixel, an icon)
# A placeholder is one colour on nearly all of the image, or a gray picture (no colour
# anywhere) that is one colour on most of it, such as an "image not found" notice.
_PLACEHOLDER_SHARE = 0.97
_GRAY_PLACEHOLDER_SHARE = 0.8
_GRAY_SPREAD = 24  # channel spread (max - min, 0-255) under which a pixel has no colour
_MAX_PIXELS = 100_000_000  # larger images are refused (decompression bombs)
_DATA_URI = re.compile(r"^data:(image/[\w.+-]+)?((?:;[\w-]+=[\w.-]+)*)(;base64)?,", re.I)


@dataclass(frozen=True)
class ImageInfo:
    """An opened image in RGB, with the size of the file's image before any reduction."""

    image: Any  # PIL.Image.Image, RGB
    width: int
    height: int


def is_image_path(value: object) -> bool:
    """Whether ``value`` is a string ending in an image file extension."""
    return isinstance(value, str) and value.lower().endswith(IMAGE_EXTENSIONS)


def _label(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return f"an image of {len(value):,} bytes"
    if isinstance(value, str) and value.startswith("data:"):
        return "an inline (data:) image"
    return f"'{value}'"


def decode_base64_image(text: str, *, field: str = "the image") -> bytes:
    """The bytes of a base64 string or ``data:`` URI; InvalidInputError when it is not one.

    Examples
    --------
    >>> decode_base64_image("data:image/png;base64,aGVsbG8=")
    b'hello'
    >>> decode_base64_image("not base64!")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.InvalidInputError: the image is not base64-encoded image data (a base64 string or a data:image/...;base64, URI).
    """
    match = _DATA_URI.match(text)
    if match:
        if not match.group(3):
            raise InvalidInputError(f"{field} is a data: URI without ';base64'.")
        text = text[match.end() :]
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            f"{field} is not base64-encoded image data (a base64 string or a "
            "data:image/...;base64, URI)."
        ) from None
    if not data:
        raise InvalidInputError(f"{field} is empty.")
    return data


def image_bytes(value: object, *, paths: bool = True) -> bytes:
    """The encoded image of one value: bytes as they are, a ``data:`` URI decoded, a file read.

    ``paths=False`` refuses paths (anything that is not bytes or a ``data:`` URI).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str) and value.startswith("data:"):
        return decode_base64_image(value, field="An inline (data:) image")
    if isinstance(value, str | Path) and paths:
        path = Path(value).expanduser()
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise InvalidInputError(f"Image file '{path}' does not exist.") from None
        except OSError as exc:
            raise InvalidInputError(
                f"Image file '{path}' cannot be read: {exc.strerror or exc}."
            ) from None
    raise InvalidInputError(
        f"An image value must be bytes or a data:image/...;base64, URI"
        f"{' or a file path' if paths else ''}. Got {type(value).__name__}."
    )


def image_digest(data: bytes) -> str:
    """sha256 of an encoded image (its identity in caches and logs)."""
    return hashlib.sha256(data).hexdigest()


def _dimensions(match: re.Match[str] | None) -> dict[str, int]:
    if match is None:
        return {}
    out = {}
    for part in match.group(2).split(";"):
        key, _, value = part.partition("=")
        if key.lower() in ("width", "height") and value.isdigit():
            out[key.lower()] = int(value)
    return out


def open_image(value: object, *, name: str | None = None, reduce_to: int | None = None,
               paths: bool = True) -> ImageInfo:  # fmt: skip
    """Decode one image value to RGB (see the module docstring for what is accepted).

    ``reduce_to`` lets JPEG decoding skip detail that a resize to that many pixels on the
    shorter side would drop (several times faster on large photos). The width and height
    returned are those of the original image (for a ``data:`` URI written by
    :func:`to_data_uri`, the ones it recorded).

    Raises
    ------
    InvalidInputError
        Not readable as an image, too large, or a placeholder; the message names ``name``
        (default: the path, or what the value is).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = name or _label(value)
    data = image_bytes(value, paths=paths)
    declared = _dimensions(_DATA_URI.match(value)) if isinstance(value, str) else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > _MAX_PIXELS:
                raise InvalidInputError(
                    f"Image {label} has {width}x{height} pixels, over the limit of {_MAX_PIXELS:,}."
                )
            if reduce_to and img.format == "JPEG":
                img.draft("RGB", _draft_size(width, height, reduce_to))
            img.seek(0)  # the first frame of an animation
            img.load()
            img = ImageOps.exif_transpose(img) or img
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(white, rgba)
            if img.mode != "RGB":
                img = img.convert("RGB")
    except InvalidInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInputError(f"{_cap(label)} is not an image Pillow can read.") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInputError(f"{_cap(label)} cannot be decoded as an image: {exc}.") from None
    if width < _MIN_SIDE or height < _MIN_SIDE:
        raise InvalidInputError(
            f"{_cap(label)} is {width}x{height} pixels: a placeholder, not a picture "
            f"(at least {_MIN_SIDE} pixels on each side are needed)."
        )
    share, gray = _dominant_share(img)
    if share >= _PLACEHOLDER_SHARE or (gray and share >= _GRAY_PLACEHOLDER_SHARE):
        raise InvalidInputError(
            f"{_cap(label)} is a placeholder, not a picture: one "
            f"{'gray ' if gray else ''}colour covers {share:.0%} of it."
        )
    if declared:
        width, height = declared.get("width", width), declared.get("height", height)
    return ImageInfo(img, width, height)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _draft_size(width: int, height: int, reduce_to: int) -> tuple[int, int]:
    """The size to ask JPEG's draft mode for: the shorter side stays >= ``reduce_to``."""
    scale = reduce_to / max(min(width, height), 1)
    return max(1, int(width * scale) + 1), max(1, int(height * scale) + 1)


def _dominant_share(img: Any) -> tuple[float, bool]:
    """Share of the pixels (of a 64x64 reduction) taken by the most common colour, and
    whether the image is gray (no pixel with colour)."""
    pixels = np.asarray(img.resize((64, 64)), dtype=np.int32)
    small = pixels // 8  # 32 levels per channel
    keys = (small[..., 0] << 10) | (small[..., 1] << 5) | small[..., 2]
    counts = np.bincount(keys.ravel())
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    return float(counts.max() / keys.size), bool(np.mean(spread > _GRAY_SPREAD) < 0.01)


def square_image(img: Any, size: int) -> Any:
    """The centre square of ``img`` resized to ``size`` x ``size`` (bilinear).

    Only the square is resampled, so a very long or very large picture costs no more
    than its square does.
    """
    from PIL import Image

    w, h = img.size
    side = min(w, h)
    left, upper = (w - side) // 2, (h - side) // 2
    return img.resize(
        (size, size),
        Image.Resampling.BILINEAR,
        box=(left, upper, left + side, upper + side),
        reducing_gap=3.0,
    )


def image_stats(pixels: np.ndarray, width: int, height: int) -> dict[str, float]:
    """Width, height, brightness (mean luma, 0-255) and colourfulness of an RGB array.

    Colourfulness is Hasler and Süsstrunk's measure (2003): 0 for gray, about 15 for muted
    and over 100 for vivid pictures.

    Examples
    --------
    >>> gray = np.full((8, 8, 3), 128, dtype=np.uint8)
    >>> image_stats(gray, 640, 480)
    {'width': 640.0, 'height': 480.0, 'brightness': 128.0, 'colourfulness': 0.0}
    """
    rgb = pixels.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = float(
        np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    )
    return {
        "width": float(width),
        "height": float(height),
        "brightness": round(float(luma.mean()), 4),
        "colourfulness": round(colourful, 4),
    }


def to_data_uri(img: Any, width: int, height: int, *, quality: int = 90) -> str:
    """An RGB image as a JPEG ``data:`` URI that records the original width and height.

    Examples
    --------
    >>> from PIL import Image
    >>> uri = to_data_uri(Image.new("RGB", (32, 32), "red"), 640, 480)
    >>> uri[:45]
    'data:image/jpeg;width=640;height=480;base64,/'
    """
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    encoded = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"data:image/jpeg;width={int(width)};height={int(height)};base64,{encoded}"


_DIGESTS: dict[tuple[str, int, int], str] = {}


def value_digest(value: object) -> str | None:
    """sha256 of the image a value holds (a file's content for a path), ``None`` if missing.

    Digests of files are remembered per process by path, size and modification time.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str) and not value.startswith("data:"):
        path = Path(value).expanduser()
        try:
            st = path.stat()
        except OSError:
            return hashlib.sha256(f"missing file {value}".encode()).hexdigest()
        key = (str(path), st.st_size, st.st_mtime_ns)
        known = _DIGESTS.get(key)
        if known is None:
            known = _DIGESTS[key] = image_digest(path.read_bytes())
        return known
    try:
        return image_digest(image_bytes(value, paths=False))
    except InvalidInputError:
        return hashlib.sha256(repr(value).encode()).hexdigest()

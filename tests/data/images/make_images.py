"""Writes the small image sample the tests use (run from the repository root to remake it).

Two classes of synthetic pictures, 12 each: ``circles`` (a filled disc on a noisy
background) and ``stripes`` (diagonal bands), in every format and mode modelloop reads
(JPEG, PNG with transparency, palette GIF, WebP, grayscale), with sizes and aspect ratios
that vary. ``bad/`` holds what loading must skip: a text file named .jpg, an empty file,
a one-colour placeholder and a 4 x 4 pixel image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
FORMATS = [
    ("jpg", "RGB"),
    ("png", "RGBA"),
    ("gif", "P"),
    ("webp", "RGB"),
    ("jpg", "L"),
    ("png", "RGB"),
]


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    base = rng.integers(60, 200, size=3)
    noise = rng.normal(0, 18, size=(h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def _circle(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    img = _background(rng, w, h)
    r = int(min(w, h) * rng.uniform(0.25, 0.4))
    cx, cy = int(w * rng.uniform(0.35, 0.65)), int(h * rng.uniform(0.35, 0.65))
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    ImageDraw.Draw(img).ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return img


def _stripes(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    img = _background(rng, w, h)
    draw = ImageDraw.Draw(img)
    step = int(rng.integers(8, 14))
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    for x in range(-h, w, step):
        draw.line((x, 0, x + h, h), fill=colour, width=step // 2)
    return img


def main() -> None:
    rng = np.random.default_rng(7)
    for cls, draw in (("circles", _circle), ("stripes", _stripes)):
        folder = HERE / "shapes" / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(12):
            ext, mode = FORMATS[i % len(FORMATS)]
            w, h = int(rng.integers(48, 96)), int(rng.integers(48, 96))
            img = draw(rng, w, h)
            if mode == "RGBA":
                img = img.convert("RGBA")
                img.putalpha(Image.new("L", img.size, 255))
            elif mode == "P":
                img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
            elif mode == "L":
                img = img.convert("L")
            options = {"quality": 70} if ext in ("jpg", "webp") else {}
            img.save(folder / f"{cls}_{i:02d}.{ext}", **options)
    bad = HERE / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "notes.jpg").write_text("this is not a picture\n")
    (bad / "empty.png").write_bytes(b"")
    Image.new("RGB", (120, 90), (250, 250, 250)).save(bad / "placeholder.png")
    Image.new("RGB", (4, 4), (10, 200, 30)).save(bad / "pixel.png")


if __name__ == "__main__":
    main()

"""Reading, checking and describing images (data/_images.py, data/_image_folder.py)."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from modelloop.data import (
    Role,
    decode_base64_image,
    image_splits,
    image_stats,
    load,
    open_image,
    to_data_uri,
)
from modelloop.exceptions import EmptyDataError, InvalidInputError

IMAGES = Path(__file__).resolve().parent / "images"
SHAPES = IMAGES / "shapes"


@pytest.mark.parametrize("name", ["circles_00.jpg", "circles_01.png", "circles_02.gif",
                                  "circles_03.webp", "circles_04.jpg"])  # fmt: skip
def test_open_image_reads_every_format_and_mode_as_rgb(name: str) -> None:
    info = open_image(SHAPES / "circles" / name)
    assert info.image.mode == "RGB"
    assert (info.width, info.height) == Image.open(SHAPES / "circles" / name).size


def test_open_image_lays_transparency_on_white() -> None:
    img = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    img.paste((0, 0, 255, 255), (0, 0, 20, 30))
    path_bytes = _png(img)
    pixels = np.asarray(open_image(path_bytes).image)
    assert pixels[0, 30].tolist() == [255, 255, 255]
    assert pixels[0, 5].tolist() == [0, 0, 255]


def test_open_image_refuses_bad_files_by_name() -> None:
    with pytest.raises(InvalidInputError, match=r"notes\.jpg' is not an image"):
        open_image(IMAGES / "bad" / "notes.jpg")
    with pytest.raises(InvalidInputError, match=r"4x4 pixels: a placeholder"):
        open_image(IMAGES / "bad" / "pixel.png")
    with pytest.raises(InvalidInputError, match=r"placeholder, not a picture: one gray colour"):
        open_image(IMAGES / "bad" / "placeholder.png")
    with pytest.raises(InvalidInputError, match=r"does not exist"):
        open_image(IMAGES / "bad" / "nowhere.jpg")


def test_open_image_refuses_paths_when_told() -> None:
    with pytest.raises(InvalidInputError, match="bytes or a data:image"):
        open_image(str(SHAPES / "circles" / "circles_00.jpg"), paths=False)


def test_decode_base64_image_accepts_plain_and_data_uri() -> None:
    raw = (SHAPES / "stripes" / "stripes_00.jpg").read_bytes()
    text = base64.b64encode(raw).decode()
    assert decode_base64_image(text) == raw
    assert decode_base64_image(f"data:image/jpeg;base64,{text}") == raw
    with pytest.raises(InvalidInputError, match="not base64-encoded"):
        decode_base64_image("/etc/passwd")
    with pytest.raises(InvalidInputError, match="without ';base64'"):
        decode_base64_image("data:image/png,abc")


def test_data_uri_keeps_the_original_size() -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    uri = to_data_uri(Image.fromarray(noise, "RGB"), 640, 480)
    info = open_image(uri)
    assert (info.width, info.height) == (640, 480)
    assert info.image.size == (32, 24)


def test_image_stats_measure_brightness_and_colour() -> None:
    gray = image_stats(np.full((10, 10, 3), 50, dtype=np.uint8), 10, 10)
    red = np.zeros((10, 10, 3), dtype=np.uint8)
    red[..., 0] = 255
    vivid = image_stats(red, 10, 10)
    assert gray["colourfulness"] == 0.0 and gray["brightness"] == 50.0
    assert vivid["colourfulness"] > 50


def test_load_reads_a_folder_of_class_folders() -> None:
    ds = load(SHAPES, target="label")
    assert ds.n_rows == 24
    assert ds.schema["image"].role is Role.IMAGE
    assert sorted(ds.frame["label"].unique()) == ["circles", "stripes"]
    assert all(Path(p).is_absolute() for p in ds.frame["image"])


def test_load_skips_bad_images_with_a_count(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    shutil.copytree(SHAPES, folder)
    for bad in (IMAGES / "bad").iterdir():
        if bad.suffix != ".py":
            shutil.copy(bad, folder / "circles" / bad.name)
    (folder / "circles" / "readme.txt").write_text("hello")
    ds = load(folder, target="label")
    assert ds.n_rows == 24
    notes = " ".join(ds.schema.notes)
    assert "4 image(s) could not be used" in notes
    assert "placeholder.png" in notes and "notes.jpg" in notes
    assert "1 file(s) without an image extension were left out: circles/readme.txt" in notes


def test_load_of_an_empty_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(EmptyDataError, match="holds no image files"):
        load(tmp_path, target="label")


def test_the_dataset_hash_follows_image_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(SHAPES, a)
    shutil.copytree(SHAPES, b)
    assert load(a, target="label").hash == load(b, target="label").hash
    shutil.copy(SHAPES / "stripes" / "stripes_00.jpg", b / "circles" / "circles_00.jpg")
    assert load(a, target="label").hash != load(b, target="label").hash


def test_image_splits_finds_train_and_val(tmp_path: Path) -> None:
    shutil.copytree(SHAPES, tmp_path / "train")
    shutil.copytree(SHAPES, tmp_path / "val")
    assert image_splits(tmp_path) == (tmp_path / "train", tmp_path / "val")
    ds = load(tmp_path, target="label")
    assert ds.name == tmp_path.name
    assert any("holds a split" in n for n in ds.schema.notes)


def test_a_column_of_relative_paths_is_an_image_column(tmp_path: Path) -> None:
    shutil.copytree(SHAPES, tmp_path / "pics")
    rows = [
        {"photo": f"pics/{p.parent.name}/{p.name}", "size": i, "kind": p.parent.name}
        for i, p in enumerate(sorted(SHAPES.glob("*/*")))
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "table.csv", index=False)
    ds = load(tmp_path / "table.csv", target="kind")
    assert ds.schema["photo"].role is Role.IMAGE
    assert Path(ds.frame["photo"].iloc[0]).is_file()
    forced = load(tmp_path / "table.csv", target="kind", types={"photo": "image"})
    assert forced.schema["photo"].role is Role.IMAGE


def _png(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_one_image_file_is_refused_with_the_folder_to_pass() -> None:
    from modelloop.exceptions import UnsupportedSourceError

    with pytest.raises(UnsupportedSourceError, match=r"is one image; .* Pass the folder"):
        load(SHAPES / "circles" / "circles_00.jpg", target="label")

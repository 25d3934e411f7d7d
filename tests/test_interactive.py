"""The interactive colorizer's logic without a browser: a real (tiny, untrained) hints model, real
photos as an upload brings them, and events as ipyevents and the widgets deliver them, by calling
the handlers they call."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from unetcolor import color
from unetcolor.colorizers import hints
from unetcolor.commands import interactive
from unetcolor.unet.model import build_unet

import tiny
from conftest import photo_crops

BLUE = "#3366cc"
SPREAD = {"space": 0.2, "tone": 12.0}


def tiny_models() -> dict[str, interactive.Choice]:
    keras.utils.set_random_seed(3)  # fixed untrained networks: their colours are arbitrary but the same each run
    plain = build_unet(tiny.model(image_size=32, filters=(4, 8), output="ab"))
    taking = hints.with_hint_inputs(plain)
    return {"hints": interactive.Choice(lambda: taking, SPREAD), "plain": interactive.Choice(lambda: plain, {})}


def wide_photo() -> np.ndarray:
    """960 x 320: wider than the preview, so a click must be mapped back (preview 640 x 213)."""
    return np.asarray(Image.fromarray(photo_crops(1, 240, seed=5)[0]).resize((960, 320), Image.LANCZOS))


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(colorizer: interactive.Colorizer, content: bytes, name: str) -> None:
    """What ipywidgets' FileUpload sets when a person picks a file (its value: one dict per file)."""
    colorizer._on_upload({"name": "value", "old": (), "new": ({"name": name, "type": "image/png", "size": len(content),
                                                               "content": memoryview(content), "last_modified": 0},)})


def click(colorizer: interactive.Colorizer, x: int, y: int) -> None:
    """A click as ipyevents delivers it: dataX, dataY in the preview image's own pixels."""
    colorizer.on_click({"event": "click", "type": "click", "dataX": x, "dataY": y, "relativeX": x, "relativeY": y})


def ab_near(rgb: np.ndarray, x: int, y: int, side: int = 5) -> np.ndarray:
    """Mean a*, b* of the side x side pixels around (x, y)."""
    window = rgb[y - side // 2:y + side // 2 + 1, x - side // 2:x + side // 2 + 1]
    return color.rgb_to_lab(window).reshape(-1, 3)[:, 1:].mean(axis=0)


@pytest.fixture()
def colorizer(tmp_path):
    widget = interactive.Colorizer(models=tiny_models(), out_dir=tmp_path / "colorized")
    upload(widget, png_bytes(wide_photo()), "wide.png")
    return widget


def test_preview_positions_map_to_the_photo_pixel_under_them():
    assert interactive.preview_size(960, 320) == (640, 213)
    assert interactive.preview_size(300, 200) == (300, 200)  # small photos are shown at their own size
    # preview pixel 320 covers photo columns 480.0-481.5: its centre, 320.5 * 1.5 = 480.75, lies in column 480
    assert interactive.to_photo_pixel(320, 100, (640, 213), (960, 320)) == (480, 150)
    # ipyevents rounds, so a click on the last pixel's far half reports the preview's width
    assert interactive.to_photo_pixel(640, 213, (640, 213), (960, 320)) == (959, 319)
    assert interactive.to_photo_pixel(-1, 0, (640, 213), (960, 320)) == (0, 0)


def test_an_upload_a_click_and_a_colour_move_the_result_near_the_click_towards_that_colour(colorizer):
    photo = wide_photo()
    assert np.array_equal(colorizer.photo, photo) and colorizer.photo_name == "wide.png"
    automatic = colorizer.result.copy()
    assert automatic.shape == photo.shape
    click(colorizer, 320, 100)  # photo pixel (480, 150)
    placed = colorizer.hints[0]
    assert (placed.x, placed.y) == (480, 150)
    # the picker starts at the colour the model gave there
    assert placed.color == colorizer.picker.value == "#%02x%02x%02x" % tuple(automatic[150, 480])
    colorizer.picker.value = BLUE  # the person picks blue: the widget's observer runs
    assert colorizer.hints == [hints.Hint(480, 150, BLUE)]
    target = hints.Hint(0, 0, BLUE).ab
    before = np.linalg.norm(ab_near(automatic, 480, 150) - target)
    after = np.linalg.norm(ab_near(colorizer.result, 480, 150) - target)
    assert after < before / 2
    # the preview shown is the full-resolution result, shrunk
    shown = np.asarray(Image.open(io.BytesIO(colorizer.result_view.value)).convert("RGB"))
    assert shown.shape == (213, 640, 3)


def test_a_hint_moves_and_is_removed_and_the_result_follows(colorizer):
    automatic = colorizer.result.copy()
    click(colorizer, 100, 50)  # photo pixel (150, 75)
    colorizer.picker.value = BLUE
    colorizer.move.value = True
    click(colorizer, 500, 160)  # photo pixel (750, 241): 160.5 * 320 / 213 = 241.1
    assert colorizer.hints == [hints.Hint(750, 241, BLUE)] and colorizer.move.value is False
    target = hints.Hint(0, 0, BLUE).ab
    assert np.linalg.norm(ab_near(colorizer.result, 750, 241) - target) < \
        np.linalg.norm(ab_near(automatic, 750, 241) - target) / 2
    click(colorizer, 600, 20)  # a second hint, selected, its colour the result's there
    second = colorizer.hints[1].color
    colorizer.hint_list.index = 0  # the person selects the first hint in the list: the picker shows its colour
    assert colorizer.selected == 0 and colorizer.picker.value == BLUE
    colorizer.set_colour("not a colour")
    assert colorizer.hints[0].color == BLUE and "is not a colour" in colorizer.status.value
    colorizer.remove_hint()
    assert [hint.color for hint in colorizer.hints] == [second]
    colorizer.remove_hint()
    assert colorizer.hints == [] and colorizer.selected is None
    assert np.array_equal(colorizer.result, automatic)  # no hint: the automatic colours again


def test_a_model_without_hint_inputs_colours_alone_and_says_hints_need_the_hints_model(colorizer):
    colorizer.model.value = "plain"
    click(colorizer, 10, 10)
    assert colorizer.hints == [] and "takes no hints" in colorizer.status.value
    assert colorizer.picker.disabled and colorizer.move.disabled


def test_a_file_that_is_no_image_gives_a_message_and_keeps_the_photo(colorizer):
    photo = colorizer.photo
    upload(colorizer, b"this is not an image", "notes.png")
    assert colorizer.photo is photo
    assert "notes.png" in colorizer.status.value and "upload a photo" in colorizer.status.value


def test_saving_writes_the_full_result_and_never_over_an_existing_file(colorizer, tmp_path):
    out = tmp_path / "colorized"
    out.mkdir()
    existing = out / "wide-hints.png"
    existing.write_bytes(b"an earlier file")
    written = colorizer.save_result()
    assert written == out / "wide-hints-2.png" and existing.read_bytes() == b"an earlier file"
    assert np.array_equal(np.asarray(Image.open(written)), colorizer.result)
    assert colorizer.save_result() == out / "wide-hints-3.png"
    assert sorted(path.name for path in out.iterdir()) == ["wide-hints-2.png", "wide-hints-3.png", "wide-hints.png"]

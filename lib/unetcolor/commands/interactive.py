"""The interactive colorizer of notebook 08 (``Colorizer().widget``): a photo, a model, and colour hints placed by
clicking on its preview (ipyevents); the result is recomputed at the photo's full resolution after every change."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import os
import tempfile
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import keras
from ipyevents import Event
from PIL import Image, ImageColor, ImageDraw

from .. import color, paths, shipped
from ..colorizers import hints
from ..evaluation import predict
from ..photos import images, samples
from ..unet import runs

PREVIEW_SIDE = 640  # the previews' largest side in pixels: a click maps back to the photo's own pixels
PREVIEW_FORMAT = "jpeg"  # a tenth of PNG's bytes for photos, which keeps a saved notebook's widget state small
OUT_FOLDER = "colorized"  # below the project root, as the colorize command's examples write
MARKER_RADIUS = 6  # preview pixels


# a model the person may pick: its loader (called on first pick), its hints' spread settings, a note shown when picked
Choice = namedtuple("Choice", "load spread note", defaults=("",))


def model_choices() -> dict[str, Choice]:
    """The shipped colorizers and, where models/paper/main.json names it, the paper's U-Net, by menu name."""
    files = [(model, predict.packaged_model_path(model.name)) for model in shipped.SHIPPED]
    choices = {model.name: Choice(functools.partial(predict.load_model, path),
                                  hints.recorded_spread(path) if model.hints else {}) for model, path in files}
    with contextlib.suppress(FileNotFoundError):
        if runs.has_weights(paper := runs.main_run_dir("paper")):
            choices["paper U-Net"] = Choice(functools.partial(predict.load_model, paper), {},
                                            "the paper's RGB U-Net (notebook 03)")
    return choices


def to_photo_pixel(x: float, y: float, preview_size: tuple[int, int], photo_size: tuple[int, int]) -> tuple[int, int]:
    """A preview pixel (ipyevents' dataX, dataY) -> the photo's pixel (x, y) under it; sizes are (width, height)."""
    return tuple(min(int((min(max(value, 0), preview - 1) + 0.5) * side / preview), side - 1)
                 for value, preview, side in zip((x, y), preview_size, photo_size))


def preview_size(width: int, height: int, largest: int = PREVIEW_SIDE) -> tuple[int, int]:
    """(width, height) of a photo's preview: the photo's own size, or shrunk to `largest` pixels on its longer side."""
    scale = min(1.0, largest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def as_hex(value) -> str:
    """A CSS colour as the colour picker may hold it ('blue', '#36c', '#3366cc'), or an RGB triple -> '#rrggbb'."""
    red, green, blue = (ImageColor.getrgb(value) if isinstance(value, str) else value)[:3]
    return f"#{red:02x}{green:02x}{blue:02x}"


class Colorizer:
    """The widget (``self.widget``) and its state: photo and result (uint8 RGB), the hints (in the photo's pixels)
    and the one selected. models: name -> Choice (default model_choices()); model: the one picked first."""

    def __init__(self, models: dict[str, Choice] | None = None, model: str | None = None,
                 photo: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None):
        self.choices = models if models is not None else model_choices()
        self.out_dir = Path(out_dir) if out_dir else paths.project_root() / OUT_FOLDER
        self.loaded: dict[str, keras.Model] = {}
        self.hints: list[hints.Hint] = []
        self.selected = self.photo = self.result = None  # the selected hint's index, uint8 RGB arrays
        self.photo_name = ""
        self._quiet = False  # set while the code itself changes a control (_silently)

        self.samples = {path.name: path for path in samples.sample_photo_paths()}
        self.upload = widgets.FileUpload(accept="image/*", description="upload a photo", layout={"width": "auto"})
        self.sample = widgets.Dropdown(options=[("—", None), *zip(self.samples, self.samples)],
                                       description="or a sample")
        first = shipped.HINTS.name if shipped.HINTS.name in self.choices else next(iter(self.choices))
        self.model = widgets.Dropdown(options=list(self.choices), value=model or first, description="model")
        self.photo_view = widgets.Image(format=PREVIEW_FORMAT).add_class("unetcolor-photo")
        self.result_view = widgets.Image(format=PREVIEW_FORMAT).add_class("unetcolor-result")
        self.clicks = Event(source=self.photo_view, watched_events=["click"])
        self.hint_list = widgets.Select(options=[], rows=6, description="hints")
        self.picker = widgets.ColorPicker(value="#808080", description="colour", concise=False)
        self.move = widgets.ToggleButton(description="move", tooltip="then click where the selected hint goes")
        self.remove = widgets.Button(description="remove", tooltip="remove the selected hint")
        self.clear = widgets.Button(description="remove all")
        self.save = widgets.Button(description="save the result", button_style="success")
        self.status = widgets.HTML()

        self.upload.observe(self._on_upload, "value")
        self._observe(self.sample, "value", lambda name: self.load_path(self.samples[name]))
        self._observe(self.model, "value", lambda name: self.update(f"model {name}"))
        self._observe(self.hint_list, "index", self._on_select)
        self._observe(self.picker, "value", self.set_colour)
        self.clicks.on_dom_event(self.on_click)
        self.remove.on_click(lambda _: self.remove_hint())
        self.clear.on_click(lambda _: self.clear_hints())
        self.save.on_click(lambda _: self.save_result())

        photo_column = widgets.VBox([widgets.HTML("<b>photo</b>: click to place a hint"), self.photo_view],
                                    layout=widgets.Layout(margin="0 12px 0 0"))
        self.widget = widgets.VBox([
            widgets.HBox([self.upload, self.sample, self.model]),
            widgets.HBox([photo_column, widgets.VBox([widgets.HTML("<b>result</b>"), self.result_view])],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.hint_list,
                          widgets.VBox([self.picker, widgets.HBox([self.move, self.remove, self.clear])])]),
            widgets.HBox([self.save, self.status]),
        ]).add_class("unetcolor-colorizer")
        self.load_path(photo or self.samples[samples.PHOTOS[0]])

    def current_model(self) -> keras.Model:
        if (name := self.model.value) not in self.loaded:
            self.loaded[name] = self.choices[name].load()
        return self.loaded[name]

    def load_path(self, path: str | os.PathLike, upload: str | None = None) -> None:
        """A new photo from a file (or an upload's copy, upload: its name), hints cleared; a message if no image."""
        try:
            photo = images.read_photo(path)
        except images.UnreadableImageError as error:
            self.say(f"{upload}: {error.reason}; upload a photo (PNG, JPEG, ...)" if upload
                     else f"{error}; choose a photo (PNG, JPEG, ...)", error=True)
            return
        self.photo, self.photo_name = photo.rgb, Path(upload or path).name
        self.hints, self.selected = [], None
        self.update(f"{self.photo_name}: {self.photo.shape[1]}×{self.photo.shape[0]} pixels")

    def set_colour(self, colour: str) -> None:
        if self.selected is None:
            self.say("select a hint first, or click on the photo to place one")
            return
        try:
            colour = as_hex(colour)
        except ValueError:
            self.say(f"{colour!r} is not a colour; pick one, or type #RRGGBB", error=True)
            return
        self.hints[self.selected] = dataclasses.replace(self.hints[self.selected], color=colour)
        self.update(f"hint {self.hints[self.selected].describe()}")

    def remove_hint(self) -> None:
        if self.selected is None:
            self.say("select the hint to remove")
            return
        removed = self.hints.pop(self.selected)
        self.selected = min(self.selected, len(self.hints) - 1) if self.hints else None
        self.update(f"hint {removed.describe()} removed")

    def clear_hints(self) -> None:
        self.hints, self.selected = [], None
        self.update("every hint removed")

    def update(self, message: str = "") -> None:
        """Recompute the result at full resolution and redraw both previews and the hint controls."""
        if self.photo is None:
            return
        try:
            model = self.current_model()
        except (FileNotFoundError, ValueError) as error:
            self.say(f"model {self.model.value!r} cannot be loaded: {error}", error=True)
            return
        taking, choice = hints.takes_hints(model), self.choices[self.model.value]
        self.result = (hints.colorize(model, self.photo, self.hints, **choice.spread) if taking
                       else predict.colorize_photo(model, self.photo))
        self._draw()
        for control in (self.hint_list, self.picker, self.move, self.remove, self.clear):
            control.disabled = not taking
        refusal = not taking and (f"model {self.model.value!r} takes no hints: pick {shipped.HINTS.name!r} to steer "
                                  "the colours" + ("; the hints placed are kept" if self.hints else ""))
        self.say("; ".join(note for note in (message, choice.note, refusal) if note))

    def _draw(self) -> None:
        height, width = self.photo.shape[:2]
        size = preview_size(width, height)
        gray = color.gray_baseline(color.rgb_to_gray(self.photo))
        canvas = Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(canvas)
        for number, hint in enumerate(self.hints):
            chosen = number == self.selected
            centre = (hint.x + 0.5) * size[0] / width, (hint.y + 0.5) * size[1] / height
            draw.circle(centre, MARKER_RADIUS + 2 * chosen, fill=hint.color,
                        outline="#ffcc00" if chosen else "white", width=2 + chosen)
        result = Image.fromarray(self.result).resize(size, Image.Resampling.LANCZOS)
        for view, image in ((self.photo_view, canvas), (self.result_view, result)):
            buffer = io.BytesIO()
            image.save(buffer, format=PREVIEW_FORMAT, quality=92)
            view.value = buffer.getvalue()
        with self._silently():
            self.hint_list.options = [f"{number + 1}: {hint.describe()}" for number, hint in enumerate(self.hints)]
            self.hint_list.index = self.selected
            if self.selected is not None:
                self.picker.value = self.hints[self.selected].color
            self.move.value = False

    def save_result(self) -> Path | None:
        """The full-resolution result as <out_dir>/<photo>-<model>.png, or -2, -3, ... added: over no file."""
        stem = f"{Path(self.photo_name).stem}-{self.model.value.replace(' ', '-')}"
        target, number = self.out_dir / f"{stem}.png", 2
        while target.exists():
            target, number = self.out_dir / f"{stem}-{number}.png", number + 1
        try:
            images.write_image_atomic(self.result, target)
        except OSError as error:
            self.say(f"could not save into {self.out_dir}: {error}", error=True)
            return None
        self.say(f"saved {paths.relative(target)}")
        return target

    def say(self, message: str, error: bool = False) -> None:
        text = message.replace("&", "&amp;").replace("<", "&lt;")
        self.status.value = f'<span style="color: {"#b00020" if error else "inherit"}">{text}</span>'

    def on_click(self, event: dict) -> None:
        """A click on the photo preview: moves the selected hint there in move mode, else places a new one there."""
        if self.photo is None or "dataX" not in event:
            return
        if not hints.takes_hints(self.current_model()):
            self.say(f"model {self.model.value!r} takes no hints: pick {shipped.HINTS.name!r} to place them")
            return
        height, width = self.photo.shape[:2]
        x, y = to_photo_pixel(event["dataX"], event["dataY"], preview_size(width, height), (width, height))
        if self.move.value and self.selected is not None:
            old = self.hints[self.selected]
            self.hints[self.selected] = dataclasses.replace(old, x=x, y=y)
            self.update(f"hint moved from {old.x},{old.y} to {x},{y}")
        else:
            self.hints.append(hints.Hint(x, y, as_hex(tuple(self.result[y, x]))))
            self.selected = len(self.hints) - 1
            self.update(f"hint {self.hints[-1].describe()} placed")

    def _on_upload(self, change) -> None:
        if self._quiet or not change["new"]:
            return
        upload = change["new"][-1]
        with self._silently():
            self.sample.value = None
            self.upload.value = ()  # so that the same file may be uploaded again
        with tempfile.TemporaryDirectory() as folder:  # read as images.read_photo reads a file
            path = Path(folder) / (Path(upload["name"]).name or "upload")
            path.write_bytes(bytes(upload["content"]))
            self.load_path(path, upload=upload["name"])

    def _observe(self, control, trait: str, action: Callable) -> None:
        """action(new value) when control's trait changes, except to None or while _silently."""
        control.observe(lambda change: None if self._quiet or change["new"] is None else action(change["new"]), trait)

    def _on_select(self, index: int) -> None:
        self.selected = index
        self._draw()

    @contextlib.contextmanager
    def _silently(self):
        """While the code itself sets a control, its observer does nothing."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

"""Colorizing photos of any size (paper Figure 8): what notebook 06 and the
`colorize` command both call.

The model sees a fixed square (256x256 for the paper). A photo of any size and
aspect ratio is colorized in three steps:

    1. gray = color.rgb_to_gray(photo) at full resolution (the one "gray");
    2. the gray, resized to the model's square (Pillow LANCZOS, as data
       preparation resizes), goes through the model;
    3. only the prediction's *colour* is kept: its colour differences
       R - Y and B - Y (Cr and Cb of full-range JPEG YCbCr, BT.601, up to a
       scale) are upscaled to the photo's size (Pillow BICUBIC on float32) and
       added to the full-resolution gray Y.

So every detail of the original luminance survives; the model only decides
the colours, which vary slowly enough to survive the round trip through 256x256.
The BT.601 luma of the result equals the input's gray (up to 8-bit rounding,
and except where a channel had to be clipped to 0..255).
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from PIL import Image
from tqdm import tqdm  # plain text bars: the same in terminals, notebooks and papermill logs

from .. import color, shipped
from ..unet import half_weights, runs
from ..photos import images

MODEL_ENV = "UNETCOLOR_MODEL"
SHRINK_FILTER = Image.Resampling.LANCZOS  # data.py resizes training photos with LANCZOS too
CHROMA_FILTER = Image.Resampling.BICUBIC  # smooth, and no ringing worth the cost of LANCZOS
BAND_ROWS = 512  # rows recombined at a time: bounds the float32 temporaries to a band
RUN_HINT = ("a .keras file written by model.save() or a training run folder "  # what load_model takes
            f"holding model.keras or {half_weights.WEIGHTS_FILE} + {half_weights.RECORD_FILE}, e.g. models/paper/<run> "
            "(models/paper/main.json names the paper's main run)")

KR, KG, KB = (float(weight) for weight in color.LUMA_WEIGHTS)


# ------------------------------------------------------------------- the model


def default_model_path() -> Path | None:
    """The model to use when none is named: $UNETCOLOR_MODEL if set (returned
    even if missing, so a wrong setting is an error rather than silently
    ignored), else the packaged ``unetcolor/weights/default.keras`` if it
    exists, else None."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).expanduser()
    packaged = packaged_model_path(shipped.DEFAULT.name)
    return packaged if packaged.is_file() else None


def packaged_model_path(name: str) -> Path:
    """``unetcolor/weights/<name>.keras`` of a shipped colorizer (unetcolor.shipped); each is
    trained by ``make <name>-model``."""
    if name not in shipped.NAMES:
        raise ValueError(f"no packaged colorizer named {name!r}; the packaged ones are {', '.join(shipped.NAMES)}")
    return shipped.WEIGHTS_DIR / f"{name}.keras"


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a colorizer, uncompiled, from any of:

    - a saved ``.keras`` model (Keras' safe mode: no arbitrary code), e.g. the
      packaged ``weights/default.keras``;
    - a training run folder, ``models/<profile>/<run>/`` (the paper's U-Net is
      ``models/paper/<run>``, the run named by models/paper/main.json): its
      model.keras if present, else its U-Net rebuilt from config.json with the
      committed float16 weights, checked against the sha256 in weights.json
      (runs.model);
    - that folder's ``weights-float16.npz`` (the folder is loaded).

    Raises FileNotFoundError or ValueError naming the path and what to pass instead.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return _load_run(path)
    if not path.is_file():
        raise FileNotFoundError(_not_found(path))
    if path.suffix == ".npz":
        return _load_run_weights(path)
    return _load_keras(path)


def _not_found(path: Path) -> str:
    if runs.has_weights(path.parent):
        return f"{path}: no such file; its folder is a training run: pass the folder {path.parent} instead"
    return (f"{path}: no such model file or folder; pass {RUN_HINT}, "
            "or train one with `make train` (it writes models/<profile>/<run>/model.keras)")


def _load_keras(path: Path) -> keras.Model:
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a loadable Keras model ({error}); pass {RUN_HINT}") from None


def _load_run_weights(path: Path) -> keras.Model:
    """A run's float16 weights file: loaded through its folder, whose weights.json must name it."""
    folder = path.parent
    try:
        recorded = half_weights.read_record(folder).get("file")
    except (FileNotFoundError, ValueError, AttributeError):
        recorded = None
    if recorded != path.name:
        raise ValueError(
            f"{path}: float16 weights load only through their run folder, whose {half_weights.RECORD_FILE} "
            f"names this file and whose config.json rebuilds the U-Net; {folder / half_weights.RECORD_FILE} "
            f"is missing, unreadable or names another file; pass {RUN_HINT}"
        )
    return _load_run(folder)


def _load_run(folder: Path) -> keras.Model:
    """A training run folder's model (runs.model), its errors named after the folder."""
    if not runs.has_weights(folder):
        raise FileNotFoundError(
            f"{folder}: no model in this folder (neither model.keras nor {half_weights.WEIGHTS_FILE} "
            f"with {half_weights.RECORD_FILE}); pass {RUN_HINT}"
        )
    try:
        return runs.model(folder)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ValueError(f"{folder}: the training run's model could not be loaded ({error})") from None


def input_size(model: keras.Model) -> tuple[int, int]:
    """(height, width) of the model's gray input."""
    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 4 and shape[-1] == 1):
        raise ValueError(f"model {model.name!r} does not take gray images (N, H, W, 1): input shape {shape}")
    if shape[1] is None or shape[2] is None:
        raise ValueError(f"model {model.name!r} has no fixed input size (input shape {shape})")
    return int(shape[1]), int(shape[2])


# L* of the gray triple (g, g, g) for every 8-bit g: a 256-entry table, built once
_gray_lightness: np.ndarray | None = None


def _lightness_of_gray(gray: np.ndarray) -> np.ndarray:
    global _gray_lightness
    if _gray_lightness is None:
        ramp = color.gray_baseline(np.arange(256, dtype=np.uint8))  # (256, 3)
        _gray_lightness = color.rgb_to_lab(ramp)[:, 0]
    return _gray_lightness[gray]


def predict_batch(model: keras.Model, gray: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """uint8 gray (N, S, S) at the model's input size -> uint8 RGB (N, S, S, 3).

    A 3-channel model (the paper's) outputs RGB in [-1, 1]. A 2-channel model
    is the L*a*b* variant: it outputs a*, b* divided by 128, which are joined
    with the L* of the input gray (read as the RGB triple (g, g, g)) and
    converted to sRGB. Runs `batch_size` images at a time, so only that many
    float outputs are held at once. Full batches run through Keras' compiled predict step, and
    a shorter last batch runs eagerly, so a model traces or compiles one batch shape however
    many photos each call brings, and a single photo costs one image's work.
    """
    gray = np.asarray(gray)
    if gray.dtype != np.uint8 or gray.ndim != 3:
        raise ValueError(f"predict_batch expects uint8 gray (N, H, W), got {gray.dtype} {gray.shape}")
    if tuple(gray.shape[1:]) != input_size(model):
        raise ValueError(
            f"gray images are {gray.shape[1:]} but the model takes {input_size(model)}; "
            "resize them first, or use colorize_photo for photos of any size"
        )
    channels = model.output_shape[-1]
    if channels not in (2, 3):
        raise ValueError(f"model {model.name!r} outputs {channels} channels; expected 3 (RGB) or 2 (a*, b*)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    rgb = np.empty((*gray.shape, 3), dtype=np.uint8)
    for start in range(0, len(gray), batch_size):
        chunk = gray[start:start + batch_size]
        inputs = color.gray_to_input(chunk)
        # full batches go through Keras' compiled predict step, which so sees one shape per model and
        # traces it once; a shorter remainder (or a single photo) runs eagerly: no second trace, no padding
        output = np.asarray(model.predict_on_batch(inputs) if len(chunk) == batch_size else model(inputs, training=False))
        if channels == 3:
            rgb[start:start + len(chunk)] = color.output_to_rgb(output)
        else:
            lab = np.concatenate([_lightness_of_gray(chunk)[..., None], output * 128.0], axis=-1)
            rgb[start:start + len(chunk)] = color.lab_to_rgb(lab)
    return rgb


# ------------------------------------------------------ photos of any size


def _gray_of(photo: np.ndarray) -> np.ndarray:
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or not (photo.ndim == 2 or (photo.ndim == 3 and photo.shape[-1] == 3)):
        raise ValueError(
            f"expected a uint8 photo (H, W, 3) or (H, W), got {photo.dtype} {photo.shape}; "
            "read files with images.read_photo, which gives 8-bit RGB"
        )
    return photo if photo.ndim == 2 else color.rgb_to_gray(photo)


def _shrink(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 gray (H, W) -> uint8 (size) by LANCZOS (it widens its kernel when
    shrinking, so it averages rather than aliases). Aspect ratio is not kept:
    the colours are stretched back by the same factors in transfer_chroma."""
    height, width = size
    return np.asarray(Image.fromarray(gray).resize((width, height), SHRINK_FILTER))


def _upscale(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 (h, w) -> float32 (height, width), Pillow 'F' mode: no 8-bit rounding."""
    return np.asarray(Image.fromarray(plane, mode="F").resize((width, height), CHROMA_FILTER))


def transfer_chroma(gray: np.ndarray, small_rgb: np.ndarray) -> np.ndarray:
    """Full-resolution gray + low-resolution colour -> full-resolution colour.

    gray: uint8 (H, W), the photo's luma Y. small_rgb: uint8 (h, w, 3), any size.
    Returns uint8 RGB (H, W, 3) whose BT.601 luma is Y and whose colour
    differences R - Y, B - Y are those of small_rgb, bicubically upscaled
    (G - Y follows, since luma is fixed). Works in float32 row bands.
    """
    gray, small_rgb = np.asarray(gray), np.asarray(small_rgb)
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"gray must be uint8 (H, W), got {gray.dtype} {gray.shape}")
    if small_rgb.dtype != np.uint8 or small_rgb.ndim != 3 or small_rgb.shape[-1] != 3:
        raise ValueError(f"small_rgb must be uint8 (h, w, 3), got {small_rgb.dtype} {small_rgb.shape}")
    small = small_rgb.astype(np.float32)
    small_luma = small @ color.LUMA_WEIGHTS.astype(np.float32)
    height, width = gray.shape
    red_diff = _upscale(small[..., 0] - small_luma, height, width)
    blue_diff = _upscale(small[..., 2] - small_luma, height, width)

    rgb = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        luma = gray[rows].astype(np.float32)
        red, blue = red_diff[rows], blue_diff[rows]
        green = (KR * red + KB * blue) * np.float32(-1.0 / KG)  # KR dR + KG dG + KB dB = 0
        for channel, difference in enumerate((red, green, blue)):
            value = luma + difference
            np.rint(value, out=value)
            np.clip(value, 0, 255, out=value)
            rgb[rows, :, channel] = value
    return rgb


def colorize_photos(model: keras.Model, photos: Sequence[np.ndarray], batch_size: int = 16) -> Iterator[np.ndarray]:
    """Colorize photos of any sizes at their native size, the model run on
    all of them in batches; yields uint8 RGB (H, W, 3) one photo at a time.

    photos: uint8 RGB (H, W, 3) or gray (H, W); a colour photo is made gray first.
    """
    grays = [_gray_of(photo) for photo in photos]
    if not grays:
        return
    size = input_size(model)
    predicted = predict_batch(model, np.stack([_shrink(gray, size) for gray in grays]), batch_size)
    for gray, small_rgb in zip(grays, predicted):
        yield transfer_chroma(gray, small_rgb)


def colorize_photo(model: keras.Model, photo: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) or gray (H, W) of any size -> uint8 RGB (H, W, 3),
    same size, luminance kept at full resolution (see the module docstring)."""
    return next(colorize_photos(model, [photo]))


# ---------------------------------------------------------------------- files


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links, or differently spelled paths
    except OSError:  # one of them does not exist yet
        return False


def _write(rgb: np.ndarray, alpha: np.ndarray | None, out_path: Path, in_path: Path) -> None:
    """Write the colorized photo, alpha re-attached (dropped by JPEG), never over the input."""
    if _same_file(in_path, out_path):
        raise ValueError(f"{out_path}: refusing to write over the input photo; choose another output folder")
    array = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=-1)
    images.write_image_atomic(array, out_path)


def colorize_file(model: keras.Model, in_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Read a photo (any mode Pillow reads; EXIF orientation applied), colorize
    it at its native size, write it to out_path (format from the suffix).
    An alpha channel is kept for PNG/WebP/TIFF outputs. Returns out_path.

    Raises images.UnreadableImageError for a file that is not a usable image,
    ValueError if out_path is the input file itself.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    if _same_file(in_path, out_path):
        raise ValueError(f"{out_path}: refusing to write over the input photo; choose another output path")
    photo = images.read_photo(in_path)
    _write(colorize_photo(model, photo.rgb), photo.alpha, out_path, in_path)
    return out_path


# --------------------------------------------------------- many files at once


@dataclass
class Result:
    """What happened to one input: output is None when it failed before naming one.

    skipped: a file found by searching a folder (or matched by a pattern) that
    is not an image; it was left alone, ok is False and error says why, but
    it is not a failure.
    """
    path: Path
    output: Path | None
    ok: bool
    error: str | None = None
    skipped: bool = False


def _output_names(sources: list[images.Source], out_dir: Path, suffix: str | None) -> list[Path | None]:
    """out_dir/<relative path with the new suffix>; a name already taken by an
    earlier output or by any input gets -2, -3, ... before its suffix."""
    def key(path: Path) -> str:
        return str(path.resolve()).casefold()  # case-insensitive file systems collide too

    taken = {key(source.path) for source in sources if source.problem is None}
    names = []
    for source in sources:
        if source.problem is not None:
            names.append(None)
            continue
        name = source.relative.with_suffix(suffix or source.relative.suffix)
        target, number = out_dir / name, 2
        while key(target) in taken:
            target = out_dir / name.with_name(f"{name.stem}-{number}{name.suffix}")
            number += 1
        taken.add(key(target))
        names.append(target)
    return names


def colorize_paths(
    model: keras.Model,
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    suffix: str | None = ".png",
    progress: bool = True,
    batch_size: int = 8,
) -> list[Result]:
    """Colorize every photo named by inputs (see images.expand_inputs) into out_dir.

    Outputs are named after their inputs: ``<stem><suffix>`` (suffix None keeps
    each input's own), with a folder input's subfolders kept below out_dir.
    Files inside out_dir are skipped when searching folders, an input is never
    overwritten, and two inputs never share an output (the later gets
    ``<stem>-2``). Photos are read and run through the model `batch_size` at a
    time. A file that cannot be read or written gives Result(ok=False, error=why)
    and the rest go on. A file found in a folder (or by a pattern) whose suffix
    Pillow does not read is not opened: it gives Result(ok=False, skipped=True,
    error="not an image (<suffix>)"), which is not a failure. Returns one Result
    per input file, in input order.
    """
    out_dir = Path(out_dir).expanduser()
    if suffix is not None and Image.registered_extensions().get(suffix.lower()) is None:
        raise ValueError(f"unknown output suffix {suffix!r}; use '.png', '.jpg' or None (keep the input's)")
    sources = images.collect(inputs, skip=out_dir.resolve())
    targets = _output_names(sources, out_dir, suffix)
    results: list[Result | None] = [
        Result(source.path, None, False, source.problem, source.skipped) if source.problem else None
        for source in sources
    ]
    pending = [index for index, result in enumerate(results) if result is None]
    bar = tqdm(total=len(sources), unit="photo", disable=not progress or len(sources) < 2, file=sys.stderr)
    bar.update(len(sources) - len(pending))
    for start in range(0, len(pending), batch_size):
        loaded = []  # (index, gray, alpha): only the gray is kept, not the full RGB photo
        for index in pending[start:start + batch_size]:
            try:
                photo = images.read_photo(sources[index].path)
            except images.UnreadableImageError as error:
                results[index] = Result(sources[index].path, targets[index], False, error.reason)
                bar.update()
                continue
            loaded.append((index, color.rgb_to_gray(photo.rgb), photo.alpha))
        colorized = colorize_photos(model, [gray for _, gray, _ in loaded], batch_size)
        for (index, _, alpha), rgb in zip(loaded, colorized):
            source, target = sources[index], targets[index]
            try:
                _write(rgb, alpha, target, source.path)
                results[index] = Result(source.path, target, True)
            except (OSError, ValueError) as error:
                results[index] = Result(source.path, target, False, str(error))
            bar.update()
    bar.close()
    return results

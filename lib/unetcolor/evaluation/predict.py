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

import datetime
import hashlib
import json
import os
import re
import sys
import threading
import time
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from PIL import Image
from tqdm import tqdm  # plain text bars: the same in terminals, notebooks and papermill logs

from .. import color, files, shipped
from ..photos import images
from ..reproducibility import usable_cores
from ..unet import half_weights, runs

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
    """(height, width) of the model's gray input (a hints model's gray, hint map and mask)."""
    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 4 and shape[-1] in (1, 4)):
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
        if model.input_shape[-1] == 4:  # a hints model given no hint: an empty hint map and mask
            inputs = np.concatenate([inputs, np.zeros((*inputs.shape[:3], 3), dtype=inputs.dtype)], axis=-1)
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

# colorize's temporary files, `.<output name>.colorize-tmp-<8 random characters><suffix>`
# (tempfile's names): distinctive, so that removing stale ones never touches anything else
TEMPORARY_MARKER = "colorize-tmp-"
_TEMPORARY = re.compile(r"\.(?P<name>.+)\." + re.escape(TEMPORARY_MARKER) + r"[a-z0-9_]{8}(?P<suffix>\.[^.]+)")


# zlib level 1: on photos (their noise barely deflates) about the size level 6 gives, in a third
# to a quarter of the time; encoding the PNG is the slowest step of colorizing a large photo
PNG_COMPRESS_LEVEL = 1


def is_temporary(name: str) -> bool:
    """Whether a file name is one of colorize's temporary files (see TEMPORARY_MARKER)."""
    match = _TEMPORARY.fullmatch(name)
    return match is not None and match["name"].endswith(match["suffix"])


def remove_stale_temporaries(out_dir: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that a killed colorize (``kill -9``, a power cut) left below
    out_dir, and return them. Only files named as colorize names them (is_temporary) whose
    writer is gone (files.remove_abandoned: unlocked, unchanged for seconds) are removed, so a
    colorize writing into the same folder at the same time keeps its own."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return sorted(path for path in out_dir.rglob(".*")
                  if is_temporary(path.name) and path.is_file() and not path.is_symlink()
                  and files.remove_abandoned(path))


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
    images.write_image_atomic(array, out_path, marker=TEMPORARY_MARKER, png_compress_level=PNG_COMPRESS_LEVEL)


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

DONE, EXISTING, FAILED, NOT_AN_IMAGE = "done", "skipped-existing", "failed", "not-an-image"
LOG_NAME = "colorize-log.jsonl"


@dataclass
class Result:
    """What happened to one input: status is DONE (colorized now), EXISTING (its output was
    already there, complete: skipped), FAILED (error says why; output is None when it failed
    before naming one) or NOT_AN_IMAGE (a file found by searching a folder, or matched by a
    pattern, whose suffix Pillow does not read: left alone, not a failure). seconds: the work
    spent on it, its share of the model's batch included."""
    path: Path
    output: Path | None
    status: str
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in (DONE, EXISTING)

    @property
    def skipped(self) -> bool:
        return self.status == NOT_AN_IMAGE


@dataclass(frozen=True)
class Shard:
    """Part `index` of `count` (1 <= index <= count) of a colorize call's inputs. An input
    belongs to one part, chosen by a hash of its path below the folder it was found in (its
    name, for a file named alone), so every process given the same inputs agrees whatever the
    others do, and the parts together are all the inputs."""
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'K/N' -> Shard(K, N); ValueError saying what is wrong otherwise."""
        parts = text.split("/")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise ValueError(f"--shard takes K/N, two whole numbers such as 1/4, got {text!r}")
        index, count = (int(part) for part in parts)
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"--shard K/N needs 1 <= K <= N, got {text!r} (the parts of 4 are 1/4 ... 4/4)")
        return cls(index, count)

    def takes(self, key: Path) -> bool:
        digest = hashlib.sha256(key.as_posix().encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class Run:
    """What colorize_paths did: one Result per input of this shard, in input order; the stale
    temporary files it removed first; how many photos all the inputs name (every shard's);
    the log it appended to; and the wall seconds and the seconds the model ran."""
    results: list[Result]
    stale_removed: list[Path]
    photos_found: int
    log: Path
    wall_seconds: float = 0.0
    model_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)


def log_name(shard: Shard | None) -> str:
    """colorize-log.jsonl, or one file per shard, so that processes never write to one file."""
    return LOG_NAME if shard is None else f"colorize-log-shard-{shard.index}-of-{shard.count}.jsonl"


class _Log:
    """A JSON-lines log appended to line by line, each line flushed as it is written, so that a
    killed run keeps every line it wrote. Safe to write from several threads."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.run = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def write(self, result: Result) -> None:
        line = json.dumps({"run": self.run, "input": str(result.path),
                           "output": None if result.output is None else str(result.output),
                           "status": result.status, "seconds": round(result.seconds, 3), "error": result.error})
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self) -> None:
        self.file.close()


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


def existing_output(in_path: Path, out_path: Path) -> str | None:
    """Whether out_path already holds in_path's colorized photo: None if it does not exist or is
    not a whole image file (a truncated or unreadable file is redone), "complete" if it is an image
    of the input's displayed size, else why it is left alone (an image of another size: some
    other photo's output, or not colorize's file).

    Outputs are written under a temporary name and renamed (write_image_atomic), so a file under
    the final name was written whole; the check reads only headers and the output's last bytes
    (images.whole_image_size), never the pixels, except to confirm a size mismatch that an EXIF
    orientation found only by decoding could explain."""
    if not out_path.exists():
        return None
    written = images.whole_image_size(out_path)
    if written is None:
        return None
    if written == images.displayed_size(in_path):
        return "complete"
    try:
        rgb = images.read_photo(in_path).rgb
    except images.UnreadableImageError:
        return None  # the read that follows reports why
    if written == (rgb.shape[1], rgb.shape[0]):
        return "complete"
    return (f"{out_path} exists and is a {written[0]}x{written[1]} image, not this {rgb.shape[1]}x{rgb.shape[0]} "
            "photo's output: left as it is; pass --overwrite to replace it, or choose another --out")


@dataclass
class _Loaded:
    """A photo read and made ready for the model: full-size gray (H, W), the gray shrunk to the
    model's input, its alpha (or None), and the seconds that took."""
    gray: np.ndarray
    small: np.ndarray
    alpha: np.ndarray | None
    seconds: float


def _read(source: images.Source, target: Path, size: tuple[int, int], overwrite: bool) -> Result | _Loaded:
    """One input, in a reader thread: its Result if it needs no model (output already there,
    unreadable), else the photo _Loaded."""
    started = time.perf_counter()
    if not overwrite:
        existing = existing_output(source.path, target)
        if existing is not None:
            status, error = (EXISTING, None) if existing == "complete" else (FAILED, existing)
            return Result(source.path, target, status, error, time.perf_counter() - started)
    try:
        photo = images.read_photo(source.path)
    except images.UnreadableImageError as error:
        return Result(source.path, target, FAILED, error.reason, time.perf_counter() - started)
    gray = color.rgb_to_gray(photo.rgb)  # only the gray is kept, not the full RGB photo
    return _Loaded(gray, _shrink(gray, size), photo.alpha, time.perf_counter() - started)


def _finish(loaded: _Loaded, small_rgb: np.ndarray, source: images.Source, target: Path,
            model_seconds: float) -> Result:
    """One photo's colour laid over its gray and written, in a writer thread."""
    started = time.perf_counter()
    try:
        _write(transfer_chroma(loaded.gray, small_rgb), loaded.alpha, target, source.path)
        status, error = DONE, None
    except (OSError, ValueError) as failure:
        status, error = FAILED, str(failure)
    return Result(source.path, target, status, error, loaded.seconds + model_seconds + time.perf_counter() - started)


def default_workers() -> int:
    """Reader threads, and as many writer threads, colorize_paths uses by default: one per
    usable core, at most 4 (decoding and encoding release Python's lock in Pillow and NumPy)."""
    return max(1, min(4, usable_cores()))


def colorize_paths(
    model: keras.Model,
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    suffix: str | None = ".png",
    progress: bool = True,
    batch_size: int = 8,
    overwrite: bool = False,
    shard: Shard | None = None,
    workers: int | None = None,
) -> Run:
    """Colorize every photo named by inputs (see images.expand_inputs) into out_dir.

    Outputs are named after their inputs: ``<stem><suffix>`` (suffix None keeps
    each input's own), with a folder input's subfolders kept below out_dir.
    Files inside out_dir are skipped when searching folders, an input is never
    overwritten, and two inputs never share an output (the later gets
    ``<stem>-2``; names are decided over all inputs, every shard's).

    Resuming: an output already there and complete (existing_output) is not redone
    (Result EXISTING) unless overwrite; stale temporary files a killed run left are
    removed first (remove_stale_temporaries). shard: only that part of the inputs
    (Shard). Every Result is appended to out_dir/colorize-log.jsonl (log_name) as it
    happens: input, output, status, seconds, error.

    The pipeline: `workers` reader threads decode photos (read, gray, shrink) ahead of
    the model, the model runs `batch_size` photos at a time in the calling thread, and
    `workers` writer threads lay the colour over each gray and write it. At most
    2 * batch_size + workers decoded photos (their gray, shrunk gray and alpha) wait for
    the model and workers + 1 for a writer, so memory stays bounded whatever the
    folder's size. The outputs are those of
    colorize_photos on the same batches (the batches hold photos that need the model,
    in input order). An exception in the calling thread (KeyboardInterrupt) lets the
    running reads and writes finish, cancels the rest, and propagates: every output is
    either whole or absent.

    A file that cannot be read or written gives a FAILED Result and the rest go on. A
    file found in a folder (or by a pattern) whose suffix Pillow does not read is not
    opened: NOT_AN_IMAGE, error "not an image (<suffix>)". Returns the Run.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir).expanduser()
    if suffix is not None and Image.registered_extensions().get(suffix.lower()) is None:
        raise ValueError(f"unknown output suffix {suffix!r}; use '.png', '.jpg' or None (keep the input's)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    workers = workers or default_workers()
    size = input_size(model)
    sources = images.collect(inputs, skip=out_dir.resolve())
    targets = _output_names(sources, out_dir, suffix)
    found = sum(source.problem is None for source in sources)
    mine = [index for index, source in enumerate(sources)
            if shard is None or shard.takes(source.relative or Path(source.path.name))]
    stale = remove_stale_temporaries(out_dir)
    try:
        log = _Log(out_dir / log_name(shard))
    except OSError as error:
        raise OSError(f"{out_dir}: cannot write into the output folder ({error.strerror or error}); "
                      "choose another --out") from None
    run = Run([], stale, found, out_dir / log_name(shard))
    results: dict[int, Result] = {}
    bar = tqdm(total=len(mine), unit="photo", disable=not progress or len(mine) < 2, file=sys.stderr)

    def record(index: int, result: Result) -> None:  # from the calling thread and the writers
        results[index] = result
        log.write(result)
        bar.update()

    for index in mine:
        source = sources[index]
        if source.problem is not None:
            record(index, Result(source.path, None, NOT_AN_IMAGE if source.skipped else FAILED, source.problem))
    pending = iter(index for index in mine if sources[index].problem is None)
    readers = ThreadPoolExecutor(workers, thread_name_prefix="colorize-read")
    writers = ThreadPoolExecutor(workers, thread_name_prefix="colorize-write")
    reading: deque = deque()  # (index, future), in input order
    writing: deque = deque()

    def read_ahead() -> None:
        while len(reading) < batch_size + workers and (index := next(pending, None)) is not None:
            reading.append((index, readers.submit(_read, sources[index], targets[index], size, overwrite)))

    def write(index: int, loaded: _Loaded, small_rgb: np.ndarray, model_seconds: float) -> None:
        record(index, _finish(loaded, small_rgb, sources[index], targets[index], model_seconds))

    def run_model(batch: list[tuple[int, _Loaded]]) -> None:
        model_started = time.perf_counter()
        predicted = predict_batch(model, np.stack([loaded.small for _, loaded in batch]), batch_size)
        seconds = time.perf_counter() - model_started
        run.model_seconds += seconds
        for (index, loaded), small_rgb in zip(batch, predicted):
            while len(writing) > workers:
                writing.popleft().result()  # bounds the photos waiting; raises a writer's unexpected error
            writing.append(writers.submit(write, index, loaded, small_rgb, seconds / len(batch)))

    try:
        read_ahead()
        batch: list[tuple[int, _Loaded]] = []
        while reading:
            index, future = reading.popleft()
            read_ahead()
            item = future.result()
            if isinstance(item, Result):
                record(index, item)
            else:
                batch.append((index, item))
            if batch and (len(batch) == batch_size or not reading):
                run_model(batch)
                batch = []
        for future in writing:
            future.result()
    finally:
        # on an interrupt: the running reads and writes finish (each output whole), the rest are cancelled
        readers.shutdown(wait=True, cancel_futures=True)
        writers.shutdown(wait=True, cancel_futures=True)
        bar.close()
        log.close()
    run.results = [results[index] for index in mine]
    run.wall_seconds = time.perf_counter() - started
    return run

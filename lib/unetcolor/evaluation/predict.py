"""Colorizing photos of any size (paper Figure 8), for notebook 06 and the `colorize` command: the model colours
the gray shrunk to its input square, and only its R - Y and B - Y are upscaled onto the full-resolution gray Y."""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import os
import re
import sys
import threading
import time
import zipfile
from collections import deque, namedtuple
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
SHRINK_FILTER = Image.Resampling.LANCZOS  # as training photos are resized
BAND_ROWS = 512  # rows recombined at a time: bounds the float32 temporaries
RUN_HINT = (f"a .keras file or a training run folder holding model.keras or {half_weights.WEIGHTS_FILE} + "
            f"{half_weights.RECORD_FILE}, e.g. models/paper/<run> (models/paper/main.json names the paper's main run)")
_LOAD_ERRORS = (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile)

KR, KG, KB = (float(weight) for weight in color.LUMA_WEIGHTS)


def default_model_path() -> Path | None:
    """$UNETCOLOR_MODEL if set (even if missing), else the packaged default model if it exists, else None."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).expanduser()
    packaged = packaged_model_path(shipped.DEFAULT.name)
    return packaged if packaged.is_file() else None


def packaged_model_path(name: str) -> Path:
    """``unetcolor/weights/<name>.keras`` of a shipped colorizer."""
    if name not in shipped.NAMES:
        raise ValueError(f"no packaged colorizer named {name!r}; the packaged ones are {', '.join(shipped.NAMES)}")
    return shipped.WEIGHTS_DIR / f"{name}.keras"


def load_model(path: str | os.PathLike) -> keras.Model:
    """A colorizer, uncompiled, from a ``.keras`` file (safe mode), a training run folder or its float16
    weights file; FileNotFoundError or ValueError naming the path and what to pass instead."""
    path = Path(path).expanduser()
    if path.suffix == ".npz" and path.is_file():  # float16 weights: loaded through their run folder
        recorded = None
        with contextlib.suppress(FileNotFoundError, ValueError, AttributeError):
            recorded = half_weights.read_record(path.parent).get("file")
        if recorded != path.name:
            raise ValueError(
                f"{path}: float16 weights load only through their run folder, whose {half_weights.RECORD_FILE} "
                f"names this file and whose config.json rebuilds the U-Net; {path.parent / half_weights.RECORD_FILE} "
                f"is missing, unreadable or names another file; pass {RUN_HINT}")
        path = path.parent
    if path.is_dir():
        if not runs.has_weights(path):
            raise FileNotFoundError(f"{path}: no model in this folder (neither model.keras nor "
                                    f"{half_weights.WEIGHTS_FILE} with {half_weights.RECORD_FILE}); pass {RUN_HINT}")
        try:
            return runs.model(path)
        except _LOAD_ERRORS as error:
            raise ValueError(f"{path}: the training run's model could not be loaded ({error})") from None
    if not path.is_file():
        if runs.has_weights(path.parent):
            raise FileNotFoundError(f"{path}: no such file; its folder is a training run: "
                                    f"pass the folder {path.parent} instead")
        raise FileNotFoundError(f"{path}: no such model file or folder; pass {RUN_HINT}, "
                                "or train one with `make train` (it writes models/<profile>/<run>/model.keras)")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except _LOAD_ERRORS as error:
        raise ValueError(f"{path}: not a loadable Keras model ({error}); pass {RUN_HINT}") from None


def input_size(model: keras.Model) -> tuple[int, int]:
    """(height, width) of the model's gray input (a hints model's gray, hint map and mask)."""
    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 4 and shape[-1] in (1, 4)):
        raise ValueError(f"model {model.name!r} does not take gray images (N, H, W, 1): input shape {shape}")
    if shape[1] is None or shape[2] is None:
        raise ValueError(f"model {model.name!r} has no fixed input size (input shape {shape})")
    return int(shape[1]), int(shape[2])


@functools.cache
def _gray_lightness() -> np.ndarray:
    """L* of the gray triple (g, g, g) for every 8-bit g."""
    return color.rgb_to_lab(color.gray_baseline(np.arange(256, dtype=np.uint8)))[:, 0]


def _lightness_of_gray(gray: np.ndarray) -> np.ndarray:
    return _gray_lightness()[gray]


def predict_batch(model: keras.Model, gray: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """uint8 gray (N, S, S) at the model's input size -> uint8 RGB (N, S, S, 3), `batch_size` images at a time."""
    gray = np.asarray(gray)
    if gray.dtype != np.uint8 or gray.ndim != 3:
        raise ValueError(f"predict_batch expects uint8 gray (N, H, W), got {gray.dtype} {gray.shape}")
    if tuple(gray.shape[1:]) != input_size(model):
        raise ValueError(f"gray images are {gray.shape[1:]} but the model takes {input_size(model)}; "
                         "resize them first, or use colorize_photo for photos of any size")
    if (channels := model.output_shape[-1]) not in (2, 3):
        raise ValueError(f"model {model.name!r} outputs {channels} channels; expected 3 (RGB) or 2 (a*, b*)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rgb = np.empty((*gray.shape, 3), dtype=np.uint8)
    for start in range(0, len(gray), batch_size):
        chunk = gray[start:start + batch_size]
        inputs = color.gray_to_input(chunk)
        if model.input_shape[-1] == 4:  # a hints model given no hint: an empty hint map and mask
            inputs = np.concatenate([inputs, np.zeros((*inputs.shape[:3], 3), dtype=inputs.dtype)], axis=-1)
        eager = len(chunk) < batch_size  # a short last batch runs eagerly: the compiled step keeps one batch shape
        output = np.asarray(model(inputs, training=False) if eager else model.predict_on_batch(inputs))
        if channels == 2:  # a*, b* / 128 beside the gray's own L*
            output = np.concatenate([_lightness_of_gray(chunk)[..., None], output * 128.0], axis=-1)
        rgb[start:start + len(chunk)] = color.output_to_rgb(output) if channels == 3 else color.lab_to_rgb(output)
    return rgb


def _gray_of(photo: np.ndarray) -> np.ndarray:
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or not (photo.ndim == 2 or (photo.ndim == 3 and photo.shape[-1] == 3)):
        raise ValueError(f"expected a uint8 photo (H, W, 3) or (H, W), got {photo.dtype} {photo.shape}; "
                         "read files with images.read_photo, which gives 8-bit RGB")
    return photo if photo.ndim == 2 else color.rgb_to_gray(photo)


def _shrink(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 gray (H, W) -> uint8 (size) by LANCZOS, aspect ratio not kept."""
    return np.asarray(Image.fromarray(gray).resize((size[1], size[0]), SHRINK_FILTER))


def transfer_chroma(gray: np.ndarray, small_rgb: np.ndarray) -> np.ndarray:
    """uint8 gray Y (H, W) + uint8 RGB (h, w, 3) -> uint8 RGB (H, W, 3) of luma Y and small_rgb's R - Y, B - Y."""
    gray, small_rgb = np.asarray(gray), np.asarray(small_rgb)
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"gray must be uint8 (H, W), got {gray.dtype} {gray.shape}")
    if small_rgb.dtype != np.uint8 or small_rgb.ndim != 3 or small_rgb.shape[-1] != 3:
        raise ValueError(f"small_rgb must be uint8 (h, w, 3), got {small_rgb.dtype} {small_rgb.shape}")
    small = small_rgb.astype(np.float32)
    small_luma = small @ color.LUMA_WEIGHTS.astype(np.float32)
    height, width = gray.shape
    # float32 'F' mode: no 8-bit rounding
    red_diff, blue_diff = (np.asarray(Image.fromarray(small[..., channel] - small_luma, mode="F")
                                      .resize((width, height), Image.Resampling.BICUBIC)) for channel in (0, 2))
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        red, blue = red_diff[rows], blue_diff[rows]
        green = (KR * red + KB * blue) * np.float32(-1.0 / KG)  # KR dR + KG dG + KB dB = 0
        value = np.rint(gray[rows, :, None].astype(np.float32) + np.stack((red, green, blue), axis=-1))
        rgb[rows] = np.clip(value, 0, 255, out=value)
    return rgb


def colorize_photos(model: keras.Model, photos: Sequence[np.ndarray], batch_size: int = 16) -> Iterator[np.ndarray]:
    """Colorize uint8 RGB (H, W, 3) or gray (H, W) photos of any sizes at their native size, in batches."""
    grays = [_gray_of(photo) for photo in photos]
    if grays:
        predicted = predict_batch(model, np.stack([_shrink(gray, input_size(model)) for gray in grays]), batch_size)
        yield from map(transfer_chroma, grays, predicted)


def colorize_photo(model: keras.Model, photo: np.ndarray) -> np.ndarray:
    """One photo of any size (see colorize_photos) -> uint8 RGB (H, W, 3) of the same size."""
    return next(colorize_photos(model, [photo]))


# colorize's temporary files, `.<output name>.colorize-tmp-<8 random characters><suffix>`: distinctive, so that
# removing stale ones never touches anything else
TEMPORARY_MARKER = "colorize-tmp-"
_TEMPORARY = re.compile(r"\.(?P<name>.+)\." + re.escape(TEMPORARY_MARKER) + r"[a-z0-9_]{8}(?P<suffix>\.[^.]+)")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of colorize's temporary files."""
    return (match := _TEMPORARY.fullmatch(name)) is not None and match["name"].endswith(match["suffix"])


def _refuse_the_input(in_path: Path, out_path: Path) -> None:
    """ValueError if out_path is in_path, however spelled or hard-linked."""
    same = False
    with contextlib.suppress(OSError):  # one of them does not exist yet
        same = in_path.resolve() == out_path.resolve() or os.path.samefile(in_path, out_path)
    if same:
        raise ValueError(f"{out_path}: refusing to write over the input photo; choose another output folder or name")


def _write(rgb: np.ndarray, alpha: np.ndarray | None, out_path: Path, in_path: Path) -> None:
    """Write the colorized photo, alpha re-attached (dropped by JPEG), never over the input."""
    _refuse_the_input(in_path, out_path)
    array = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=-1)
    # PNG level 1: about level 6's size on photos, in a third of the time
    images.write_image_atomic(array, out_path, marker=TEMPORARY_MARKER, png_compress_level=1)


def colorize_file(model: keras.Model, in_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Colorize a photo file at its native size into out_path (alpha kept where it can be); returns out_path."""
    _refuse_the_input(Path(in_path), Path(out_path))  # before the work, not after it
    photo = images.read_photo(in_path)
    _write(colorize_photo(model, photo.rgb), photo.alpha, Path(out_path), Path(in_path))
    return Path(out_path)


def remove_stale_temporaries(out_dir: str | os.PathLike) -> list[Path]:
    """Remove, and return, the temporary files below out_dir whose writer is gone (files.remove_abandoned)."""
    return sorted(path for path in Path(out_dir).rglob(".*")
                  if is_temporary(path.name) and path.is_file() and not path.is_symlink()
                  and files.remove_abandoned(path))


DONE, EXISTING, FAILED, NOT_AN_IMAGE = "done", "skipped-existing", "failed", "not-an-image"
LOG_NAME = "colorize-log.jsonl"


@dataclass
class Result:
    """What happened to one input (status DONE, EXISTING, FAILED or NOT_AN_IMAGE) and the seconds it took."""
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
    """Part `index` of `count` of a colorize call's inputs, chosen by a hash of each input's relative path."""
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'K/N' -> Shard(K, N); ValueError saying what is wrong otherwise."""
        if not (match := re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)):
            raise ValueError(f"--shard takes K/N, two whole numbers such as 1/4, got {text!r}")
        index, count = map(int, match.groups())
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
    """What colorize_paths did: this shard's Results in input order, and what it found, removed and took."""
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


def _output_names(sources: list[images.Source], out_dir: Path, suffix: str | None) -> list[Path | None]:
    """out_dir/<relative path with the new suffix>, -2, -3, ... added where an output or input has the name."""
    def key(path: Path) -> str:
        return str(path.resolve()).casefold()  # case-insensitive file systems collide too

    taken = {key(source.path) for source in sources if source.problem is None}
    names = []
    for source in sources:
        target = None
        if source.problem is None:
            name = source.relative.with_suffix(suffix or source.relative.suffix)
            target, number = out_dir / name, 2
            while key(target) in taken:
                target, number = out_dir / name.with_name(f"{name.stem}-{number}{name.suffix}"), number + 1
            taken.add(key(target))
        names.append(target)
    return names


def existing_output(in_path: Path, out_path: Path) -> tuple[str, str | None] | None:
    """None if out_path is no whole image, else (EXISTING, None) if it has the input's displayed size, else
    (FAILED, why it is left alone)."""
    if (written := images.whole_image_size(out_path)) is None:
        return None
    if written == images.displayed_size(in_path):
        return EXISTING, None
    try:
        height, width = images.read_photo(in_path).rgb.shape[:2]
    except images.UnreadableImageError:
        return None  # the read that follows reports why
    if written == (width, height):
        return EXISTING, None
    return FAILED, (f"{out_path} exists and is a {written[0]}x{written[1]} image, not this {width}x{height} "
                    "photo's output: left as it is; pass --overwrite to replace it, or choose another --out")


# a photo ready for the model: full-size gray, the gray shrunk, its alpha, and the seconds reading took
_Loaded = namedtuple("_Loaded", "gray small alpha seconds")


def default_workers() -> int:
    """colorize_paths' reader (and writer) threads by default: one per usable core, at most 4."""
    return max(1, min(4, usable_cores()))


def colorize_paths(model: keras.Model, inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                   suffix: str | None = ".png", progress: bool = True, batch_size: int = 8, overwrite: bool = False,
                   shard: Shard | None = None, workers: int | None = None) -> Run:
    """Colorize every photo named by inputs (images.collect) into out_dir as ``<stem><suffix>`` (None: the input's
    suffix), resuming where whole outputs exist unless overwrite, logging each Result. Threads read ahead and write
    behind the model; on an exception (KeyboardInterrupt) their running work finishes: outputs are whole or absent."""
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
    mine = [index for index, source in enumerate(sources)
            if shard is None or shard.takes(source.relative or Path(source.path.name))]
    run = Run([], remove_stale_temporaries(out_dir), sum(source.problem is None for source in sources),
              out_dir / log_name(shard))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        log = open(run.log, "a", encoding="utf-8")
    except OSError as error:
        raise OSError(f"{out_dir}: cannot write into the output folder ({error.strerror or error}); "
                      "choose another --out") from None
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lock = threading.Lock()
    results: dict[int, Result] = {}
    bar = tqdm(total=len(mine), unit="photo", disable=not progress or len(mine) < 2, file=sys.stderr)

    def record(index: int, result: Result) -> None:  # from the calling thread and the writers
        line = json.dumps({"run": stamp, "input": result.path, "output": result.output, "status": result.status,
                           "seconds": round(result.seconds, 3), "error": result.error}, default=str)
        with lock:
            results[index] = result
            log.write(line + "\n")
            log.flush()  # a killed run keeps every line it wrote
        bar.update()

    for index in mine:
        if (source := sources[index]).problem is not None:
            record(index, Result(source.path, None, NOT_AN_IMAGE if source.skipped else FAILED, source.problem))
    pending = iter(index for index in mine if sources[index].problem is None)
    readers = ThreadPoolExecutor(workers, thread_name_prefix="colorize-read")
    writers = ThreadPoolExecutor(workers, thread_name_prefix="colorize-write")
    reading: deque = deque()  # (index, future), in input order
    writing: deque = deque()

    def read(index: int) -> Result | _Loaded:  # in a reader thread: a Result if the model is not needed
        began, path, target = time.perf_counter(), sources[index].path, targets[index]
        if not overwrite and (existing := existing_output(path, target)) is not None:
            return Result(path, target, *existing, time.perf_counter() - began)
        try:
            photo = images.read_photo(path)
        except images.UnreadableImageError as error:
            return Result(path, target, FAILED, error.reason, time.perf_counter() - began)
        gray = color.rgb_to_gray(photo.rgb)  # only the gray is kept, not the full RGB photo
        return _Loaded(gray, _shrink(gray, size), photo.alpha, time.perf_counter() - began)

    def read_ahead() -> None:
        while len(reading) < batch_size + workers and (index := next(pending, None)) is not None:
            reading.append((index, readers.submit(read, index)))

    def write(index: int, loaded: _Loaded, small_rgb: np.ndarray, model_seconds: float) -> None:  # in a writer
        began, path, target = time.perf_counter(), sources[index].path, targets[index]
        try:
            _write(transfer_chroma(loaded.gray, small_rgb), loaded.alpha, target, path)
            status, error = DONE, None
        except (OSError, ValueError) as failure:
            status, error = FAILED, str(failure)
        record(index, Result(path, target, status, error, loaded.seconds + model_seconds + time.perf_counter() - began))

    try:
        read_ahead()
        batch: list[tuple[int, _Loaded]] = []
        while reading:
            index, future = reading.popleft()
            read_ahead()
            if isinstance(item := future.result(), Result):
                record(index, item)
            else:
                batch.append((index, item))
            if batch and (len(batch) == batch_size or not reading):
                model_started = time.perf_counter()
                predicted = predict_batch(model, np.stack([loaded.small for _, loaded in batch]), batch_size)
                seconds = time.perf_counter() - model_started
                run.model_seconds += seconds
                for (position, loaded), small_rgb in zip(batch, predicted):
                    while len(writing) > workers:
                        writing.popleft().result()  # bounds the photos waiting; raises a writer's unexpected error
                    writing.append(writers.submit(write, position, loaded, small_rgb, seconds / len(batch)))
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

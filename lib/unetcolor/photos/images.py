"""Reading and writing photos: the one reader of data preparation and the `colorize` command."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..files import write_atomic

# the usual photo suffixes: what data preparation and the dataset download count as photos
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# plugins that identify a file but cannot decode it ("can identify a stream, but it cannot read it")
_IDENTIFY_ONLY = frozenset({"MPEG"})


def readable_suffixes() -> frozenset[str]:
    """Every suffix (lower case, with the dot) of a format this Pillow opens and decodes itself,
    read anew each call so that plugins registered later count."""
    readable = set()
    for suffix, format_id in Image.registered_extensions().items():  # loads every plugin first
        factory = Image.OPEN.get(format_id, (None,))[0]
        if factory is not None and format_id not in _IDENTIFY_ONLY and not (
                isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile)):
            readable.add(suffix.lower())
    return frozenset(readable)


class UnreadableImageError(ValueError):
    """A file that is not a usable image; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


@dataclass
class Photo:
    """A decoded photo: uint8 RGB (H, W, 3), optional uint8 alpha (H, W), the source mode."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    mode: str


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer/float gray modes -> 8-bit 'L' (scaled, not clipped)."""
    array = np.asarray(image).astype(np.float64)
    top = array.max(initial=0)
    if image.mode == "F":
        peak = 1.0 if top <= 1.0 else 255.0
    else:  # the "I;16" modes, and "I" past 8 bits
        peak = 255.0 if image.mode == "I" and top <= 255 else 65535.0
    return Image.fromarray(np.clip(np.rint(array * (255.0 / peak)), 0, 255).astype(np.uint8), mode="L")


def read_photo(path: str | os.PathLike) -> Photo:
    """Decode any photo Pillow reads into 8-bit RGB with EXIF orientation applied, alpha kept apart;
    UnreadableImageError (naming the file) for empty, truncated or non-image files."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableImageError(path, "not a file")
    if path.stat().st_size == 0:
        raise UnreadableImageError(path, "empty file (0 bytes)")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            mode = image.mode
            if mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")
            alpha = np.asarray(image.getchannel("A")).copy() if image.mode in ("RGBA", "LA", "PA") else None
            if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
                image = _to_8bit(image)
            rgb = np.asarray(image.convert("RGB")).copy()
    except UnidentifiedImageError:
        raise UnreadableImageError(path, "not an image Pillow can identify") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableImageError(path, f"cannot decode ({error})") from None
    except Image.DecompressionBombError as error:
        raise UnreadableImageError(path, f"too large to decode safely ({error})") from None
    return Photo(rgb=rgb, alpha=alpha, mode=mode)


def write_image_atomic(array: np.ndarray, path: Path, quality: int = 95, marker: str = "",
                       png_compress_level: int | None = None) -> None:
    """Write uint8 (H, W), (H, W, 3) or (H, W, 4) in the format of path's suffix, atomically."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image extension {path.suffix.lower()!r}; use .png or .jpg")
    image = Image.fromarray(np.asarray(array))
    image = image.convert("RGB") if fmt == "JPEG" and image.mode == "RGBA" else image  # JPEG has no alpha channel
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG" and png_compress_level is not None:
        options["compress_level"] = png_compress_level
    write_atomic(path, lambda temporary: image.save(temporary, format=fmt, **options), marker)


# the last bytes of a whole file: PNG's IEND chunk, JPEG's end-of-image marker
_ENDINGS = {"PNG": b"\x00\x00\x00\x00IEND\xaeB`\x82", "JPEG": b"\xff\xd9"}
_TRANSPOSING = {5, 6, 7, 8}  # EXIF orientations that turn the photo a quarter


def displayed_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) as read_photo gives it, from the header alone; None if Pillow cannot identify it."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            exif = Image.Exif()
            if image.format != "TIFF":
                exif.load(image.info.get("exif") or b"")
            orientation = image.tag_v2.get(274, 1) if image.format == "TIFF" else exif.get(274, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return (height, width) if orientation in _TRANSPOSING else (width, height)


def whole_image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) of a complete image file (a PNG or JPEG must end with its closing bytes), else None."""
    try:
        with Image.open(path) as image:
            size, fmt = image.size, image.format
        ending = _ENDINGS.get(fmt, b"")
        if ending:
            with open(path, "rb") as file:
                file.seek(-len(ending), os.SEEK_END)
                if file.read() != ending:
                    return None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return size


@dataclass
class Source:
    """One input of a colorize call: a file to read, or why it is not read."""

    path: Path
    relative: Path | None  # output name below out_dir, without suffix change
    problem: str | None = None  # why it is not read: a failure, or (skipped) why it was left alone
    skipped: bool = False


def below(folder: Path, skip: Path | None = None) -> list[Path]:
    """The paths below folder, sorted, without hidden ones or anything under skip."""
    return [path for path in sorted(folder.rglob("*"))
            if not any(part.startswith(".") for part in path.relative_to(folder).parts)
            and not (skip is not None and path.resolve().is_relative_to(skip))]


def collect(inputs: Iterable[str | os.PathLike], skip: Path | None = None) -> list[Source]:
    """Each input (file, folder, glob) as Sources in the order given, each file once, none under skip."""
    suffixes = readable_suffixes()
    sources = []
    for text in map(os.fspath, inputs):
        path = Path(text).expanduser()
        if path.is_dir() and skip is not None and path.resolve().is_relative_to(skip):
            sources.append(Source(path, None, "is the output folder or inside it; name its files to colorize them"))
            continue
        if path.is_dir():
            root, found, empty = path, below(path, skip), "folder holds no images (no file with a suffix Pillow reads)"
        elif path.exists():
            sources.append(Source(path, Path(path.name)))
            continue
        elif any(character in text for character in "*?["):
            matches = [Path(match) for match in sorted(glob.glob(os.path.expanduser(text), recursive=True))]
            root, found = None, [match for match in matches if match.is_file()]
            found += [path for match in matches if match.is_dir() for path in below(match, skip)]
            empty = "pattern matched no image files"
        else:
            sources.append(Source(path, None, "no such file or folder"))
            continue
        files = [file for file in found if file.is_file() and file.suffix.lower() in suffixes]
        sources += [Source(file, file.relative_to(root) if root else Path(file.name)) for file in files]
        sources += [Source(other, None, f"not an image ({other.suffix or 'no suffix'})", skipped=True)
                    for other in found if other.is_file() and other.suffix.lower() not in suffixes]
        if not files:
            sources.append(Source(path, None, empty))
    # the same file named twice (say, by a folder and by a pattern) is done once, and a
    # file named explicitly is read (and its failure reported) rather than skipped
    read = {source.path.resolve() for source in sources if source.problem is None}
    seen, unique = set(), []
    for source in sources:
        key = source.path.resolve()
        if (source.skipped and key in read) or ((source.problem is None or source.skipped) and key in seen):
            continue
        seen.add(key)
        unique.append(source)
    return unique


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files, folders (recursively, every suffix Pillow reads) and glob patterns -> the photo files, each
    once, in order. Inputs that match nothing are returned as given, for the caller to report."""
    return [source.path for source in collect(inputs) if not source.skipped]

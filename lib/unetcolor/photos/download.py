"""The paper's dataset (Kaggle ``balraj98/summer2winter-yosemite``), fetched from the CycleGAN authors' mirror:
idempotent, verified before extraction, safe (no absolute, `..` or symlink members) and atomic."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import stat
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import Counter
from pathlib import Path, PurePosixPath

from tqdm import tqdm  # plain text bars: the same in terminals, notebooks and papermill logs

from .. import paths
from ..files import sha256_file, staged_folder
from ..reproducibility import batch_mode
from .images import IMAGE_SUFFIXES

DEFAULT_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/summer2winter_yosemite.zip"
DATASET_NAME = "summer2winter_yosemite"
KAGGLE_DATASET = "balraj98/summer2winter-yosemite"
# each season's folders and photo counts (the season names are unetcolor.profiles.SEASONS)
SEASON_FOLDERS = {"summer": {"trainA": 1231, "testA": 309}, "winter": {"trainB": 962, "testB": 238}}
# one archive holds both seasons, verified and extracted whole
EXPECTED_COUNTS = {folder: count for counts in SEASON_FOLDERS.values() for folder, count in counts.items()}
MARKER = ".complete"
CHUNK_BYTES = 1 << 20


class ArchiveError(ValueError):
    """A download or archive that failed verification; the message says what is wrong."""


def fetch_dataset(raw_dir: str | os.PathLike, url: str = DEFAULT_URL, sha256: str | None = None,
                  expected_counts: dict[str, int] | None = None, progress: bool | None = None) -> Path:
    """Download (http://, https:// or file://), verify and extract the dataset into raw_dir/DATASET_NAME; return
    that folder. ArchiveError naming the URL when two attempts fail; ValueError where that folder is unverified."""
    raw_dir = Path(raw_dir)
    expected_counts = dict(EXPECTED_COUNTS if expected_counts is None else expected_counts)
    target = raw_dir / DATASET_NAME
    if _is_complete(target, expected_counts, sha256):
        return target
    raw_dir.mkdir(parents=True, exist_ok=True)
    parsed = urllib.parse.urlparse(url)
    filename = PurePosixPath(parsed.path).name
    archive = raw_dir / (filename if filename.endswith(".zip") else f"{DATASET_NAME}.zip")
    # A file:// URL may name the archive's own place in raw_dir: never delete the user's file.
    own_file = parsed.scheme == "file" and Path(urllib.request.url2pathname(parsed.path)).resolve() == archive.resolve()
    for _attempt in range(2):  # one retry: a dropped connection is common, a second one is not
        try:
            if not archive.is_file():
                _download(url, archive, not batch_mode() if progress is None else progress)
            root = verify_archive(archive, expected_counts, sha256)
            break
        except (ArchiveError, OSError, http.client.HTTPException) as error:
            # OSError covers urllib's URLError/HTTPError; HTTPException covers IncompleteRead.
            if not own_file:
                archive.unlink(missing_ok=True)
            last_error = error
    else:
        raise ArchiveError(f"could not get a valid dataset archive from {url} (tried twice): {last_error}. "
                           "Download it by hand, extract it and pass a folder holding one season's photos "
                           f"({_season_choices()}) as DATA_DIR=folder (e.g. `make data DATA_DIR=folder`).")
    _extract(archive, root, target, {"url": url, "archive": archive.name, "sha256": sha256_file(archive),
                                     "counts": expected_counts})
    return target


def photo_folders(extracted: str | os.PathLike, season: str) -> list[Path]:
    """One season's photo folders in an extraction (SEASON_FOLDERS); ValueError for another season."""
    if season not in SEASON_FOLDERS:
        raise ValueError(f"unknown season {season!r}; the dataset holds {_season_choices()}")
    folders = [Path(extracted) / folder for folder in SEASON_FOLDERS[season]]
    if missing := paths.missing(folders, folders=True):
        raise FileNotFoundError(f"{extracted}: photo folder(s) {missing} not found; run `make data` "
                                "(or download.fetch_dataset) to fetch the dataset")
    return folders


def verify_archive(archive: str | os.PathLike, expected_counts: dict[str, int], sha256: str | None = None) -> str:
    """Check a downloaded zip; return the member prefix ("" or "top/") holding the photo folders."""
    if sha256 is not None and (actual := sha256_file(archive)).lower() != sha256.lower():
        raise ArchiveError(f"{archive}: sha256 is {actual}, expected {sha256}")
    try:
        with zipfile.ZipFile(archive) as zip_file:
            members = zip_file.infolist()
            for member in members:
                check_member(member)
            bad = zip_file.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:  # testzip names CRC errors; damaged data raises
        raise ArchiveError(f"{archive}: not a complete, readable zip archive ({error})") from None
    if bad is not None:
        raise ArchiveError(f"{archive}: member {bad!r} fails its CRC check (corrupt download)")
    names = [member.filename for member in members if not member.is_dir()]
    if (root := _photo_root(names, expected_counts)) is None:
        raise ArchiveError(f"{archive}: expected photo folders {sorted(expected_counts)} side by side "
                           f"(e.g. {DATASET_NAME}/trainA/), found none of them")
    counts = _count_photos(names, root, expected_counts)
    if wrong := {folder: found for folder, found in counts.items() if found != expected_counts[folder]}:
        details = ", ".join(f"{root}{folder}/ has {found} photos, expected {expected_counts[folder]}"
                            + (" (missing)" if found == 0 else "") for folder, found in wrong.items())
        raise ArchiveError(f"{archive}: {details}")
    return root


def check_member(member: zipfile.ZipInfo) -> None:
    """Refuse a zip member that could write outside the extraction folder."""
    name = member.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise ArchiveError(f"unsafe archive member {name!r}: absolute path")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise ArchiveError(f"unsafe archive member {name!r}: '..' path component")
    if stat.S_ISLNK(member.external_attr >> 16):  # Unix tools store the file type in the high 16 bits
        raise ArchiveError(f"unsafe archive member {name!r}: symbolic link")


def season_of(folders) -> str | None:
    """The season whose photo folders `folders` are exactly, or None."""
    names = [Path(folder).name for folder in folders]
    return next((season for season, counts in SEASON_FOLDERS.items() if names == list(counts)), None)


def _season_choices() -> str:
    return ", ".join(f"{season}: {' and '.join(counts)}" for season, counts in SEASON_FOLDERS.items())


def _download(url: str, archive: Path, progress: bool) -> None:
    """Stream url to `<archive>.part`, check its length, then rename it into place."""
    partial = archive.with_name(archive.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as file:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with tqdm(total=expected, unit="B", unit_scale=True, desc=archive.name, disable=not progress) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    file.write(chunk)
                    bar.update(len(chunk))
        if expected is not None and (written := partial.stat().st_size) != expected:
            raise ArchiveError(f"{url}: received {written} of {expected} bytes (connection dropped)")
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)


def _photo_root(names: list[str], expected_counts: dict[str, int]) -> str | None:
    """The member prefix holding the most expected folders (shortest on ties), or None."""
    found: dict[str, set[str]] = {}
    for name in names:
        parts = name.split("/")
        for depth, part in enumerate(parts[:-1]):
            if part in expected_counts:
                found.setdefault("".join(p + "/" for p in parts[:depth]), set()).add(part)
    return min(found, key=lambda prefix: (-len(found[prefix]), len(prefix), prefix)) if found else None


def _count_photos(names, root: str, folders) -> dict[str, int]:
    """How many photos (not hidden, an image suffix) each of `folders` below root holds directly, by file name."""
    below = (PurePosixPath(name[len(root) :]) for name in names if name.startswith(root))
    found = Counter(str(path.parent) for path in below
                    if not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES)
    return {folder: found[folder] for folder in folders}


def _counts_on_disk(target: Path, folders) -> dict[str, int]:
    return _count_photos((f"{folder}/{path.name}" for folder in folders if (target / folder).is_dir()
                          for path in (target / folder).iterdir() if path.is_file()), "", folders)


def _is_complete(target: Path, expected_counts: dict[str, int], sha256: str | None) -> bool:
    """True for a verified extraction, False for none; ValueError for a folder we did not write."""
    if not target.exists():
        return False
    fix = f"delete {target} and rerun to download it again"
    try:
        marker = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        raise ValueError(f"{target} exists but is not a verified extraction (no {MARKER}); {fix}") from None
    if sha256 is not None and (recorded := marker.get("sha256", "")).lower() != sha256.lower():
        raise ValueError(f"{target} comes from an archive with sha256 {recorded}, not {sha256}; {fix}")
    if (on_disk := _counts_on_disk(target, expected_counts)) != expected_counts:
        raise ValueError(f"{target}: photo counts {on_disk} are not the expected {expected_counts}; {fix}")
    return True


def _extract(archive: Path, root: str, target: Path, marker: dict) -> None:
    """Extract the members under `root` into a temporary sibling of target, marker last, then rename it."""
    with staged_folder(target, "extracting") as staging, zipfile.ZipFile(archive) as zip_file:
        for member in zip_file.infolist():
            check_member(member)  # again: the file on disk is what we extract
            if member.is_dir() or not member.filename.startswith(root):
                continue
            destination = staging.joinpath(*member.filename[len(root) :].split("/"))
            if not destination.resolve().is_relative_to(staging.resolve()):
                raise ArchiveError(f"unsafe archive member {member.filename!r}: leaves the target folder")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zip_file.open(member) as source, open(destination, "wb") as file:
                shutil.copyfileobj(source, file, CHUNK_BYTES)
        if (counts := _counts_on_disk(staging, marker["counts"])) != marker["counts"]:
            raise ArchiveError(f"{archive}: extracted photo counts {counts} differ from {marker['counts']}")
        (staging / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")

"""Atomic writes: a temporary file (or folder) beside the target, with a new file's usual permissions, renamed over
the target, so a reader finds the old content or the new, never half of either."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Callable

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object], marker: str = "") -> None:
    """Call write(temporary path) and rename the result onto path. The temporary file,
    ``.<name>.<marker><random><suffix>``, keeps path's suffix and is flock-ed while it is written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{marker}{secrets.token_hex(4)}{path.suffix or '.tmp'}")
    handle = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    mode = os.fstat(handle).st_mode & 0o777  # a new file's, the umask applied
    try:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_EX)
        write(temporary)
        os.chmod(temporary, mode)  # should write() have made the file anew
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        os.close(handle)


@contextlib.contextmanager
def staged_folder(target: Path, tag: str):
    """A new hidden sibling of target (made with mkdir, not tempfile's private 0700) to fill, swapped in whole
    when the block ends; an old target is renamed aside until the new one is in. Removed if the block fails."""
    staging = _sibling(target, tag)
    staging.mkdir()
    try:
        yield staging
        if not target.exists():
            os.replace(staging, target)
            return
        retired = _sibling(target, "old")
        os.replace(target, retired)
        try:
            os.replace(staging, target)
        except OSError:
            os.replace(retired, target)  # put the previous one back
            raise
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}")


def remove_abandoned(path: str | os.PathLike, min_age_seconds: float = 5.0) -> bool:
    """Remove a temporary file of write_atomic whose writer is gone (no lock, older than
    min_age_seconds); True if removed. Without flock nothing is removed."""
    if fcntl is None:
        return False
    try:
        handle = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        if time.time() - os.fstat(handle).st_mtime < min_age_seconds:
            return False
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(path)  # while locked: no writer holds it
        return True
    except OSError:
        return False
    finally:
        os.close(handle)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda temporary: temporary.write_text(text))


def write_json(path: str | os.PathLike, values, indent: int = 2, sort_keys: bool = False) -> None:
    """values as JSON (paths and other objects as text), with a final newline."""
    write_text(path, json.dumps(values, indent=indent, sort_keys=sort_keys, default=str) + "\n")


# Significant digits a table keeps: fewer than two Keras backends' float32 rounding moves (a photo's PSNR to 0.01 dB,
# a mean's to 0.001 dB).
TABLE_DIGITS = 5
PHOTO_DIGITS = 4


def write_table(frame, path: str | os.PathLike, digits: int = TABLE_DIGITS, index: bool = False) -> None:
    """A DataFrame as CSV, written atomically, every float column rounded to `digits` significant digits
    (NaN and infinities as they are)."""
    rounded = frame.copy()
    for column in frame.columns[[kind.kind == "f" for kind in frame.dtypes]]:
        rounded[column] = [float(f"{value:.{digits}g}") for value in frame[column]]
    write_atomic(path, lambda temporary: rounded.to_csv(temporary, index=index))


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

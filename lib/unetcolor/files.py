"""Writing files so that a reader finds the old content or the new, never half of either: a temporary file
in the same folder, with an ordinary new file's permissions, renamed over the target."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
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
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{marker}",
                                         suffix=path.suffix or ".tmp")
    try:
        _lock(handle)
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        os.close(handle)


def _lock(handle: int) -> None:
    """An exclusive flock on handle, where the file system has locks."""
    if fcntl is None:
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:
        pass


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


# Significant digits a table keeps. Scored twice on one CPU under two Keras backends (as two CPUs
# compute float32 in different orders), the main run's 304 validation photos came out with 2,462 of
# 60 million 8-bit colour values one level apart: one photo's numbers then moved by up to 1.2e-5 of
# their value (4 digits: 1 of 1,824 numbers changed, 5 digits: 32), their means over the photos by
# up to 2.6e-6 (5 digits: none of 29 changed). 4 digits still hold a photo's PSNR to 0.01 dB, 5 a
# mean's to 0.001 dB, finer than any difference a table is read for.
TABLE_DIGITS = 5
PHOTO_DIGITS = 4


def write_table(frame, path: str | os.PathLike, digits: int = TABLE_DIGITS, index: bool = False) -> None:
    """A DataFrame as CSV, written atomically, every float column rounded to `digits` significant digits."""
    rounded = frame.copy()
    for column in frame.columns[[kind.kind == "f" for kind in frame.dtypes]]:
        rounded[column] = [_significant(value, digits) for value in frame[column]]
    write_atomic(path, lambda temporary: rounded.to_csv(temporary, index=index))


def _significant(value: float, digits: int) -> float:
    """value rounded to `digits` significant digits (NaN and infinities as they are)."""
    return float(f"{value:.{digits}g}")


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process's umask, read without setting it where Linux shows it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current

"""Writing files so that a reader finds the old content or the new, never half of either.

Every file the project writes that something else reads (records, tables, figures, weights,
caches, stamps) goes through write_atomic: the content is written to a temporary file in the
same folder, given the permissions an ordinary new file gets (0o666 less the umask; mkstemp
alone would make it private), then renamed over the target in one step. An error or an
interrupt leaves the target as it was and removes the temporary file.

Folders that are replaced whole (prepared data, a verified download) are staged and renamed
by their own modules (data, download), which keep the previous folder until the new one is in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Call write(temporary path) and rename the result onto path. The temporary file keeps
    path's suffix, for writers that choose a format by it (Keras, NumPy, Pillow)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda temporary: temporary.write_text(text))


def write_json(path: str | os.PathLike, values, indent: int = 2, sort_keys: bool = False) -> None:
    """values as JSON (paths and other objects as text), with a final newline."""
    write_text(path, json.dumps(values, indent=indent, sort_keys=sort_keys, default=str) + "\n")


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can only
    be read by setting it, which would race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current

"""Writing report files: checking a path up front, and replacing a file atomically."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["check_writable", "write_atomic"]


def check_writable(path: str | Path, option: str) -> None:
    """Raise :class:`ValueError` naming ``option`` and ``path`` if ``path`` cannot be written.

    ``path`` must be a writable file or not exist, and its nearest existing parent a
    writable directory (the missing ones are created when the file is written).
    """
    if not str(path):
        raise ValueError(f"{option}: the path is empty")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option}: {str(path)!r} is a directory, not a file")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ValueError(f"{option}: {str(path)!r} is not writable")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(
            f"{option}: cannot create {str(path)!r}: {str(parent)!r} is not a directory"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot create {str(path)!r}: {str(parent)!r} is not writable")


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, creating its parent directories.

    The text goes to a temporary file beside ``path`` that then replaces it, so a reader
    sees the old file or the new one, never a part.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Opened by name (not tempfile's 0600 files) so the result gets the usual permissions.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)

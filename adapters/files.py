"""Durable file writes shared by the file-drop adapters: a file is either there whole
or not at all, and it is on disk (fsynced, with its directory) before we say so."""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def drop_root(root: str | Path) -> Path:
    """A file drop's folder, made absolute when the adapter is built: bagit.make_bag
    (adapters/bags.py) changes the whole process's working directory while it builds a
    bag, and the dispatcher delivers to other destinations in other threads meanwhile;
    a relative path would then point into the bag being built."""
    return Path(root).absolute()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write leaves no half file behind; the retry writes a new one
        raise
    fsync_dir(path.parent)

"""Download a benchmark from its upstream URL, verify its pinned sha256, and move it into place atomically.

Nothing half-written is ever left where a loader would read it: files are downloaded beside their destination
under a temporary name and renamed only after the checksum matches; an existing copy is replaced only then.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..download import download as _download
from ..errors import DataError
from .base import BenchmarkSpec
from .checksums import tree_sha256
from .datadir import ENV_DATA

log = logging.getLogger(__name__)
WHERE = f"point {ENV_DATA} at the files ('zc-discover fetch' retries)"


def _check(spec: BenchmarkSpec, actual: str, allow_unverified: bool) -> None:
    if spec.sha256 is None:
        if not allow_unverified:
            raise DataError(f"{spec.name} has no pinned checksum yet, so its download cannot be verified. Pass "
                            "--allow-unverified to accept it (its sha256 is printed so you can pin it), or place "
                            f"the files under {ENV_DATA} yourself.")
        log.warning("%s downloaded without a pinned checksum; its sha256 is %s", spec.name, actual)
    elif actual != spec.sha256:
        raise DataError(f"checksum mismatch for {spec.name}: expected {spec.sha256}, got {actual}. The download was "
                        "discarded and any existing copy kept. The upstream file may have changed; report it, or "
                        f"place a verified copy under {ENV_DATA}.")


def fetch(spec: BenchmarkSpec, data_dir: str | Path | None = None, *, force: bool = False,
          allow_unverified: bool = False) -> Path:
    """Download ``spec`` into the data directory and return its path (a no-op when it is already there)."""
    if not spec.url:
        raise DataError(f"{spec.name} has no upstream URL to fetch from; point {ENV_DATA} at its files.")
    dest = spec.path(data_dir)
    if spec.present(data_dir) and not force:
        log.info("%s is already at %s", spec.name, dest)
        return dest
    created = [p for p in [dest.parent, *dest.parent.parents] if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.part-", dir=dest.parent))
    done = False
    try:
        if spec.is_folder:
            for name in spec.files:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                _download(spec.url + name, staging / name, WHERE)
            _check(spec, tree_sha256(staging, list(spec.files)), allow_unverified)
            _replace(staging, dest)
        else:
            part = staging / dest.name
            _check(spec, _download(spec.url, part, WHERE), allow_unverified)
            os.replace(part, dest)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:  # a failed download leaves no trace: the folders it made for itself go too, if empty
            for folder in created:
                with contextlib.suppress(OSError):
                    folder.rmdir()
    log.info("fetched %s into %s", spec.name, dest)
    return dest


def _replace(new: Path, dest: Path) -> None:
    """Swap a verified folder into place; the old copy is removed only once the new one is there."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(new, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

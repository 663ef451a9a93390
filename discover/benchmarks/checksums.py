"""sha256 of a benchmark file, or of a whole folder (the digest of its sorted per-file digests)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """sha256 of one file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: Path, files: list[str] | None = None) -> str:
    """One digest for a folder, over ``"<sha256>  <relative path>\\n"`` lines in sorted order (sha256sum's format)."""
    folder = Path(folder)
    names = files if files is not None else [p.relative_to(folder).as_posix()
                                             for p in folder.rglob("*") if p.is_file()]
    lines = "".join(f"{file_sha256(folder / name)}  {name}\n" for name in sorted(names))
    return hashlib.sha256(lines.encode()).hexdigest()

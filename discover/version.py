"""The installed version of zc-discover (from the package metadata)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zc-discover")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"


def code_version() -> str:
    """sha256 (first 16 hex digits) of every Python source of the ``discover`` and ``primitives`` packages: what a
    stored result (a run folder of a study) records, so that a result made by other code is recomputed, not reused.
    Any change to the code changes it (comments included): reuse errs on the side of recomputing."""
    return _code_version()


def _code_version() -> str:
    global _CODE_VERSION
    if _CODE_VERSION is None:
        import hashlib
        from pathlib import Path
        root = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256()
        for package in ("discover", "primitives"):
            for path in sorted((root / package).rglob("*.py")):
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        _CODE_VERSION = digest.hexdigest()[:16]
    return _CODE_VERSION


_CODE_VERSION: str | None = None

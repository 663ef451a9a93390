"""Download one file from its upstream URL, streaming it to disk and returning its sha256.

Benchmarks (``benchmarks.fetch``) and text corpora (``text.corpus``) both come from elsewhere on first use; the caller
checks the digest against its pin and moves the file into place.
"""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from .errors import DataError

TIMEOUT_S = 60


def download(url: str, dest: Path, where: str = "point ZC_DISCOVER_DATA at it") -> str:
    """Stream ``url`` to ``dest`` and return its sha256; a short read is an error, never a truncated file."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
            expected = response.headers.get("Content-Length")
            received = 0
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"download of {url} failed ({reason}). Retry, or download the file by hand and "
                        f"{where}.") from None
    if expected is not None and received != int(expected):
        raise DataError(f"download of {url} stopped after {received} of {expected} bytes; nothing was kept. Retry.")
    return digest.hexdigest()

"""Where benchmark files live: --data-dir, else $ZC_DISCOVER_DATA, else the per-user cache directory."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DATA = "ZC_DISCOVER_DATA"
ENV_OFFLINE = "ZC_DISCOVER_OFFLINE"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: ``explicit``, else ``$ZC_DISCOVER_DATA``, else the per-user cache directory."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]).expanduser()
    return Path(platformdirs.user_cache_dir("zc-discover")) / "benchmarks"


def offline_requested() -> bool:
    """Whether ``$ZC_DISCOVER_OFFLINE`` forbids downloads."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes"}

"""Where trained reference models live: ``$ZC_DISCOVER_MODELS``, else the per-user cache directory."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_MODELS = "ZC_DISCOVER_MODELS"


def models_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The folder that holds one sub-folder per reference model (``llama-8/``, ...)."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_MODELS):
        return Path(os.environ[ENV_MODELS]).expanduser()
    return Path(platformdirs.user_cache_dir("zc-discover")) / "models"


def wait_for_model(folder: str | os.PathLike, poll_seconds: float = 30.0) -> None:
    """Return once ``folder`` holds a readable model card: for a study started beside the build of its models
    (experiments/build_reference_models.py writes the card last)."""
    import time
    from .. import trained
    from ...errors import DataError
    while True:
        try:
            trained.read_card(folder)
            return
        except DataError:
            time.sleep(poll_seconds)

"""How much does rebuilding a reference model move its pruning space? The noise floor under every figure of the study.

    python experiments/pruning_rebuild.py --before COMMIT [--models llama-8] [--kinds depth heads ffn]

The reference models are trained with a fixed seed, and two builds on one machine give the same weights (a test
checks it), but a build in another session - on another machine, or with another build of a library - can differ
in the last bits, and 800 steps of training carry that into the weights. This script reads a space as it was stored at ``COMMIT`` (``git show``, into a
temporary folder) and as it is stored now, for spaces whose weights digests differ, and reports the largest
change of a candidate's held-out loss, the equal-size Kendall between the two builds' losses, and how far every
method's equal-size Kendall moved: a difference between methods smaller than that is not a finding.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from discover.pruning.compare import baseline_scores
from discover.pruning.space_values import read_space, values_root
from discover.pruning.table import equal_size_kendall

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import ROOT, write_table  # noqa: E402


def stored_at(commit: str, model: str, kind: str, folder: Path) -> Path:
    """Write the three files of a stored space as they were at ``commit`` into ``folder``."""
    relative = values_root().relative_to(ROOT)
    for name in (f"{model}-{kind}.csv.gz", f"{model}-{kind}-units.csv.gz", f"{model}-{kind}.json"):
        data = subprocess.run(["git", "show", f"{commit}:{relative / name}"], cwd=ROOT, capture_output=True,
                              check=True).stdout
        (folder / name).write_bytes(data)
    return folder


def compare_builds(model: str, kind: str, before: Path) -> dict:
    old, old_units, old_provenance = read_space(model, kind, before)
    new, new_units, new_provenance = read_space(model, kind)
    if list(old["arch_id"]) != list(new["arch_id"]):
        raise SystemExit(f"{model} {kind}: the two spaces hold other candidates; compare spaces of one sampler")
    removed = new["removed"].to_numpy()
    moved = {}
    old_scores, new_scores = baseline_scores(old, old_units, kind), baseline_scores(new, new_units, kind)
    for name in new_scores:
        if name == "params":
            continue
        moved[name] = abs(equal_size_kendall(new_scores[name], -new["heldout_loss"], removed) -
                          equal_size_kendall(old_scores[name], -old["heldout_loss"], removed))
    return {"model": model, "kind": kind, "candidates": len(new),
            "same weights": old_provenance["request"]["weights_sha256"] == new_provenance["request"]["weights_sha256"],
            "full model's loss change": new_provenance["full_heldout_loss"] - old_provenance["full_heldout_loss"],
            "largest candidate loss change": float(np.abs(new["heldout_loss"] - old["heldout_loss"]).max()),
            "equal-size Kendall, build vs build": equal_size_kendall(-old["heldout_loss"], -new["heldout_loss"],
                                                                     removed),
            "largest method Kendall change": max(moved.values()),
            "method that moved most": max(moved, key=moved.get)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit whose stored spaces came from the earlier build")
    parser.add_argument("--models", nargs="+", default=["llama-8"])
    parser.add_argument("--kinds", nargs="+", default=["depth", "heads", "ffn"])
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            for kind in args.kinds:
                folder = Path(tmp) / f"{model}-{kind}"
                folder.mkdir()
                rows.append(compare_builds(model, kind, stored_at(args.before, model, kind, folder)))
    table = pd.DataFrame(rows)
    write_table("pruning-rebuild", "Two builds of a reference model (same seed and settings, two sessions): "
                f"each space as stored at {args.before} against the space of today's build, over the same "
                "candidates; Kendall changes are of the equal-size Kendall of every criterion, ZeroLM and NSC.\n\n"
                + table.to_markdown(index=False, floatfmt=".4f"),
                f"experiments/pruning_rebuild.py --before {args.before}")
    print(table.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

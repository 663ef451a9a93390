"""Activation distance as training-free-nas and LPZero computed it for NAS-Bench-BERT, per model (their "Activation
Distance" column, with their hook counting removed): for every FFN activation - each GELU output of each layer, so
three per layer with three stacked dense layers - the binary codes (activation > 0) of the first example's tokens,
and the sum over all token pairs of the positions where two codes agree (K + K2 = x x^T + (1 - x)(1 - x)^T); summed.

Their released values are this times the number of forward hooks that had piled up on the one GELU module every
layer of every model shares (transformers' ``ACT2FN``): 26 + the layers of all models built so far in their run, an
integer that the released ``Activation Distance`` / ``Activation Distance Normalized`` / GELU calls reads back for
every architecture (30, 34, 38, 40, ...). ``experiments/fidelity.py`` compares with the released values divided by it.
A count, not a distance: larger when codes agree more, and it grows with the sequence length squared.
"""
from ..registry import probe_proxy
from .released_code import code_agreements


@probe_proxy("tfnas_activation_distance", "Serianni & Kalita, ACL 2023, as their released code computes it per model",
            "sum over FFN activations of the code agreements between all token pairs of the first example",
            ("task",), gradients=False)
def tfnas_activation_distance(run) -> float:
    if not run.task["ffn_hiddens"]:
        raise ValueError("the model has no FFN activations")
    return sum(code_agreements(hidden) for hiddens in run.task["ffn_hiddens"] for hidden in hiddens)

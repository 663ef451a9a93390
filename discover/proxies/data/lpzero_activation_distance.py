"""Activation distance as LPZero's code computes it for GPT-2 (its released ``activation_distance`` column): forward
hooks on every ``Conv1D`` and ``nn.Linear`` (GPT-2 has no module for its GELU, so its outputs are never hooked), and for
each output the binary codes (output > 0) of the first example's tokens and the sum over all token pairs of the
positions where two codes agree (K + K2 = x x^T + (1 - x)(1 - x)^T); summed over the layers.

Read in ``lpzero/predictor/measures/activation_distance.py``, the ``HfGPT2Flex`` branch: the same arithmetic as
``tfnas_activation_distance`` (training-free-nas's for FlexiBERT), on the linear layers' outputs instead of the GELUs'.
A fresh model per architecture there, so no hooks pile up as they did on BERT. A count, not a distance: it grows with
the tokens squared and with the total output width, which makes it close to a width count.
"""
from ..registry import probe_proxy
from .released_code import code_agreements


@probe_proxy("lpzero_activation_distance", "Serianni & Kalita, ACL 2023, as LPZero's released GPT-2 code computes it",
            "sum over linear layers' outputs of the code agreements between all token pairs of the first example",
            ("task", "linear_outputs"), gradients=False)
def lpzero_activation_distance(run) -> float:
    outputs = run.linear_outputs()[0]
    if not outputs:
        raise ValueError("the model has no measured linear layers")
    return sum(code_agreements(output) for output in outputs)

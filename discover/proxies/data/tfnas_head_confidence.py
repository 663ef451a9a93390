"""Head confidence as training-free-nas and LPZero released it for NAS-Bench-BERT (their "Head Confidence" column):
the outputs of every token mixer's input projections - query, key and value (and WMA's weighted query) of attention,
the input projection of a linear transform - each reduced by its largest value over the sequence (``torch.max(output,
1)`` of (batch, tokens, features)) and averaged over the rest; summed.

Read in their ``eval_rank_bert.py`` (forward hooks on ``query``, ``key``, ``value``, ``input`` and ``weight`` of each
layer's operation) and ``attention_confidence``. Despite its name it looks at no attention weight: the project's
``attention_confidence`` and ``head_softmax_confidence`` are the definitions the paper describes.
"""
from ..registry import probe_proxy
from .released_code import max_over_dim1


@probe_proxy("tfnas_head_confidence", "Serianni & Kalita, ACL 2023, as their released code computes it",
            "sum over token mixers' input projections of the mean over (batch, features) of the max over tokens",
            ("task",), gradients=False)
def tfnas_head_confidence(run) -> float:
    outputs = [t for m in run.task["mixers"] for t in (m["projections"] or [])]
    if not outputs:
        raise ValueError("the model has no token-mixer projections")
    return sum(max_over_dim1(t) for t in outputs)

"""Head softmax confidence as training-free-nas and LPZero released it for NAS-Bench-BERT (their "Head Softmax
Confidence" column): per token mixer, the softmax output's largest value over the heads (``torch.max(output, 1)``,
dimension 1 of (batch, heads, queries, keys)), averaged over the rest; summed over mixers.

Choices, read in their ``eval_rank_bert.py`` and ``attention_confidence``: every mixer's ``softmax`` module is hooked,
so FlexiBERT's linear transforms count with the softmax they compute and discard (over each head's transformed slice,
dimension 1 still the heads). The project's ``attention_confidence`` (the largest weight per query, Voita et al.) and
``head_softmax_confidence`` (entropy) are the definitions the paper describes; this one is what the code computed.
"""
from ..registry import probe_proxy
from .released_code import max_over_dim1


@probe_proxy("tfnas_head_softmax_confidence", "Serianni & Kalita, ACL 2023, as their released code computes it",
            "sum over token mixers of the mean over (batch, queries, keys) of the max over heads of the softmax",
            ("task",), gradients=False)
def tfnas_head_softmax_confidence(run) -> float:
    probs = [m["probs"] for m in run.task["mixers"] if m["probs"] is not None]
    if not probs:
        raise ValueError("the model has no softmax in its token mixers")
    return sum(max_over_dim1(p) for p in probs)

"""Head softmax confidence: choice - one minus the normalised entropy of each head's attention distribution (1: every
query attends to one token; 0: uniform), averaged over heads and queries, summed over layers (more confident layers,
higher score). Distinct from ``attention_confidence``, which looks only at the largest weight."""
import math

from ..registry import probe_proxy


@probe_proxy("head_softmax_confidence", "Serianni & Kalita, ACL 2023 (after Voita et al. 2019)",
            "sum over layers of the mean (1 - entropy / log(keys)) of the heads' softmax", ("task",),
            gradients=False)
def head_softmax_confidence(run) -> float:
    total = 0.0
    for probs in run.task["probs"]:
        entropy = -(probs * probs.clamp_min(1e-30).log()).sum(dim=-1)      # (batch, heads, queries)
        total += float((1 - entropy / math.log(probs.shape[-1])).mean())
    return total

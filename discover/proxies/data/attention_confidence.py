from ..registry import probe_proxy


@probe_proxy("attention_confidence", "Voita et al., ACL 2019; as a NAS metric Serianni & Kalita, ACL 2023",
            "mean over layers, heads and query tokens of the largest attention weight", ("task",),
            gradients=False)
def attention_confidence(run) -> float:
    probs = run.task["probs"]
    if not probs:
        raise ValueError("the model has no attention heads")
    return float(sum(p.max(dim=-1).values.mean() for p in probs) / len(probs))

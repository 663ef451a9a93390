from ..registry import probe_proxy


@probe_proxy("head_importance", "Michel et al., Are Sixteen Heads Really Better than One?, NeurIPS 2019",
            "sum over heads of |dL/dm_h|, m_h a mask (1) scaling head h's output", ("task",))
def head_importance(run) -> float:
    return float(sum(g.abs().sum() for g in run.task["head_mask_grads"]))

from ..registry import probe_proxy


@probe_proxy("head_importance", "Michel et al., Are Sixteen Heads Really Better than One?, NeurIPS 2019",
            "sum over heads of |dL/dm_h|, m_h a mask (1) scaling head h's output", ("task",))
def head_importance(run) -> float:
    grads = run.task["head_mask_grads"]
    if any(g is None for g in grads):
        raise ValueError("this model's attention takes no head mask (a Hugging Face model's), so head importance is "
                         "undefined for it; lpzero_head_importance reads its weights instead")
    return float(sum(g.abs().sum() for g in grads))

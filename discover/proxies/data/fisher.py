"""Fisher: choice - over each FFN's hidden activations a (batch x tokens x width), 0.5 * mean over examples of
sum over channels of (sum over tokens of a * dL/da)^2, summed over layers (Theis et al.'s channel Fisher, with tokens
playing the role of spatial positions)."""
from ..registry import probe_proxy


@probe_proxy("fisher", "Turner et al., BlockSwap, ICLR 2020; Abdelfattah et al. 2021",
            "channel Fisher information of the FFN hidden activations", ("task",))
def fisher(run) -> float:
    total = 0.0
    for act, grad in zip(run.task["acts"], run.task["act_grads"]):
        per_channel = (act * grad).sum(dim=1)            # (batch, width)
        total += float(0.5 * (per_channel ** 2).sum(dim=1).mean())
    return total

from ..registry import probe_proxy


@probe_proxy("snip", "Lee et al., SNIP, ICLR 2019 (as a proxy: Abdelfattah et al. 2021)",
            "sum over attention, mixing and FFN weight matrices of |W * dL/dW|", ("task",))
def snip(run) -> float:
    weights = {t.name: t.tensor.detach() for t in run.weights()}
    return float(sum((weights[name] * g).abs().sum() for name, g in run.task["grads"].items()))

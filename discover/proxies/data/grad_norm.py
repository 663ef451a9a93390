from ..registry import probe_proxy


@probe_proxy("grad_norm", "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
            "sum over attention, mixing and FFN weight matrices of ||dL/dW||_F", ("task",))
def grad_norm(run) -> float:
    return float(sum(g.norm() for g in run.task["grads"].values()))

from ..registry import probe_proxy


@probe_proxy("grasp", "Wang et al., GraSP, ICLR 2020 (as a proxy: Abdelfattah et al. 2021)",
            "-sum of W * (H g) over attention, mixing and FFN matrices, H the Hessian of the task loss",
            ("task", "grasp"), version=2)
def grasp(run) -> float:
    return float(-sum(v.sum() for v in run.grasp.values()))

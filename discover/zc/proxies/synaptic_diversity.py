import torch

from ..registry import data_proxy


@data_proxy("synaptic_diversity", "Zhou et al., Training-free Transformer Architecture Search, CVPR 2022",
            "sum over attention weight matrices of ||W||_nuc * ||dL/dW||_nuc", ("task",))
def synaptic_diversity(run) -> float:
    total = 0.0
    for t in run.weights():
        if t.role == "attention":
            weight = t.matrix().double()
            gradient = run.task["grads"][t.name].reshape(weight.shape).double()
            total += float(torch.linalg.matrix_norm(weight, "nuc") * torch.linalg.matrix_norm(gradient, "nuc"))
    return total

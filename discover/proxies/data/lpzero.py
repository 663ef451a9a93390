"""LPZero: the proxy LPZero's search reports as its best, decoded from its released genotype.

Genotype ``{'input_geno': ['weight', 'grad'], 'op_geno': [[3, 10], [11, 3], 0]}`` over its operator tables reads:
weight -> element-wise square -> l1_norm (mean |x|); grad -> softmax over dim 0 -> element-wise square; the two
branches summed; each tensor reduced by its mean, and the layers averaged:

    lpzero = mean over layers of [ mean(W^2) + mean(softmax_dim0(dL/dW)^2) ]

Choices: the layers are the attention, mixing and FFN weight matrices (LPZero took every Linear); the gradient is of
this project's probe task loss (LPZero back-propagated a vector of ones from the FlexiBERT output - whose gradient a
final LayerNorm makes vanish - and the language-modelling loss for GPT-2, which is what is used here too).
"""
import torch

from ..registry import probe_proxy


@probe_proxy("lpzero", "Dong et al., LPZero: Language Model Zero-cost Proxy Search from Zero, EMNLP Findings 2024",
            "mean over weight matrices of mean(W^2) + mean(softmax_dim0(dL/dW)^2)", ("task",))
def lpzero(run) -> float:
    terms = []
    for t in run.weights():
        weight = t.matrix().double()
        grad = run.task["grads"][t.name].reshape(weight.shape).double()
        terms.append(float((weight ** 2).mean() + (torch.softmax(grad, dim=0) ** 2).mean()))
    if not terms:
        raise ValueError("the model has no weight matrices to score")
    return sum(terms) / len(terms)

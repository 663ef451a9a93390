"""EZNAS: the program EZNAS's evolutionary search reports, as LPZero's code re-implements it for Transformers.

Per weight matrix: sign of the gradient -> log-determinant -> sigmoid -> Frobenius norm, summed over matrices.
Choices: a log-determinant that is undefined counts 0, as in that re-implementation (NaN -> 0) - this covers the
negative determinants of most sign matrices and, here, every non-square matrix (where ``torch.logdet`` would raise);
the matrices are the attention, mixing and FFN weights; gradients come from the probe task loss.
"""
import math

import torch

from ..registry import data_proxy


@data_proxy("eznas", "Akhauri et al., EZNAS: Evolving Zero-Cost Proxies For Neural Architecture Scoring, NeurIPS 2022",
            "sum over weight matrices of sigmoid(logdet(sign(dL/dW))), undefined logdets counting 0", ("task",))
def eznas(run) -> float:
    total = 0.0
    for t in run.weights():
        grad = run.task["grads"][t.name]
        grad = grad.reshape(grad.shape[0], -1).double()
        logdet = 0.0
        if grad.shape[0] == grad.shape[1]:
            sign, value = torch.linalg.slogdet(torch.sign(grad))
            logdet = float(value) if float(sign) > 0 and math.isfinite(float(value)) else 0.0
        total += 1.0 / (1.0 + math.exp(-logdet))   # sigmoid; the Frobenius norm of a scalar is its absolute value
    return total

"""Signals of a probed model that are not functions of its shapes: what the probe batch does inside it, per sub-module.

Recorded during the probe's shared task pass (``ProbeRun(..., record_signals=True)``), reduced to a few numbers per
sub-module as soon as they exist, so that nothing of the size of the activations outlives the pass. A *sub-module* is
a token mixer (attention, or a mixer without attention) or an FFN of the model, in model order, with its role and
layer; a *measured linear layer* is one whose weight the gradient proxies read (attention, mixing, FFN).

- ``token_gram``: per sub-module and example, the eigenvalues of the Gram matrix X X^T of the tokens that enter it
  (X: sequence x width, the residual stream at that depth, after the family's normalisation where it normalises
  first). Rank collapse in depth (Dong et al., ICML 2021; Noci et al., NeurIPS 2022) is the token matrix tending to
  rank one: its effective rank falls and the cosine between tokens rises.
- ``jacobian_gram``: per sub-module, the B x B Gram matrix of the gradients, at its input, of a fixed random read-out
  of the model's outputs (one row per example, flattened over tokens and width). This is the input-output Jacobian of
  the residual stream from that depth to the output, applied to the read-out: its norm is how much the output still
  depends on that depth (signal propagation, Schoenholz et al., ICLR 2017; Xiao et al., ICML 2018) and its effective
  rank across examples is Mellor et al.'s Jacobian covariance (jacob_cov, ICML 2021) taken per depth.
- ``gradient_noise``: per measured linear layer, ||mean_b G_b||^2 and mean_b ||G_b - mean G||^2 of the per-example
  gradients G_b of its weight under the task loss (the gradient signal-to-noise ratio of Liu et al., ICLR 2020, over
  the examples of the batch; ZiCo, Li et al., ICLR 2023, takes mean over standard deviation of gradients across
  batches). Per-example gradients are never formed in full when the Gram identity ||G_b||^2 = sum_{s,t}
  (x_s . x_t)(d_s . d_t) is cheaper (Goodfellow, 2015).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from primitives.statistics import components_holding, gram_eigenvalues


def token_gram_eigenvalues(tokens: torch.Tensor) -> torch.Tensor:
    """(batch, seq, width) token representations -> (batch, k) eigenvalues of each example's token Gram matrix, k =
    min(seq, width), descending, float64 (clamped at 0: rounding can leave them slightly negative)."""
    x = tokens.detach().to(torch.float64)
    gram = x @ x.transpose(-1, -2) if x.shape[-2] <= x.shape[-1] else x.transpose(-1, -2) @ x
    return torch.linalg.eigvalsh(gram).clamp_min(0).flip(-1)


def token_cosine(tokens: torch.Tensor) -> float:
    """Mean cosine similarity between distinct tokens of one example, averaged over the batch (1: every token points
    the same way, the end point of rank collapse; a zero token counts as orthogonal to the others)."""
    x = tokens.detach().to(torch.float64)
    norms = x.norm(dim=-1, keepdim=True)
    unit = torch.where(norms > 0, x / norms.clamp_min(1e-300), torch.zeros_like(x))
    seq = x.shape[-2]
    if seq < 2:
        return 1.0
    cosines = unit @ unit.transpose(-1, -2)
    off_diagonal = cosines.sum(dim=(-1, -2)) - cosines.diagonal(dim1=-2, dim2=-1).sum(-1)
    return float((off_diagonal / (seq * (seq - 1))).mean())


def effective_rank(eigenvalues: np.ndarray) -> float:
    """exp(entropy of s / sum s) of the singular values s = sqrt(eigenvalues) (Roy & Vetterli, 2007), the
    ``eff_rank`` statistic of the weight features; 0 when they are all 0."""
    s = np.sqrt(np.clip(np.asarray(eigenvalues, dtype=float), 0, None))
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(math.exp(-(p * np.log(p)).sum()))


def per_example_gradient_noise(inputs: torch.Tensor, output_grads: torch.Tensor) -> tuple[float, float]:
    """(||mean_b G_b||^2, mean_b ||G_b - mean G||^2) of the per-example weight gradients G_b = sum_t d_t x_t^T of a
    linear layer, from its inputs x (batch, ..., in) and its output gradients d (batch, ..., out).

    The sum of G_b is the weight's gradient over the batch. Each ||G_b||^2 comes from the cheaper of two exact routes:
    forming G_b (batch x in x out numbers) or the Gram identity (batch x seq^2 x (in + out) operations)."""
    x = inputs.detach().reshape(inputs.shape[0], -1, inputs.shape[-1]).float()
    d = output_grads.detach().reshape(output_grads.shape[0], -1, output_grads.shape[-1]).float()
    batch, seq, width_in = x.shape
    width_out = d.shape[-1]
    total = torch.einsum("bsi,bso->io", x, d).double()
    if seq * (width_in + width_out) < width_in * width_out:
        squares = ((x @ x.transpose(1, 2)) * (d @ d.transpose(1, 2))).sum(dim=(1, 2)).double()
    else:
        squares = torch.stack([torch.einsum("si,so->io", xb, db).double().pow(2).sum() for xb, db in zip(x, d)])
    mean_square = float(total.pow(2).sum()) / batch ** 2
    noise = max(float(squares.sum()) / batch - mean_square, 0.0)
    return mean_square, noise


def record_gradient_noise(linears: list[tuple[nn.Linear, str, int | None]], out: list) -> list:
    """Forward hooks on measured linear layers that append (role, layer, signal, noise) to ``out`` when the first
    gradient reaches each one's output (the task loss's; the Jacobian's pass comes second and is left alone).

    The output's hook holds the layer's input, never the output itself: a hook that refers to the tensor it hangs on
    makes a cycle Python's collector cannot see through torch's tensors (every probed model leaked so once)."""
    def hook_for(role: str, layer: int | None) -> Callable:
        def keep(_, args, output):
            if not output.requires_grad:
                return
            inputs, done = args[0], []

            def on_gradient(grad: torch.Tensor) -> None:
                if not done:
                    done.append(True)
                    out.append((role, layer, *per_example_gradient_noise(inputs, grad)))
            output.register_hook(on_gradient)
        return keep
    return [module.register_forward_hook(hook_for(role, layer)) for module, role, layer in linears]


def record_submodule_inputs(modules: list[tuple[nn.Module, str, int | None]], out: list) -> list:
    """Forward hooks appending (role, layer, input tokens) for each sub-module, in the order they run."""
    def hook_for(role: str, layer: int | None) -> Callable:
        def keep(_, args):
            if args and torch.is_tensor(args[0]) and args[0].dim() == 3:
                out.append((role, layer, args[0]))
        return keep
    return [module.register_forward_pre_hook(hook_for(role, layer)) for module, role, layer in modules]


def submodule_signals(inputs: list[tuple[str, int | None, torch.Tensor]],
                      jacobians: list[torch.Tensor | None]) -> list[dict]:
    """Per sub-module: role, layer, the token Gram eigenvalues (batch x k), the mean token cosine and the Gram matrix
    of the read-out's per-example gradients at its input (``None`` where the read-out does not reach it)."""
    signals = []
    for (role, layer, tokens), jacobian in zip(inputs, jacobians):
        rows = None
        if jacobian is not None:
            flat = jacobian.detach().reshape(jacobian.shape[0], -1).double()
            rows = (flat @ flat.T).cpu().numpy()
        signals.append({"role": role, "layer": layer, "token_eigenvalues": token_gram_eigenvalues(tokens).cpu().numpy(),
                        "token_cosine": token_cosine(tokens), "jacobian_gram": rows})
    return signals


def activation_spectrum(act: torch.Tensor) -> np.ndarray:
    """Variances along the principal components of an FFN's hidden activations (every token of the batch a sample),
    descending, float64 numpy.

    Computed in single precision (1.6-2x faster than double); that moves an eigenvalue by about 1e-4 of the largest,
    which can change a 99% count only where the line falls that close to a component boundary."""
    samples = act.reshape(-1, act.shape[-1]).float()
    return gram_eigenvalues(samples - samples.mean(dim=0)).double().flip(0).cpu().numpy()


def ffn_spectra(run) -> list[np.ndarray]:
    """``activation_spectrum`` of every FFN's first hidden activation, computed once per probe run (W-PCA and the
    per-layer activation features read the same spectra)."""
    return run.shared("ffn_spectra", lambda r: [activation_spectrum(a) for a in r.task["acts"]])


def pca_components(spectrum: np.ndarray, fraction: float = 0.99) -> int:
    """Principal components holding ``fraction`` of the variance (W-PCA's count)."""
    return components_holding(spectrum, fraction)


__all__ = ["activation_spectrum", "effective_rank", "ffn_spectra", "pca_components", "per_example_gradient_noise",
           "record_gradient_noise", "record_submodule_inputs", "submodule_signals", "token_cosine",
           "token_gram_eigenvalues"]

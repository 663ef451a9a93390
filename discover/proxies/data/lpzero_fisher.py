"""Fisher as LPZero's code computes it for GPT-2 (its released ``fisher`` column): for every ``Conv1D`` and
``nn.Linear`` output a (the linear layer's own output, before any non-linearity) and its gradient g under the
language-modelling loss, both flattened to (batch x tokens, features), the per-channel 0.5 * mean over rows of
(a * g)^2; summed over channels, times the layer's output width, summed over layers.

Read in ``lpzero/predictor/measures/fisher.py`` (``compute_fisher_per_weight``): its hook reshapes the activation to
two dimensions before the ``len(act.shape) > 2`` test, so the tokens are never summed before squaring as in Theis et
al.'s channel Fisher (the project's ``fisher``, over FFN hidden activations); each token counts as an example. Then
``reshape_elements`` (``p_utils.py``) spreads each channel's value over ``weight.shape[1:]`` - a ``Conv1D``'s output
width - before everything is summed, so each layer's sum counts its output width times.
"""
from ..registry import probe_proxy


@probe_proxy("lpzero_fisher", "Turner et al., ICLR 2020, as LPZero's released GPT-2 code computes it",
            "sum over linear layers of output width x sum over channels of 0.5 * mean over tokens of (a * g)^2",
            ("task", "linear_outputs"))
def lpzero_fisher(run) -> float:
    total = 0.0
    for output, grad in zip(*run.linear_outputs()):
        product = (output.double() * grad.double()).reshape(-1, output.shape[-1])
        total += float(0.5 * (product ** 2).mean(dim=0).sum()) * output.shape[-1]
    return total

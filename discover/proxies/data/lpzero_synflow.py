"""SynFlow and LogSynFlow as LPZero's code computes them for GPT-2 (its released ``synflow`` and ``logsynflow``
columns): the model with every parameter replaced by its absolute value, in float64, run on one sequence (of the
trained length, 192) whose input embeddings are all ones, with the positions added as the model adds them; R is the
sum of the output head's logits (LPZero's ``forward_crit``: the adaptive softmax's head cluster, through its tied
|weights|). SynFlow sums |theta * dR/dtheta|, LogSynFlow theta * |log |dR/dtheta||, over every ``Conv1D`` (the
attention and FFN matrices).

Read in ``lpzero/predictor/measures/synflow.py`` (``get_synflow_scores``, ``forward_synflow_gpt``,
``compute_synflow_per_weight``). Not reproduced: LPZero's model was in training mode, so its dropout (0.1) was active
in this pass; the models here have none. The project's ``synflow`` and ``logsynflow`` read a random positive direction
of the final hidden states on a sequence of token 0 instead (they need no output head), and its ``logsynflow`` takes
log(1 + |g|), Cavagnero et al.'s form, where LPZero's takes |log |g||.
"""
import torch

from ..registry import probe_proxy


@probe_proxy("lpzero_synflow", "Tanaka et al., NeurIPS 2020, as LPZero's released GPT-2 code computes it",
            "sum of |theta * dR/dtheta|, |weights| model on all-ones input embeddings, R = sum of head logits",
            ("lpzero_synflow",))
def lpzero_synflow(run) -> float:
    return float(sum(product.abs().sum() for product in run.lpzero_synflow.values()))


@probe_proxy("lpzero_logsynflow", "Cavagnero et al. 2022, as LPZero's released GPT-2 code computes it",
            "sum of |theta| * |log |dR/dtheta||, |weights| model on all-ones input embeddings, R = sum of head logits",
            ("lpzero_synflow",))
def lpzero_logsynflow(run) -> float:
    weights = {t.name: t.tensor for t in run.weights()}
    total = 0.0
    for name, product in run.lpzero_synflow.items():
        weight = weights[name].detach().abs().double()
        gradient = product / weight      # (theta g) / theta; a zero weight gives NaN, dropped: 0 * |log |g|| there
        total += float(torch.nansum(weight * torch.log(gradient.abs()).abs()))
    return total

"""Jacobian cosine as LPZero's code computes it for GPT-2 (its released ``jacobian_cosine`` column): the gradient of the
language-modelling loss with respect to the learned position table (positions x width), read as one vector over
positions per feature; with C the cosine similarities between those vectors (diagonal removed),
1 - sum |C|^(1/20) / 2 / (d^2 - d) for d features (Serianni & Kalita's Jacobian cosine).

Read in ``lpzero/predictor/measures/jacobian_score.py`` (``jacobian_score_cosine``, the ``HfGPT2Flex`` branch, which
reads ``transformer.wpe.weight.grad``) and ``jacobian_covariance.py`` (``cosine``). The table is added to the input
embeddings, so its gradient is the loss's gradient there summed over the batch; the positions the loss never reaches
(the last, which predicts nothing) have zero gradient and no effect on the cosines. Only for models with a learned
position table added to their input (GPT-2); the project's ``jacob_cov`` is Mellor et al.'s covariance score.
"""
import torch

from ..registry import probe_proxy

EXPONENT = 1.0 / 20


@probe_proxy("lpzero_jacobian_cosine", "Serianni & Kalita, ACL 2023, as LPZero's released GPT-2 code computes it",
            "1 - mean |cosine|^(1/20) / 2 between features of the loss gradient of the position table", ("task",))
def lpzero_jacobian_cosine(run) -> float:
    if not getattr(type(run.model), "zc_learned_positions", False):
        raise ValueError("LPZero's jacobian cosine reads a learned position table added to the input embeddings, "
                         "which this model has not (GPT-2 has); use jacob_cov")
    table = run.task["embedding_grad"].double().sum(dim=0).T          # (features, positions)
    unit = table / table.norm(dim=1, keepdim=True)
    cosines = unit @ unit.T
    d = cosines.shape[0]
    off_diagonal = cosines.abs().pow(EXPONENT).sum() - torch.diagonal(cosines).abs().pow(EXPONENT).sum()
    return float(1 - off_diagonal / 2 / (d * d - d))

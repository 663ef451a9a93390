"""LPZero's NAS-Bench-BERT genotype: the program behind the ``lpzero`` column LPZero released for NAS-Bench-BERT.

LPZero's ``get_lpzero`` keeps, commented out beside its GPT-2 genotype, ``{'input_geno': ['softmax', 'head'],
'op_geno': [[19, 14], [8, 6], 0]}`` ("0.6917 but better from bert"). Over its operator tables it reads: the softmax
outputs -> no-op -> element-wise sqrt; the "head" outputs (each token mixer's first projection: the query, or a linear
transform's input projection) -> Frobenius norm -> relu; the two summed; each pair reduced by its mean, and the layers
averaged:

    lpzero_bert = mean over token mixers of [ mean(sqrt(softmax output)) + ||first projection output||_F ]

The released BERT column is not the GPT-2 genotype (``lpzero``): that one's gradient input is empty for LPZero's
FlexiBERT model, and it is bounded by about 1 where the released values run from 556 to 1069. This one reproduces
them (README, "Fidelity"). Choices: the softmax of a mixer without attention is the one FlexiBERT's legacy linear
transforms compute and discard (over each head's transformed slice); layers pair up in model order, as LPZero's
``zip`` of the two lists does. The Frobenius norm grows with the square root of the tokens probed (LPZero used
128 x 512 OpenWebText tokens), so values compare only under one probe shape; forward only, no gradient.
"""
import torch

from ..registry import probe_proxy


@probe_proxy("lpzero_bert", "Dong et al., LPZero, EMNLP Findings 2024 (its NAS-Bench-BERT genotype, as released)",
            "mean over token mixers of mean(sqrt(softmax output)) + ||first projection output||_F", ("task",),
            gradients=False)
def lpzero_bert(run) -> float:
    terms = []
    for mixer in run.task["mixers"]:
        if not mixer["projections"] or mixer["probs"] is None:
            raise ValueError("a token mixer recorded no projection or softmax output")
        spread = torch.sqrt(mixer["probs"].double().clamp(min=0)).mean()
        terms.append(float(spread + torch.relu(torch.linalg.norm(mixer["projections"][0].double()))))
    if not terms:
        raise ValueError("the model has no token mixers to score")
    return sum(terms) / len(terms)

"""Attention (and head) confidence as LPZero's code computes it for GPT-2 (its released ``attention_confidence`` and
``head_confidence`` columns, one definition under two names): forward hooks on every ``Conv1D`` and ``nn.Linear`` - for
GPT-2 each block's c_attn (query, key and value together), attention c_proj, MLP c_fc (before the GELU) and MLP
c_proj - and for each output (batch, tokens, features) the mean over batch and features of its largest value over the
tokens (``torch.max(output, 1)``); summed over the layers.

Read in ``lpzero/predictor/measures/attention_confidence.py`` (``compute_attention_confidence``) and
``attention_head_importance.py`` (``compute_head_confidence``), the ``HfGPT2Flex`` branches. It looks at no attention
weight; the project's ``attention_confidence`` is the definition the paper describes. Here the hooked layers are the
project's measured ones (attention, mixing, FFN), the same four per GPT-2 block.
"""
from ..registry import probe_proxy
from .released_code import max_over_dim1


@probe_proxy("lpzero_attention_confidence", "Serianni & Kalita, ACL 2023, as LPZero's released GPT-2 code computes it",
            "sum over linear layers' outputs of the mean over (batch, features) of the max over tokens",
            ("task", "linear_outputs"), gradients=False)
def lpzero_attention_confidence(run) -> float:
    outputs = run.linear_outputs()[0]
    if not outputs:
        raise ValueError("the model has no measured linear layers")
    return sum(max_over_dim1(o) for o in outputs)

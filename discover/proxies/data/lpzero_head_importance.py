"""Head importance as LPZero's code computes it for GPT-2 (its released ``head_importance`` column): the sum of
|W * dL/dW| over every ``Conv1D`` (and ``nn.Linear``) whose weight has at least 128 rows after the language-modelling
loss's backward pass - for ``Conv1D``, whose weight is (in, out), at least 128 *input* features. So it is SNIP over the
attention and FFN matrices that read a width of 128 or more: a d_model = 64 model keeps only its FFN output
projections (read in ``lpzero/predictor/measures/attention_head_importance.py``, the ``HfGPT2Flex`` branch).

Despite its name it masks no head: the project's ``head_importance`` is Michel et al.'s definition. Here the weights are
the project's measured matrices (attention, mixing, FFN); the input width is read per matrix (``TaggedTensor.
input_width``): the second dimension of an ``nn.Linear`` weight, the first of a Hugging Face ``Conv1D`` one (version 2:
version 1 read the second dimension of both, so on ``hf:`` GPT-2 folders it filtered on the output width; on every
shipped benchmark, built from ``nn.Linear``, the two versions are the same function). LPZero's FlexiBERT branch
filters on the output width instead, and its released BERT column is rounding error (see the README), so this
definition is the GPT-2 one.
"""
from ..registry import probe_proxy

MIN_INPUT_WIDTH = 128


@probe_proxy("lpzero_head_importance", "Serianni & Kalita, ACL 2023, as LPZero's released GPT-2 code computes it",
            "sum of |W * dL/dW| over attention and FFN matrices reading >= 128 features", ("task",), version=2)
def lpzero_head_importance(run) -> float:
    grads = run.task["grads"]
    return float(sum((t.tensor.detach() * grads[t.name]).abs().sum() for t in run.weights()
                     if t.input_width >= MIN_INPUT_WIDTH))

#!/usr/bin/env bash
# The probe values behind the README's fidelity and cross-space tables, computed on one GPU (the data-dependent
# proxies of 1,500 architectures take hours on two cores). Each step has a time budget; its JSON says how many
# architectures it reached.   usage: experiments/gpu_values.sh OUT_DIR [JOBS]
set -uo pipefail
out=${1:?output folder}; jobs=${2:-4}
mkdir -p "$out"
pv() { timeout "$1" python3 experiments/probe_values.py "${@:2}" --device "${DEVICE:-cuda}" --jobs "$jobs" \
   --chunk 16 --budget $(( $1 * 2 / 3 )) ${LIMIT:+--limit $LIMIT}; }
GPT2="activation_distance attention_confidence eznas fisher grad_norm grasp head_importance jacob_cov logsynflow
      lpzero snip synaptic_diversity synflow lpzero_bert lpzero_activation_distance lpzero_attention_confidence
      lpzero_fisher lpzero_head_importance lpzero_jacobian_cosine lpzero_synflow lpzero_logsynflow"
BERT="synaptic_diversity snip activation_distance jacob_cov head_importance head_softmax_confidence
      attention_confidence lpzero lpzero_bert eznas"
# GPT-2 wt103: every released column, the default probe
pv 180 lts-gpt2-wt103 --proxies $GPT2 -o "$out/gpt2.csv"
# legacy NAS-Bench-BERT under the released probe's shape (128 x 512 tokens), task-loss and ones gradients
pv 120 nas-bench-bert --builder legacy --batch 128 --seq 512 --proxies $BERT -o "$out/bert_legacy_128x512.csv"
pv 60 nas-bench-bert --builder legacy --batch 128 --seq 512 --gradient ones \
   --proxies synaptic_diversity snip head_importance -o "$out/bert_legacy_128x512_ones.csv"
# the cross-space comparison: lpzero, eznas (and lpzero_bert) on the other spaces, default probes
pv 50 lts-txl-wt103 --proxies lpzero eznas lpzero_bert -o "$out/txl.csv"
pv 40 lts-txl-wt103-homogeneous --proxies lpzero eznas lpzero_bert -o "$out/txl_homogeneous.csv"
pv 40 nas-bench-bert --proxies lpzero eznas lpzero_bert -o "$out/bert_as_trained.csv"
pv 40 nas-bench-bert --builder legacy --proxies lpzero eznas lpzero_bert -o "$out/bert_legacy.csv"
ls -la "$out"

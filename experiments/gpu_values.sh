#!/usr/bin/env bash
# The probe values the README's GraSP agreement, its dropout check and the cross-space table need on every
# architecture, to compute on one GPU (the same probes take hours on two cores). Each step has a time budget and its
# own log; a values file's JSON says how many architectures the step reached. Not yet run on a GPU (none was lent when
# it was written); dry-run on CPU, where the GPT-2 steps run out of their budgets.
#   usage: experiments/gpu_values.sh OUT_DIR [JOBS]      (DEVICE=cpu LIMIT=2 for a dry run)
set -uo pipefail
out=${1:?output folder}; jobs=${2:-8}
mkdir -p "$out"
device=${DEVICE:-cuda}
pv() { timeout "$1" python3 experiments/probe_values.py "${@:2}" --device "$device" --jobs "$jobs" \
   --chunk 8 --budget $(( $1 * 2 / 3 )) ${LIMIT:+--limit $LIMIT}; }
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null | tee "$out/gpu.txt"
# GPT-2 wt103, all 200: GraSP (exact Hessian-gradient product) beside the methods of the cross-space table
pv 140 lts-gpt2-wt103 --proxies grasp lpzero lpzero_bert eznas -o "$out/gpt2.csv" 2>&1 | tee "$out/gpt2.log"
# LPZero's training-mode residual dropout: GraSP's two passes under their own masks, and eznas
timeout 150 python3 experiments/dropout.py --limit "${LIMIT:-200}" --proxies grasp eznas --seeds 1 2 \
   --device "$device" --jobs "$jobs" -o "$out/dropout_grasp_eznas.md" 2>&1 | tee "$out/dropout.log"
# the other spaces of the cross-space table, every architecture (and GraSP on as-trained NAS-Bench-BERT)
pv 50 lts-txl-wt103 --proxies lpzero lpzero_bert eznas -o "$out/txl.csv" 2>&1 | tee "$out/txl.log"
pv 40 lts-txl-wt103-homogeneous --proxies lpzero lpzero_bert eznas -o "$out/txl_homogeneous.csv" 2>&1 \
   | tee "$out/txl_homogeneous.log"
pv 40 nas-bench-bert --proxies lpzero lpzero_bert eznas grasp -o "$out/bert_as_trained.csv" 2>&1 | tee "$out/bert.log"
# GraSP on legacy NAS-Bench-BERT (the README's per-space tables computed it by a finite difference)
pv 30 nas-bench-bert --builder legacy --proxies grasp -o "$out/bert_legacy_grasp.csv" 2>&1 | tee "$out/bert_legacy.log"
ls -la "$out"

#!/usr/bin/env bash
# Train the paper profile's runs (notebook 03's main run and notebook 04's study) on a GPU
# machine that has JAX but no TensorFlow or Jupyter, then pack the run artifacts.
#
#   PROFILE=paper DATA_DIR=photos/ OUT=/tmp/out bash scripts/gpu_paper_run.sh
#
# Afterwards, on the machine with Jupyter: `bash scripts/unpack_runs.sh OUT_FOLDER` puts the
# runs under models/<profile>/ and `make reproduce DATA_DIR=photos/` executes the notebooks,
# which find the finished runs by their config hash and load them instead of training.
#
# Environment:
#   PROFILE   profile whose notebook parameters define the runs (default paper)
#   DATA_DIR  folder of photos for data preparation (default: download the paper's dataset)
#   OUT       where the packed artifacts go (default ./gpu-out)
#   JOBS      runs trained at once on the one GPU (default 4)
#   BUDGET    seconds allowed for training before stopping to pack what finished (default 480)
#   SEEDS     seeds per setting for the study (default: notebook 04's `seeds` under PROFILE)
#   WHEELS    folder of wheels to install first (keras and friends), optional
#   SETTINGS  profile settings to override, e.g. "main.last_batch=fill" (then the runs are not the
#             ones the notebooks look up under PROFILE: for measuring, not for publishing)
set -uo pipefail
PROFILE=${PROFILE:-paper}
OUT=${OUT:-$PWD/gpu-out}
JOBS=${JOBS:-4}
BUDGET=${BUDGET:-480}
mkdir -p "$OUT"
source "$(dirname "$0")/gpu_env.sh"
# parallel runs of the same shapes compile once: JAX's persistent compilation cache, shared on disk
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$PWD/.gpu/jax-cache}
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0.5
started=$(date +%s)

python3 -m unetcolor data --profile "$PROFILE" ${DATA_DIR:+--data-dir "$DATA_DIR"} 2>&1 | tee "$OUT/train.log" || exit 1
machine_facts | tee -a "$OUT/train.log"
echo "training starts $(( $(date +%s) - started )) s after the script" | tee -a "$OUT/train.log"
timeout --signal=INT --kill-after=30 "$BUDGET" python3 -m unetcolor study --profile "$PROFILE" --jobs "$JOBS" \
    ${SEEDS:+--seeds "$SEEDS"} --workers 4 $(for s in ${SETTINGS:-}; do echo "--set=$s"; done) 2>&1 | tee -a "$OUT/train.log"
echo "training finished or stopped after $(( $(date +%s) - started )) s" | tee -a "$OUT/train.log"
bash scripts/pack_runs.sh "$PROFILE" "$OUT"

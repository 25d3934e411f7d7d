#!/bin/bash
# What compiles in which epoch of the paper main run on a GPU machine: configs/paper_main.yaml
# (Keras' partial last batch) for 3 epochs, on JAX, each epoch's compilations named in the log.
#   OUT=out_folder bash scripts/gpu_compile_check.sh     (wheels in .gpu/wheels, photos in .gpu/landscapes256)
# Its log and history.csv from an H100 are in reports/bench/gpu-h100/.
set -uo pipefail
log=$OUT/log
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; lscpu | grep -E "^(Model name|CPU\(s\)):"
  echo "bf16 flags: $(grep -o -w -E 'amx_bf16|amx_tile|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"; } 2>&1 | tee $log
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/wheels/*.whl 2>&1 | tail -2 | tee -a $log
export PYTHONPATH=/tmp/site:$PWD/lib KERAS_BACKEND=jax UNETCOLOR_PROGRESS=epoch PYTHONUNBUFFERED=1
python3 -c "import jax, keras; print('jax', jax.__version__, 'keras', keras.__version__, jax.devices())" 2>&1 | tee -a $log
python3 -m unetcolor.data --profile paper --data-dir .gpu/landscapes256 2>&1 | tail -4 | tee -a $log
sed -e 's/^epochs: 100/epochs: 3/' configs/paper_main.yaml > /tmp/partial.yaml
start=$(date +%s)
python3 -m unetcolor.train --config /tmp/partial.yaml --profile paper --workers 4 2>&1 | grep -v cuda_timer | tee -a $log
echo "partial, 3 epochs: $(( $(date +%s) - start )) s with data loading and final scoring" | tee -a $log
cp models/paper/*/history.csv $OUT/ 2>/dev/null

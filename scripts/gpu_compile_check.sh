#!/bin/bash
# What compiles in which epoch of the paper main run on a GPU machine: profiles/paper.yaml (main)
# (Keras' partial last batch, as the published runs) for 3 epochs on JAX; each epoch's log line
# names its compilations, and the run's records come back beside the log.
#
#   DATA_DIR=photos/ OUT=out_folder bash scripts/gpu_compile_check.sh
#
# Environment: DATA_DIR (photos for notebook 01's preparation under the paper profile), OUT (where the
# log and records go), WHEELS (folder of keras/namex/optree wheels to install first, optional),
# LAST_BATCH (partial, the default, or fill). The run's name holds "e3", so it never takes the place
# of a 100-epoch run. The records of one such check on an H100 are in reports/bench/gpu-h100/.
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
log=$OUT/log
source "$(dirname "$0")/gpu_env.sh"
machine_facts 2>&1 | tee "$log"
python3 -c "import jax, keras; print('jax', jax.__version__, 'keras', keras.__version__, jax.devices())" 2>&1 | tee -a "$log"
python3 -m unetcolor data --profile paper ${DATA_DIR:+--data-dir "$DATA_DIR"} 2>&1 | tail -4 | tee -a "$log"
config=$(mktemp --suffix=.yaml)
trap 'rm -f "$config"' EXIT
# the profile's main run with 3 epochs (and LAST_BATCH), written as a config file: no text editing of YAML
python3 -c "
import dataclasses, json, sys
from unetcolor import profiles
main = profiles.load('paper').main
print(json.dumps(dataclasses.replace(main, epochs=3, last_batch='${LAST_BATCH:-partial}').to_dict(), default=list))
" > "$config"
start=$(date +%s)
python3 -m unetcolor train --config "$config" --profile paper --workers 4 2>&1 | grep -v cuda_timer | tee -a "$log"
echo "3 epochs: $(( $(date +%s) - start )) s with data loading and final scoring" | tee -a "$log"
run=$(sed -n 's/^  "run_dir": "\(.*\)",$/\1/p' "$log" | tail -1)
[ -n "$run" ] && cp "$run"/config.json "$run"/environment.json "$run"/history.csv "$run"/metrics.json "$OUT"/

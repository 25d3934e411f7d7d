#!/usr/bin/env bash
# Pack a profile's finished runs for transport: the small records of every run in one
# tar.gz, and the base run's model.keras in 14 MB parts with its SHA-256 (file-size limits).
#   bash scripts/pack_runs.sh PROFILE OUT_FOLDER
set -euo pipefail
profile=$1
out=$2
models=models/$profile
mkdir -p "$out"
# only finished runs (metrics.json is written last); unfinished ones resume where they ran
records=$(cd "$models" && ls -d */ 2>/dev/null | while read -r run; do
    [ -f "${run}metrics.json" ] || continue
    for name in config.json environment.json history.csv metrics.json state.json; do
        [ -f "$run$name" ] && echo "$run$name"
    done
done)
tar -czf "$out/records.tar.gz" -C "$models" $records
tar -czf "$out/data.tar.gz" -C "data/processed/$profile" index.csv manifest.json splits
base=$(PYTHONPATH=lib${PYTHONPATH:+:$PYTHONPATH} python3 -c "
from unetcolor.study import plan_for_profile
print(plan_for_profile('$profile').iloc[0]['config'].run_name())")
if [ -f "$models/$base/model.keras" ]; then
    (cd "$models/$base" && sha256sum model.keras) > "$out/model.sha256"
    echo "$base" > "$out/model.run"
    split -b 14000000 -d "$models/$base/model.keras" "$out/model.keras.part-"
fi
ls -l "$out"

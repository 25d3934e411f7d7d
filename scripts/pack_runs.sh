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
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/data"
cp -r "data/processed/$profile/index.csv" "data/processed/$profile/manifest.json" "data/processed/$profile/splits" "$staging/data/"
# the main run: notebook 03's config under this profile (notebooks 05 and 06 evaluate its model)
base=$(PYTHONPATH=lib${PYTHONPATH:+:$PYTHONPATH} python3 -c "
from unetcolor import profiles
from unetcolor.training.train import run_folder
print(run_folder(profiles.load('$profile').main, '$profile').name)")
if [ -f "$models/$base/model.keras" ]; then
    (cd "$models/$base" && sha256sum model.keras) > "$staging/model.sha256"
    echo "$base" > "$staging/model.run"
    # float32 weights gzip by about 7%: enough to stay inside a 64 MiB transfer
    gzip -c -6 "$models/$base/model.keras" | split -b 16000000 -d - "$out/model.keras.gz.part-"
fi
tar -czf "$out/records.tar.gz" -C "$models" $records -C "$staging" .
ls -l "$out"

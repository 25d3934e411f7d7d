#!/usr/bin/env bash
# Put runs packed by pack_runs.sh under models/PROFILE/ (never over a finished run's files).
#   bash scripts/unpack_runs.sh PACKED_FOLDER [PROFILE]
set -euo pipefail
packed=$1
profile=${2:-paper}
models=models/$profile
mkdir -p "$models"
# members are plain relative paths written by pack_runs.sh; files that exist are kept as they are
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT
tar -xzf "$packed/records.tar.gz" -C "$models" --skip-old-files --no-same-owner --exclude=./data \
    --exclude=./model.run --exclude=./model.sha256
tar -xzf "$packed/records.tar.gz" -C "$extra" --no-same-owner ./data ./model.run ./model.sha256 2>/dev/null || true
if [ -f "$extra/model.run" ]; then
    run=$(cat "$extra/model.run")
    target=$models/$run/model.keras
    if [ ! -f "$target" ]; then
        cat "$packed"/model.keras.gz.part-* | gunzip > "$target.tmp"
        echo "$(cut -d' ' -f1 "$extra/model.sha256")  $target.tmp" | sha256sum -c - || { rm -f "$target.tmp"; exit 1; }
        mv "$target.tmp" "$target"
    fi
fi
# the data manifests the runs were trained on, to compare with this machine's preparation
if [ -d "$extra/data" ] && [ -d "data/processed/$profile/splits" ]; then
    for split in "$extra"/data/splits/*.csv; do
        cmp -s "$split" "data/processed/$profile/splits/$(basename "$split")" \
            && echo "same split as trained on: $(basename "$split")" \
            || echo "WARNING: $(basename "$split") differs from the one the runs were trained on" >&2
    done
fi
ls "$models"

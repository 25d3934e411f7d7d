#!/usr/bin/env bash
# Put runs packed by pack_runs.sh under models/PROFILE/ (never over a finished run's files).
#   bash scripts/unpack_runs.sh PACKED_FOLDER [PROFILE]
set -euo pipefail
packed=$1
profile=${2:-paper}
models=models/$profile
mkdir -p "$models"
# members are plain relative paths written by pack_runs.sh; files that exist are kept as they are
tar -xzf "$packed/records.tar.gz" -C "$models" --skip-old-files --no-same-owner
if [ -f "$packed/model.run" ]; then
    run=$(cat "$packed/model.run")
    target=$models/$run/model.keras
    if [ ! -f "$target" ]; then
        cat "$packed"/model.keras.part-* > "$target.tmp"
        echo "$(cut -d' ' -f1 "$packed/model.sha256")  $target.tmp" | sha256sum -c - || { rm -f "$target.tmp"; exit 1; }
        mv "$target.tmp" "$target"
    fi
fi
ls "$models"

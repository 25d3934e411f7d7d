#!/usr/bin/env bash
# Put runs packed by pack_runs.sh under models/PROFILE/.
#   bash scripts/unpack_runs.sh PACKED_FOLDER [PROFILE]
#
# Records of runs that are already here are kept as they are, with one exception: the run
# whose weights the pack carries. Its weights and its records belong together, so when its
# folder here has no weights yet, the pack's records replace the ones here (the old ones are
# kept beside them as <file>.replaced). A folder that already has weights is never touched.
set -euo pipefail
packed=$1
profile=${2:-paper}
models=models/$profile
mkdir -p "$models"
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT
# members are plain relative paths written by pack_runs.sh; GNU tar refuses absolute and `..` names
tar -xzf "$packed/records.tar.gz" -C "$extra" --no-same-owner --no-same-permissions
run=""
[ -f "$extra/model.run" ] && run=$(cat "$extra/model.run")
for folder in "$extra"/*/; do
    name=$(basename "$folder")
    [ "$name" = data ] && continue
    mkdir -p "$models/$name"
    if [ "$name" = "$run" ] && [ ! -f "$models/$name/model.keras" ]; then
        for file in "$folder"*; do
            target=$models/$name/$(basename "$file")
            if [ -f "$target" ] && ! cmp -s "$file" "$target"; then
                mv "$target" "$target.replaced"
                echo "$name: $(basename "$file") replaced by the pack's (it goes with the packed weights)"
            fi
            cp "$file" "$target"
        done
    else
        cp -n "$folder"* "$models/$name/"
    fi
done
if [ -n "$run" ] && [ ! -f "$models/$run/model.keras" ]; then
    target=$models/$run/model.keras
    cat "$packed"/model.keras.gz.part-* | gunzip > "$target.tmp"
    echo "$(cut -d' ' -f1 "$extra/model.sha256")  $target.tmp" | sha256sum -c - || { rm -f "$target.tmp"; exit 1; }
    mv "$target.tmp" "$target"
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

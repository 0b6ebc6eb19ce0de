#!/bin/sh
# The container's start (Dockerfile ENTRYPOINT): the prepared model artefacts into the data home,
# projects built from mounted corpora when the data home has none yet, then the server.
# Extra arguments go to `streamlit run` (e.g. --server.baseUrlPath=embedscope).
set -eu
home="${EMBEDSCOPE_HOME:-/data}"
prepared="${EMBEDSCOPE_PREPARED:-/opt/embedscope/prepared}"
corpora="${EMBEDSCOPE_CORPORA:-/corpora}"

mkdir -p "$home" 2>/dev/null || true
if ! [ -d "$home" ] || ! [ -w "$home" ]; then
    echo "embedscope: the data folder $home must be writable by UID $(id -u);" \
        "chown $(id -u) the folder mounted there" >&2
    exit 1
fi

# What the build prepared (numba's compiled kernels, the precision guard's verdict, a converted
# model), copied without overwriting: what the volume already holds from a later start, or from
# another CPU's compile, is kept.
if [ -d "$prepared" ]; then
    tar -C "$prepared" -cf - . | tar -C "$home" -xf - --skip-old-files
fi

has_projects() {
    [ -d "$home/projects" ] &&
        find "$home/projects" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | grep -q .
}

# Saved projects shipped in the image (docker/projects/), while the data home has none: their
# ids, and so their share links, stay the same on every start.
seed="${EMBEDSCOPE_SEED_PROJECTS:-/opt/embedscope/projects}"
if [ -d "$seed" ] && ! has_projects; then
    mkdir -p "$home/projects"
    tar -C "$seed" -cf - --exclude=./README.md . |
        tar -C "$home/projects" -xf - --skip-old-files
fi

# Corpora mounted at $corpora become saved projects, once: only while the data home has none.
if [ -d "$corpora" ] && ! has_projects; then
    for corpus in "$corpora"/*; do
        case "$corpus" in
        *.csv | *.tsv | *.txt | *.jsonl | *.json | *.parquet) ;;
        *) continue ;;
        esac
        echo "embedscope: precomputing $corpus" >&2
        # --text-column only when given: lib.precompute guesses it otherwise
        python -m lib.precompute "$corpus" ${EMBEDSCOPE_TEXT_COLUMN:+--text-column "$EMBEDSCOPE_TEXT_COLUMN"}
    done
fi

exec streamlit run app.py --server.address=0.0.0.0 --server.port="${PORT:-8501}" \
    --server.headless=true "$@"

#!/usr/bin/env bash
# The built wheel works outside a checkout: build it, install it (not editable) into a fresh
# venv, and run the commands a new user runs first, from an empty folder.
#
# The venv sees the system's site-packages (--system-site-packages), where .ci/run has just
# installed the dependencies, so pip resolves the wheel's requirements against them instead of
# installing torch, pandas, pyarrow, matplotlib and snakemake a second time (an isolated venv
# took 3.5 min more, load 10 on 2 cores). The check is about what the wheel ships (package
# data, entry points, python -m): the venv's own copy of rnngrad must be the one imported.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d /tmp/rnngrad-wheel.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

python -m pip wheel -q --no-deps -w "$scratch/dist" .
python -m venv --system-site-packages "$scratch/venv"
"$scratch/venv/bin/python" -m pip install -q "$scratch"/dist/rnngrad-*.whl

mkdir "$scratch/empty"
cat > "$scratch/study.yaml" <<'YAML'
study: wheel
grid: {backend: [numpy], seq_len: [10], w_rec_scale: [0.9], remedy: [none], seed: [0]}
defaults: {hidden: 4, batch: 4, train_steps: 2}
YAML
(
    cd "$scratch/empty"
    export PATH="$scratch/venv/bin:$PATH"
    unset PYTHONPATH
    python -c "import rnngrad, sys; sys.exit(not rnngrad.__file__.startswith('$scratch/venv/'))"
    rnngrad --version
    python -m rnngrad --help > /dev/null
    rnngrad validate --configfile ../study.yaml
    rnngrad cell seq_len=10 hidden=4 batch=4 train_steps=2 > cell.json
    python -c "import json, sys; json.load(open('cell.json'),
        parse_constant=lambda t: sys.exit(f'not strict JSON: {t}'))"
    test -z "$(ls -A | grep -v '^cell.json$')"  # nothing else written in the folder
)
echo "wheel check: ok"

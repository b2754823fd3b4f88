#!/usr/bin/env bash
# The whole lent-GPU session as one command (the device tool runs it from the repository root,
# with .devdata and .whl carried; README.md here). Runs the experiments in order until
# BUDGET seconds have passed, and after each one packs every run's small files into
# $OUT/runs.tgz, so a command stopped at its limit still returns what finished. EXTRA (env)
# appends overrides to every run: a CPU rehearsal shrinks them to seconds with it.
set -u
start=$(date +%s)
budget=${BUDGET:-540}
out=${OUT:-/tmp/out}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD NO_ALBUMENTATIONS_UPDATE=1 PYTHONUNBUFFERED=1
mkdir -p ../shared && ln -sfn "$PWD/.devdata/data" ../shared/data
nvidia-smi -L
python3 -c "import torch, timm, mlflow, albumentations as A; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'timm', timm.__version__, 'mlflow', mlflow.__version__, 'albumentations', A.__version__)" || exit 1
weights=.devdata/weights/tf_efficientnet_lite2.safetensors
here=experiments/real-photos-gpu

pack() {
    tar czf "$out/runs.tgz" --exclude='*.pt' --exclude='*.safetensors' --exclude='*.onnx' runs/real-photos-gpu
}

experiment() {  # name, then python -m train arguments
    local name=$1; shift
    local left=$((budget - ($(date +%s) - start)))
    if [ "$left" -lt 45 ]; then echo "skipped $name: ${left}s left"; return; fi
    local dir=runs/real-photos-gpu/$name
    mkdir -p "$dir"
    local t0=$(date +%s)
    timeout -k 10 "$left" python3 -m train "$@" output_dir="$dir" tracking.run_name="$name" \
        tracking.enabled=false model.weights="$weights" ${EXTRA:-} 2>&1 | tr '\r' '\n' \
        | grep -av -E '[0-9]+/[0-9]+ \[.*(it/s|s/it)' > "$dir/train.log"
    echo "$name: rc ${PIPESTATUS[0]}, $(( $(date +%s) - t0 )) s"
    grep -a -E '^fold [0-9]+:' "$dir/train.log"
    [ -f "$dir/cv_summary.json" ] && python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print({k: round(v, 4) for k, v in m.items() if isinstance(v, float) and ('auroc' in k)})" "$dir/cv_summary.json"
    pack
}

experiment aj1af1-lite2-384 --config $here/aj1af1-lite2-384.yaml
experiment legit-check-lite2-448-split0 --config $here/legit-check-lite2-448.yaml data.split_seed=0
experiment legit-check-lite2-448-split1 --config $here/legit-check-lite2-448.yaml data.split_seed=1
experiment legit-check-lite2-448-split2 --config $here/legit-check-lite2-448.yaml data.split_seed=2
experiment aj1af1-lite2-384-seed1 --config $here/aj1af1-lite2-384.yaml train.seed=1
experiment aj1af1-lite2-384-seed2 --config $here/aj1af1-lite2-384.yaml train.seed=2
echo "total $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# A GPU lease as one command, run by the device tool from the repository root with
# .devdata and .whl carried (README.md here). Runs the plan's experiments, PARALLEL at a time
# on the one GPU (one run at a time left it mostly idle), until BUDGET seconds have
# passed; after each one it packs every run's small files into $OUT/runs.tgz, so a command
# stopped at its limit still returns what finished.
#   PLAN      file of "name | python -m train arguments" lines (default plan.txt here)
#   PARALLEL  runs at a time (default 3); WORKERS loader workers each (default 14 / PARALLEL)
#   EXTRA     overrides appended to every run: a CPU rehearsal shrinks them to seconds with it
# Each run gets the float16 Lite2 weights unless its plan line names its own model.weights=
# (pack.py --model packs others), and resume=auto: a cross-validation cut short by the budget
# continues at its first unfinished fold on the next call (train/checkpoint.py, cv_state.json).
set -u
start=$(date +%s)
budget=${BUDGET:-540}
out=${OUT:-/tmp/out}
here=experiments/real-photos-gpu
plan=${PLAN:-$here/plan.txt}
parallel=${PARALLEL:-3}
workers=${WORKERS:-$(( 14 / parallel > 1 ? 14 / parallel : 1 ))}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD NO_ALBUMENTATIONS_UPDATE=1 PYTHONUNBUFFERED=1
mkdir -p ../shared && ln -sfn "$PWD/.devdata/data" ../shared/data
nvidia-smi -L
python3 -c "import torch, timm, mlflow, albumentations as A; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'timm', timm.__version__, 'mlflow', mlflow.__version__, 'albumentations', A.__version__)" || exit 1
weights=.devdata/weights/tf_efficientnet_lite2.safetensors

pack() {
    tar czf "$out/runs.tgz.part" --exclude='*.pt' --exclude='*.safetensors' --exclude='*.onnx' runs/real-photos-gpu \
        && mv "$out/runs.tgz.part" "$out/runs.tgz"
}

experiment() {  # name, then python -m train arguments
    local name=$1; shift
    local left=$((budget - ($(date +%s) - start)))
    if [ "$left" -lt 45 ]; then echo "skipped $name: ${left}s left"; return; fi
    local dir=runs/real-photos-gpu/$name
    mkdir -p "$dir"
    local t0=$(date +%s)
    # shellcheck disable=SC2086  # EXTRA is a list of overrides
    # Later overrides win: the plan line's model.weights (if any) replaces the default before it.
    timeout -k 10 "$left" python3 -m train model.weights="$weights" "$@" output_dir="$dir" \
        tracking.run_name="$name" tracking.enabled=false resume=auto data.workers="$workers" ${EXTRA:-} 2>&1 \
        | tr '\r' '\n' | grep -av -E '[0-9]+/[0-9]+ \[.*(it/s|s/it)' >> "$dir/train.log"
    echo "$name: rc ${PIPESTATUS[0]}, $(( $(date +%s) - t0 )) s"
    grep -a -E '^fold [0-9]+:' "$dir/train.log" | sed "s/^/  $name /"
    if [ -f "$dir/cv_summary.json" ]; then
        python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print(' ', sys.argv[2], {k: round(v, 4) for k, v in m.items() if isinstance(v, float) and 'auroc' in k})" "$dir/cv_summary.json" "$name"
    fi
}

while IFS='|' read -r name args; do
    read -r name <<< "$name"  # trims the blanks around it
    case "$name" in ''|'#'*) continue ;; esac
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n; pack; done
    # shellcheck disable=SC2086  # args is a list of arguments
    experiment "$name" $args < /dev/null &
    sleep 2  # stagger the starts: each decodes its photos first
done < "$plan"
wait
pack
echo "total $(( $(date +%s) - start )) s"

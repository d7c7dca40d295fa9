#!/usr/bin/env bash
# The whole GPU path on a machine with an NVIDIA GPU, PyTorch installed system-wide and no network: install the
# registry from the wheels in bench/wheels (`make gpu-wheels`, on a machine with a network) into a virtualenv that
# also sees the machine's PyTorch, install bubblewrap from its carried .deb when it is missing, start a registry
# (REGISTRY_JOBS=inprocess) in a temporary folder, push examples/digits-cnn-gpu, verify it with `regctl verify --yes`
# (here, in bubblewrap) and `regctl verify --remote` (the registry's reference worker, in bubblewrap too), and print
# both reports' environment and verdicts. Exit 0 when both reproduce the claims, non-zero otherwise.
#
#   bash bench/gpu_check.sh                 # on the GPU machine, from the repository root
#   GPU_CHECK_DRY=1 bash bench/gpu_check.sh # anywhere: everything up to the verifications, which must then say
#                                           # that the evaluation needs a GPU (local: exit 3; remote: not run here)
#
# GPU_CHECK_PYTHON picks the interpreter (default python3); GPU_CHECK_KEEP=1 keeps the temporary folder.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHEELS=$ROOT/bench/wheels
EXAMPLE=$ROOT/examples/digits-cnn-gpu
NAME=demo/digits-cnn-gpu
PYTHON=${GPU_CHECK_PYTHON:-python3}
DRY=${GPU_CHECK_DRY:-0}
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
SERVER_PID=

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'gpu_check: %s\n' "$*" >&2; exit 1; }
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    if [ "${GPU_CHECK_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

say "machine"
uname -srm
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
elif [ "$DRY" = 1 ]; then
    echo "no nvidia-smi (dry run)"
else
    fail "no nvidia-smi: this check needs an NVIDIA GPU (GPU_CHECK_DRY=1 runs it without one)"
fi

say "install from $WHEELS (no network)"
[ -f "$WHEELS/PYTHON" ] || fail "no $WHEELS/PYTHON: run 'make gpu-wheels' on a machine with a network first"
wanted=$(cat "$WHEELS/PYTHON")
have=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || fail "no $PYTHON"
[ "$have" = "$wanted" ] || fail "the wheels are for Python $wanted and $PYTHON is $have: make gpu-wheels GPU_PYTHON=$have"
"$PYTHON" -m venv --system-site-packages --without-pip "$WORK/venv" || fail "cannot create a virtualenv"
VENV_PY=$WORK/venv/bin/python
PIP_WHEEL=$(ls "$WHEELS"/pip-*.whl | head -n 1)
export PIP_NO_INDEX=1 PIP_FIND_LINKS=$WHEELS PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV_PY" "$PIP_WHEEL/pip" install --quiet --ignore-installed "$PIP_WHEEL" || fail "cannot install pip"
"$VENV_PY" -m pip install --quiet "$ROOT" || fail "cannot install the registry from the wheels"
# what the example's evaluation needs besides PyTorch, unless the machine has it
"$VENV_PY" -c 'import safetensors' 2>/dev/null || "$VENV_PY" -m pip install --quiet --no-deps safetensors \
    || fail "cannot install safetensors"
"$VENV_PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("sklearn") is None)' \
    || "$VENV_PY" -m pip install --quiet --no-deps scikit-learn || fail "cannot install scikit-learn"
export PATH=$WORK/venv/bin:$PATH VIRTUAL_ENV=$WORK/venv
"$VENV_PY" - <<'EOF'
import importlib.util
if importlib.util.find_spec("torch") is None:
    print("torch: not installed")
else:
    import torch
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuda available {torch.cuda.is_available()}"
          + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
EOF

say "bubblewrap"
if ! command -v bwrap >/dev/null; then
    debs=("$WHEELS"/bubblewrap_*.deb)
    ldconfig -p 2>/dev/null | grep -q 'libcap\.so\.2 ' || debs=("$WHEELS"/libcap2_*.deb "${debs[@]}")
    if [ "$(id -u)" = 0 ] && dpkg -i "${debs[@]}" >/dev/null; then
        echo "installed ${debs[*]##*/}"
    else  # no root, or dependencies dpkg will not take: the binary alone, on PATH
        for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$WORK/debs"; done
        export PATH=$WORK/debs/usr/bin:$PATH LD_LIBRARY_PATH=$WORK/debs/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        echo "unpacked ${debs[*]##*/} into $WORK/debs"
    fi
fi
bwrap --version || fail "bubblewrap does not run"

say "registry (REGISTRY_JOBS=inprocess, $WORK/var)"
export REGISTRY_VAR_DIR=$WORK/var REGISTRY_JOBS=inprocess HOME=$WORK/home
mkdir -p "$REGISTRY_VAR_DIR" "$HOME"
PORT=$("$VENV_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry db upgrade >/dev/null || fail "registry db upgrade failed"
registry users create demo >/dev/null || fail "cannot create the user demo"
REGCTL_TOKEN=$(registry tokens create demo --description gpu-check) || fail "cannot create a token"
export REGCTL_TOKEN REGCTL_URL=http://127.0.0.1:$PORT
registry serve --host 127.0.0.1 --port "$PORT" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 60); do
    "$VENV_PY" -c "import urllib.request; urllib.request.urlopen('$REGCTL_URL/api/v1/openapi.json', timeout=2)" \
        2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log"; fail "the registry did not start"; }
    sleep 1
done
echo "serving on $REGCTL_URL"

say "regctl push examples/digits-cnn-gpu"
regctl push "$EXAMPLE" || fail "push failed"

# one report's environment and verdicts, from regctl verify --json
summarise() {
    "$VENV_PY" - "$1" <<'EOF'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("  no report"); sys.exit()
if "error" in report:
    print(f"  error: {report['error'].get('code')}: {report['error'].get('message')}"); sys.exit()
env = report.get("environment") or {}
for gpu in env.get("gpus") or []:
    print(f"  GPU: {gpu.get('name')}, {gpu.get('memory_mib') or gpu.get('memory_gib') or gpu.get('memory')} memory")
print(f"  driver {env.get('driver')}, CUDA {env.get('cuda')}; accelerator asked {env.get('accelerator_requested')},"
      f" used {env.get('accelerator_used')}; sandbox {report.get('sandbox')}")
torch = (env.get("frameworks") or {}).get("torch")
print(f"  torch: {json.dumps(torch, sort_keys=True)}")
for verdict in report.get("claims") or []:
    print(f"  {verdict['metric']} ({verdict['dataset']}): claimed {verdict['claimed']}, measured "
          f"{verdict['measured']} (std {verdict.get('measured_std')}, {verdict.get('runs')} runs): "
          f"{verdict['verdict'].upper()}; {verdict.get('rule')}")
if report.get("failure"):
    print(f"  evaluation failed: {report['failure']}")
    tail = next((run["stderr_tail"] for run in reversed(report.get("runs") or []) if run.get("stderr_tail")), "")
    if tail:
        print("  " + "\n  ".join(tail.splitlines()[-5:]))
print(f"  outcome: {report.get('outcome')}")
EOF
}

say "regctl verify --yes (here, in bubblewrap)"
timeout 900 regctl verify --yes --json "$NAME" >"$WORK/local.json"
local_rc=$?
summarise "$WORK/local.json"
echo "  exit $local_rc"

say "regctl verify --remote (the registry's reference worker, in bubblewrap)"
# a registry whose machine has no GPU has no worker for the job: it refuses it or leaves it queued (dry run)
timeout "$([ "$DRY" = 1 ] && echo 60 || echo 900)" regctl verify --remote --json "$NAME" >"$WORK/remote.json"
remote_rc=$?
summarise "$WORK/remote.json"
echo "  exit $remote_rc"

if [ "$DRY" = 1 ]; then
    [ "$local_rc" = 3 ] && grep -qi "gpu" "$WORK/local.json" \
        || fail "dry run: expected the local verification to exit 3 (the evaluation needs a GPU), got $local_rc"
    [ "$remote_rc" != 0 ] || fail "dry run: the remote verification reproduced the claims on a machine without a GPU"
    say "dry run: everything up to the GPU ran; the local verification says it needs a GPU (exit 3)"
    exit 0
fi

say "regctl show $NAME"
regctl show "$NAME" || true

say "result"
echo "local verify: exit $local_rc; remote verify: exit $remote_rc (0 = every claim reproduced)"
[ "$local_rc" = 0 ] && [ "$remote_rc" = 0 ]

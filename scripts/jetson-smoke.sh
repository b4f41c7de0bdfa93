#!/usr/bin/env bash
# The first thing to run on a freshly flashed Jetson (docs/device.md): checks JetPack and Docker, builds the
# image, builds the TensorRT engines, times each engine, runs the demo through TensorRT, and prints one line
# per check and the frames per second.
#
#   scripts/jetson-smoke.sh [--config firmware_configs/orin-nano-8gb.yaml] [--dry-run]
#
# --dry-run reads the device (JetPack, board, Docker) and prints the commands it would run, running none of them.
# Exit 0 when every check passed, 1 otherwise. Environment (for tests): NV_TEGRA_RELEASE, DT_MODEL, DOCKER.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NV_TEGRA_RELEASE="${NV_TEGRA_RELEASE:-/etc/nv_tegra_release}"
DT_MODEL="${DT_MODEL:-/proc/device-tree/model}"
DOCKER="${DOCKER:-docker}"
IMAGE="fetal-edge:jetson"
VOLUME="fetal-edge-smoke"
CONFIG=""
DRY=0
PASSED=0
FAILED=0

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "jetson-smoke: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

pass() { PASSED=$((PASSED + 1)); printf 'PASS  %-22s %s\n' "$1" "$2"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL  %-22s %s\n' "$1" "$2"; }
skip() { printf 'SKIP  %-22s %s\n' "$1" "$2"; }
# --- JetPack: L4T release -> JetPack, base image, Python / TensorRT / CUDA (NVIDIA JetPack release notes)
l4t=""
if [ -r "$NV_TEGRA_RELEASE" ]; then
    l4t=$(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\),.*/\1.\2/p' "$NV_TEGRA_RELEASE" | head -1)
fi
case "$l4t" in
    36.4*) BASE=nvcr.io/nvidia/l4t-jetpack:r36.4.0
           pass jetpack "L4T $l4t = JetPack 6.1/6.2 (Python 3.10, TensorRT 10.3, CUDA 12.6)" ;;
    36.3*) BASE=nvcr.io/nvidia/l4t-jetpack:r36.3.0
           pass jetpack "L4T $l4t = JetPack 6.0 (Python 3.10, TensorRT 8.6.2, CUDA 12.2)" ;;
    35.*)  BASE=nvcr.io/nvidia/l4t-jetpack:r35.4.1
           pass jetpack "L4T $l4t = JetPack 5.1.x (Python 3.8, TensorRT 8.5.2, CUDA 11.4)" ;;
    32.*)  fail jetpack "L4T $l4t = JetPack 4.6: not supported (Python 3.6, TensorRT 8.2; the original Jetson Nano, docs/device.md)"
           BASE="" ;;
    "")    fail jetpack "no L4T release in $NV_TEGRA_RELEASE: not a Jetson, or JetPack not flashed"
           BASE="" ;;
    *)     fail jetpack "L4T $l4t is not a JetPack this package supports (5.1.x, 6.0, 6.1/6.2)"
           BASE="" ;;
esac

# --- board -> firmware config
model=$(tr -d '\0' < "$DT_MODEL" 2>/dev/null || true)
if [ -z "$CONFIG" ]; then
    case "$model" in
        *"AGX Orin"*) CONFIG=firmware_configs/agx-orin.yaml ;;
        *"Orin NX"*) CONFIG=firmware_configs/orin-nx-16gb.yaml ;;
        *"Orin Nano"*) CONFIG=firmware_configs/orin-nano-8gb.yaml ;;
        *"Xavier NX"*) CONFIG=firmware_configs/xavier-nx.yaml ;;
    esac
fi
if [ -n "$CONFIG" ] && [ -f "$ROOT/$CONFIG" ]; then
    pass board "${model:-unknown board}: $CONFIG"
else
    fail board "${model:-unknown board}: no firmware config for it${CONFIG:+ ($CONFIG not found)}; give --config"
fi

# --- Docker with the NVIDIA runtime as default (docker build has no --runtime flag)
if ! command -v "$DOCKER" >/dev/null 2>&1; then
    fail docker "docker not installed (JetPack's nvidia-container packages install it)"
else
    runtime=$("$DOCKER" info --format '{{.DefaultRuntime}}' 2>/dev/null || true)
    if [ "$runtime" = nvidia ]; then
        pass docker "default runtime nvidia"
    else
        fail docker "default runtime is '${runtime:-unknown}': add \"default-runtime\": \"nvidia\" to /etc/docker/daemon.json, restart docker (docs/device.md)"
    fi
fi

if [ "$FAILED" -gt 0 ]; then
    echo "---"
    echo "jetson-smoke: $PASSED passed, $FAILED failed (fix the above before building)"
    exit 1
fi

RUN=("$DOCKER" run --rm --runtime nvidia -v "$VOLUME:/var/lib/fetal-edge"
     -e "FETAL_EDGE_CONFIG=/opt/fetal-edge/$CONFIG" --entrypoint fetal-edge "$IMAGE")

if [ "$DRY" = 1 ]; then
    for step in "$DOCKER build -f $ROOT/Dockerfile.jetson --build-arg BASE=$BASE -t $IMAGE $ROOT" \
                "${RUN[*]} build-engines --config /opt/fetal-edge/$CONFIG --json" \
                "$DOCKER run ... --entrypoint /usr/src/tensorrt/bin/trtexec $IMAGE --loadEngine=ENGINE (each engine)" \
                "${RUN[*]} demo --config /opt/fetal-edge/$CONFIG --out /tmp/demo synthetic://sweep?frames=600&fps=30"; do
        echo "would run: $step"
    done
    echo "---"
    echo "jetson-smoke: $PASSED passed, $FAILED failed (dry run: nothing built or run)"
    exit 0
fi

# --- image
if "$DOCKER" build -f "$ROOT/Dockerfile.jetson" --build-arg "BASE=$BASE" -t "$IMAGE" "$ROOT"; then
    pass image "$IMAGE from $BASE"
else
    fail image "docker build failed (its last lines above say why)"
fi

# --- engines: one line per model (build-engines exits 5 when a model has no engine)
engines=$(mktemp)
"${RUN[@]}" build-engines --config "/opt/fetal-edge/$CONFIG" --json > "$engines.json"
python3 - "$engines.json" > "$engines" <<'PY' || echo "build-engines	-	failed	None	no JSON from build-engines	None" > "$engines"
import json, sys
for e in json.load(open(sys.argv[1])).get("engines", []):
    print("\t".join(str(e.get(k)) for k in ("model", "precision", "action", "fallback_from", "reason", "engine")))
PY
while IFS=$'\t' read -r name precision action fallback reason engine; do
    if [ "$action" = failed ]; then
        fail "engine $name" "no engine: $reason"
        continue
    elif [ "$fallback" != None ]; then
        pass "engine $name" "$precision ($action, fallback from $fallback: $reason)"
    else
        pass "engine $name" "$precision ($action)"
    fi
    # --- trtexec: loads the engine and times inference on random input
    out=$("$DOCKER" run --rm --runtime nvidia -v "$VOLUME:/var/lib/fetal-edge" \
          --entrypoint /usr/src/tensorrt/bin/trtexec "$IMAGE" --loadEngine="$engine" --warmUp=200 --duration=3 2>&1)
    mean=$(printf '%s\n' "$out" | sed -n 's/.*GPU Compute Time: .*mean = \([0-9.]*\) ms.*/\1/p' | head -1)
    if [ -n "$mean" ]; then
        pass "trtexec $name" "engine loads; GPU compute mean $mean ms"
    elif printf '%s\n' "$out" | grep -qi "not found\|no such file"; then
        skip "trtexec $name" "no trtexec in the image (/usr/src/tensorrt/bin)"
    else
        fail "trtexec $name" "$(printf '%s\n' "$out" | tail -1)"
    fi
done < "$engines"
rm -f "$engines" "$engines.json"

# --- demo through the device config's backend (its own store, never the clinic's)
demo=$(mktemp)
if "${RUN[@]}" demo --config "/opt/fetal-edge/$CONFIG" --out /tmp/demo "synthetic://sweep?frames=600&fps=30" > "$demo" 2>&1; then
    fps=$(sed -n 's/.*(\([0-9]*\) fps analysed).*/\1/p' "$demo" | head -1)
    if [ -n "$fps" ]; then
        pass demo "$fps frames/s analysed (600-frame synthetic sweep through $CONFIG's backend)"
    else
        fail demo "no fps line; output: $(tail -2 "$demo" | tr '\n' ' ')"
    fi
else
    fail demo "fetal-edge demo failed: $(tail -2 "$demo" | tr '\n' ' ')"
fi
rm -f "$demo"

echo "---"
echo "jetson-smoke: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

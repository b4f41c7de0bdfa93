#!/bin/sh
# Container start: check the device, build TensorRT engines once into the volume, then run the exam loop.
set -eu
CONFIG="${FETAL_EDGE_CONFIG:?set FETAL_EDGE_CONFIG to a firmware config}"
STATE=/var/lib/fetal-edge
mkdir -p "$STATE/engines"

fetal-edge doctor --config "$CONFIG" || echo "fetal-edge doctor reported problems (see above); continuing" >&2

# Engines depend on the exact GPU, TensorRT version and precision: built here, not shipped.
if [ ! -f "$STATE/engines/.built" ]; then
    if fetal-edge build-engines --help >/dev/null 2>&1; then
        fetal-edge build-engines --config "$CONFIG" && touch "$STATE/engines/.built"
    else
        echo "this fetal-edge has no build-engines command; running on onnxruntime" >&2
    fi
fi

if [ "${1:-run}" = "run" ]; then
    shift || true
    # one exam per run; the loop starts the next exam when the probe comes back
    while true; do
        fetal-edge run --config "$CONFIG" --quiet "$@" || echo "exam ended with exit $?; restarting in 5 s" >&2
        sleep 5
    done
fi
exec fetal-edge "$@"

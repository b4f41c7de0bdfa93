#!/bin/sh
# Container start: check the device, make sure every model has a valid TensorRT engine (at every start: quick
# when the engines are valid, a rebuild after a new image, TensorRT or config), then run exams in a loop.
#
# The loop backs off when exams fail quickly (5 s, doubling to FETAL_EDGE_BACKOFF_MAX_S) and says why; a config
# or model error (exit 2 / 4) does not fix itself, so it waits for the config file to change instead of
# restarting. Exit codes of `fetal-edge run`: 0 complete, 130 stopped, 2 config, 3 source or input, 4 model,
# 5 backend, 6 store (docs/device.md).
set -eu
CONFIG="${FETAL_EDGE_CONFIG:?set FETAL_EDGE_CONFIG to a firmware config}"
STATE="${FETAL_EDGE_STATE:-/var/lib/fetal-edge}"
BACKOFF_MAX="${FETAL_EDGE_BACKOFF_MAX_S:-300}"
MAX_EXAMS="${FETAL_EDGE_MAX_EXAMS:-0}"   # 0 = forever (tests set a limit)
mkdir -p "$STATE/engines"

say() { echo "fetal-edge-entrypoint: $*" >&2; }

mtime() { stat -c %Y "$1" 2>/dev/null || echo 0; }

fetal-edge doctor --config "$CONFIG" || say "doctor reported problems (above); continuing"

# Every start: valid engines are kept, missing or stale ones (new model, TensorRT, JetPack, board or settings)
# are rebuilt; a model that cannot be built runs on onnxruntime until it can (build-engines exit 5).
if fetal-edge build-engines --config "$CONFIG"; then
    say "engines ready"
else
    say "build-engines exited $?: the models listed above run without a TensorRT engine (see its reasons)"
fi

if [ "${1:-run}" != "run" ]; then
    exec fetal-edge "$@"
fi
if [ $# -gt 0 ]; then shift; fi

delay=5
exams=0
while :; do
    started=$(date +%s)
    code=0
    fetal-edge run --config "$CONFIG" --quiet "$@" || code=$?
    exams=$((exams + 1))
    if [ "$MAX_EXAMS" -gt 0 ] && [ "$exams" -ge "$MAX_EXAMS" ]; then
        exit "$code"
    fi
    lasted=$(( $(date +%s) - started ))
    case "$code" in
        0|130)
            delay=5
            say "exam ended (exit $code) after ${lasted} s; next exam"
            continue ;;
        2|4)
            say "exam refused to start (exit $code: $( [ "$code" = 2 ] && echo config || echo model ) error, see" \
                "above). This does not fix itself: fix $CONFIG or the model bundle; waiting for $CONFIG to change"
            before=$(mtime "$CONFIG")
            while [ "$(mtime "$CONFIG")" = "$before" ]; do sleep "${FETAL_EDGE_POLL_S:-30}"; done
            say "$CONFIG changed; starting again"
            delay=5
            continue ;;
    esac
    if [ "$lasted" -ge 60 ]; then
        delay=5   # it ran: a new failure starts the back-off again
    fi
    say "exam ended with exit $code after ${lasted} s (3 source, 5 backend, 6 store: see above); next try in ${delay} s"
    sleep "$delay"
    delay=$((delay * 2))
    if [ "$delay" -gt "$BACKOFF_MAX" ]; then
        delay=$BACKOFF_MAX
    fi
done

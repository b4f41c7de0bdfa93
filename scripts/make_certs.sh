#!/usr/bin/env bash
# Make a test PKI for fetal-edge sync: a project CA, a broker certificate and one client certificate per device.
#
#   scripts/make_certs.sh OUTDIR [CLINIC/DEVICE ...]
#
# OUTDIR/ca.crt ca.key                          the project CA (keep ca.key offline in production)
# OUTDIR/broker.crt broker.key                  the broker, valid for localhost and 127.0.0.1 (BROKER_HOST adds one)
# OUTDIR/devices/CLINIC/DEVICE.crt .key         one per device; the certificate's CN is "CLINIC/DEVICE", which
#                                               mosquitto (use_identity_as_username) uses as the user name that
#                                               the ACL pattern  fetal-edge/v1/%u/...  expands to.
# A device name may also be "receiver" (CN "receiver": the central subscriber) or any extra identity.
# Environment: DAYS (validity, default 825; a negative number makes an already expired certificate, for tests),
# CA_DAYS (default 3650), BROKER_HOST.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 OUTDIR [CLINIC/DEVICE ...]" >&2
    exit 2
fi
out=$1; shift
days=${DAYS:-825}
ca_days=${CA_DAYS:-3650}
command -v openssl >/dev/null || { echo "$0: openssl not found (apt-get install openssl)" >&2; exit 2; }
mkdir -p "$out/devices"
umask 077

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -f "$out/ca.crt" ]]; then
    newkey "$out/ca.key"
    openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$ca_days" -subj "/CN=fetal-edge test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$out/ca.crt"
fi

sign() {  # sign KEY CN OUT EXTFILE
    local csr
    csr=$(mktemp)
    openssl req -new -key "$1" -subj "/CN=$2" -out "$csr"
    openssl x509 -req -in "$csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial -sha256 \
        -days "$days" -extfile "$4" -out "$3" 2>/dev/null
    rm -f "$csr"
}

ext=$(mktemp)
trap 'rm -f "$ext"' EXIT
if [[ ! -f "$out/broker.crt" ]]; then
    san="DNS:localhost,IP:127.0.0.1"
    if [[ -n "${BROKER_HOST:-}" ]]; then san="$san,DNS:$BROKER_HOST"; fi
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" >"$ext"
    newkey "$out/broker.key"
    sign "$out/broker.key" "fetal-edge broker" "$out/broker.crt" "$ext"
fi

printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >"$ext"
for ident in "$@"; do
    if [[ ! "$ident" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$ ]]; then
        echo "$0: identity '$ident' must be CLINIC/DEVICE (letters, digits, _ . -) or a single name" >&2
        exit 2
    fi
    mkdir -p "$out/devices/$(dirname "$ident")"
    newkey "$out/devices/$ident.key"
    sign "$out/devices/$ident.key" "${ident//\//\\/}" "$out/devices/$ident.crt" "$ext"
done
chmod 644 "$out"/*.crt
echo "certificates in $out: ca.crt broker.crt ${*:+devices/{$(IFS=,; echo "$*")\}.crt}"

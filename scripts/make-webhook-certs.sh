#!/usr/bin/env bash
# Make a test CA and a serving certificate for runhv-webhook.
#
#   scripts/make-webhook-certs.sh OUTDIR [SERVICE [NAMESPACE]]
#
# Writes OUTDIR/ca.pem, ca.key (the CA: give ca.pem to
# `runhv config kubernetes --ca-file`), tls.crt and tls.key (the serving pair:
# the runhv-webhook-tls Secret, or --tls-cert-file/--tls-private-key-file).
# The certificate names SERVICE.NAMESPACE.svc (default
# runhv-webhook.runhv-system.svc, what the API server dials) plus localhost
# and 127.0.0.1 for tests on loopback.  For production, use your cluster's
# CA tooling (cert-manager); this is for test clusters and the test suite.
#
#   kubectl -n runhv-system create secret tls runhv-webhook-tls \
#     --cert=OUTDIR/tls.crt --key=OUTDIR/tls.key
set -euo pipefail

out=${1:?usage: make-webhook-certs.sh OUTDIR [SERVICE [NAMESPACE]]}
service=${2:-runhv-webhook}
namespace=${3:-runhv-system}
days=${DAYS:-365}
host="$service.$namespace.svc"

mkdir -p "$out"
umask 077
# P-256: small and fast to handshake; every TLS 1.2/1.3 client takes it.
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$out/ca.key" -out "$out/ca.pem" -days "$days" \
  -subj "/CN=runhv-webhook test CA $(date +%s%N)" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$out/tls.key" -out "$out/tls.csr" -subj "/CN=$host" 2>/dev/null
cat > "$out/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$host,DNS:$service.$namespace.svc.cluster.local,DNS:$service.$namespace,DNS:$service,DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in "$out/tls.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial \
  -out "$out/tls.crt" -days "$days" -extfile "$out/ext.cnf" 2>/dev/null
rm -f "$out/tls.csr" "$out/ext.cnf" "$out/ca.srl"
chmod 644 "$out/ca.pem" "$out/tls.crt"
echo "wrote $out/ca.pem $out/ca.key $out/tls.crt $out/tls.key for $host"

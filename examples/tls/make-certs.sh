#!/usr/bin/env bash
# Makes a throw-away CA and certificates for trying examples/tls/weft.toml:
#   ca.pem                 the CA (clients trust it; Weft checks client certificates with it)
#   server.pem, server-key.pem   Weft's certificate, for 127.0.0.1 and localhost
#   client.pem, client-key.pem   a client certificate (CN=example-client) for mutual TLS
#
#   examples/tls/make-certs.sh examples/tls/certs
#
# For trying things out only: use your own PKI (or cert-manager) for anything real.
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
days=825

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/CN=Weft example CA" -keyout ca-key.pem -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null

issue() { # name subject extended-key-usage
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
    -keyout "$1-key.pem" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
    -out "$1.pem" -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=%s\n' "$3") \
    2>/dev/null
  rm "$1.csr"
}
issue server "/CN=weft" serverAuth
issue client "/CN=example-client" clientAuth
rm -f ca.srl
chmod 600 ./*-key.pem
echo "wrote ca.pem, server.pem, server-key.pem, client.pem, client-key.pem to $dir"

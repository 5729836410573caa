#!/bin/sh
# Make the test CA and the simulator's server certificate (SAN 127.0.0.1, ::1, localhost).
# Used by the build, the tests, the demo and the benchmarks. Never trusted unless a config
# names build/ca/ca.pem in ca_file.
set -eu
dir=${1:-build/ca}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=chuda test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out sim.key 2>/dev/null
openssl req -new -key sim.key -subj "/CN=chuda-sim" -out sim.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > sim.ext
openssl x509 -req -in sim.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
    -extfile sim.ext -out sim.pem 2>/dev/null
# A second, unrelated CA with a certificate for the same names: a server presenting it must be
# rejected by chuda (the "TLS certificate mismatch" fault).
openssl ecparam -name prime256v1 -genkey -noout -out rogue-ca.key 2>/dev/null
openssl req -x509 -new -key rogue-ca.key -sha256 -days 3650 -subj "/CN=rogue CA" -out rogue-ca.pem 2>/dev/null
openssl req -new -key sim.key -subj "/CN=chuda-sim" -out rogue.csr 2>/dev/null
openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial -days 3650 -sha256 \
    -extfile sim.ext -out rogue.pem 2>/dev/null
# A certificate from the test CA itself, but for another host (not 127.0.0.1/localhost): a
# server presenting it must be rejected too (name mismatch, trusted issuer).
openssl req -new -key sim.key -subj "/CN=wrong-host.example" -out wrong.csr 2>/dev/null
printf 'subjectAltName=DNS:wrong-host.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > wrong.ext
openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
    -extfile wrong.ext -out wronghost.pem 2>/dev/null
chmod 0644 ca.pem sim.pem rogue.pem rogue-ca.pem wronghost.pem
rm -f sim.csr rogue.csr sim.ext wrong.csr wrong.ext

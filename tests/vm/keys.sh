#!/bin/bash
# Creates (once per machine) the test signing keys in <cache>/keys and prints that dir:
#   signing.pem (key + cert, for CONFIG_MODULE_SIG_KEY), signing.key, signing.crt
#   wrong.pem, wrong.key, wrong.crt: a second key the test kernel does not trust
# Test-only keys: RSA 2048, self-signed, with the extensions the kernel's keyring wants.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$("$here/cache-dir.sh")/keys
mkdir -p "$dir"
exec 7>"$dir/.lock"
flock 7
gen() { # gen NAME CN
	[ -f "$dir/$1.pem" ] && return 0
	cat >"$dir/$1.genkey" <<CNF
[ req ]
default_bits = 2048
distinguished_name = req_distinguished_name
prompt = no
string_mask = utf8only
x509_extensions = myexts
[ req_distinguished_name ]
O = drvkit tests
CN = $2
[ myexts ]
basicConstraints=critical,CA:FALSE
keyUsage=digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
CNF
	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 \
		-config "$dir/$1.genkey" -outform PEM -out "$dir/$1.crt" -keyout "$dir/$1.key" 2>/dev/null
	cat "$dir/$1.key" "$dir/$1.crt" >"$dir/$1.pem.tmp"
	mv "$dir/$1.pem.tmp" "$dir/$1.pem"
}
gen signing "drvkit test signing key"
gen wrong "drvkit untrusted test key"
echo "$dir"

#!/bin/sh
# Regenerates the gpg_* files: an Ed25519 key made by GnuPG, with a signing
# subkey that expires, and records clear-signed by GnuPG with the subkey and
# with the primary key. Times are fixed with --faked-system-time.
# Usage: sh gen-gpg.sh (in this directory; needs gpg 2.2 or later).
set -eu
GNUPGHOME=$(mktemp -d)
export GNUPGHOME
trap 'gpgconf --kill all; rm -rf "$GNUPGHOME"' EXIT
gpgat() { t=$1; shift; gpg --batch --quiet --pinentry-mode loopback --passphrase '' --faked-system-time "$t!" "$@"; }

gpgat 20250101T000000 --quick-generate-key 'gpg rebuilder <rebuilder@example.invalid>' ed25519 sign,cert never
fpr=$(gpg --with-colons --list-keys | awk -F: '/^fpr/ { print $10; exit }')
gpgat 20250102T000000 --quick-add-key "$fpr" ed25519 sign 2026-01-02

cat > gpg_text.txt <<'TEXT'
Format: 1.0
Source: gpgtest
- this line starts with a dash
-----END PGP NOSIGNATURE-----
Trailing-Spaces: are not signed   
From the start of a line

Maintainer: Jörg Example <joerg@example.invalid>
TEXT

gpg --armor --export "$fpr" > gpg_ed25519_key.asc
gpgat 20250601T120000 --digest-algo SHA512 --clearsign --output gpg_subkey_signed.asc gpg_text.txt
gpgat 20260301T120000 --digest-algo SHA512 --local-user "$fpr!" --clearsign --output gpg_primary_signed.asc gpg_text.txt
gpgat 20250601T120000 --digest-algo SHA256 --detach-sign --armor --output gpg_detached.asc gpg_text.txt

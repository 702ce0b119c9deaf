#!/usr/bin/env bash
# Regenerates crates/media/tests/data/g722/: 1.5 s of the en_US welcome prompt (16-bit LE, 16 kHz)
# and what spandsp's G.722 makes of it (encoded, and that decoded again). spandsp is what
# Asterisk, FreeSWITCH and baresip use, and it passes the ITU-T G.722 test sequences; the media
# crate's G.722 must match it bit for bit (crates/media/src/g722.rs, tests).
# Needs: gcc, pkg-config, libspandsp-dev, sox (Debian packages). Little-endian machines only.
set -euo pipefail
cd "$(dirname "$0")/.."
out=crates/media/tests/data/g722
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/g722-reference" scripts/g722-reference.c $(pkg-config --cflags --libs spandsp)
mkdir -p "$out"
sox prompts/en_US/welcome.wav -t raw -e signed -b 16 -L "$out/welcome.s16le" trim 0 1.5
"$tmp/g722-reference" encode < "$out/welcome.s16le" > "$out/welcome.spandsp.g722"
"$tmp/g722-reference" decode < "$out/welcome.spandsp.g722" > "$out/welcome.spandsp.s16le"
ls -l "$out"

#!/usr/bin/env bash
# Regenerates the malformed-input corpus from the samples (needs sox, ffmpeg,
# libtiff-tools, poppler-utils, python3). expected.tsv says which decoder each
# file goes to and what its error must contain.
set -euo pipefail
cd "$(dirname "$0")"
samples=../../../../samples
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
: > empty.wav
: > empty.tif
head -c 4000 "$samples/voicemail.wav" > truncated.wav
python3 -c "import random,sys; r=random.Random(5); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(3000)))" > noise.wav
cp noise.wav not-a-fax.bin
# A WAV whose header claims 0 channels.
python3 - <<'PY'
data = open("../../../../samples/voicemail.wav", "rb").read()[:2000]
i = data.find(b"fmt ")
open("zero-channels.wav", "wb").write(data[:i + 10] + b"\0\0" + data[i + 12:])
PY
# GSM keeps the file small (40 s in 65 kB); the test runs with a 30 s limit.
sox -n -r 8000 -c 1 -e gsm-full-rate "$tmp/long.wav" synth 40 sine 400
cp "$tmp/long.wav" too-long.wav
head -c 10000 "$samples/fax.tif" > truncated.tif
# ImageWidth (tag 256, first IFD entry at offset 8+2) patched to 100000.
python3 - <<'PY'
import struct
data = bytearray(open("../../../../samples/fax.tif", "rb").read())
assert struct.unpack_from("<H", data, 10)[0] == 254 and struct.unpack_from("<H", data, 22)[0] == 256
struct.pack_into("<HHII", data, 22, 256, 4, 1, 100000)
open("too-wide.tif", "wb").write(data)
PY
ffmpeg -v error -y -f lavfi -i testsrc=s=320x240 -frames 1 -pix_fmt gray "$tmp/page.png"
head -c 300 "$tmp/page.png" > truncated.png
python3 - "$tmp/page.png" <<'PY'
import struct, sys, zlib
data = bytearray(open(sys.argv[1], "rb").read())
struct.pack_into(">II", data, 16, 90000, 90000)             # IHDR width, height
struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
open("oversized.png", "wb").write(data[:2000])
PY
ffmpeg -v error -y -f lavfi -i testsrc=s=320x240 -frames 1 "$tmp/page.jpg"
head -c 1500 "$tmp/page.jpg" > truncated.jpg
tiff2pdf -o "$tmp/page.pdf" "$samples/fax.tif"
head -c 900 "$tmp/page.pdf" > truncated.pdf

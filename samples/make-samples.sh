#!/bin/sh
# Regenerates samples/voicemail.wav and samples/fax.tif (deterministic, idempotent).
# Needs Debian packages: espeak-ng, sox, python3-pil, fonts-dejavu-core, libtiff-tools.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Voicemail: synthetic speech, 8 kHz 16-bit mono PCM WAV. -D: no dither, so runs are reproducible.
espeak-ng -v en-us -s 150 -w "$work/speech.wav" \
  "Hi, this is Alice from Example Plumbing. I am calling about the leaking pipe in your kitchen. \
We can come by on Thursday morning between nine and eleven. \
Please call me back at 555 0123 to confirm. Thanks, bye."
sox -D "$work/speech.wav" -r 8000 -b 16 -c 1 -e signed-integer voicemail.wav

# Fax: draw two A4 pages at 204 x 196 dpi, MH-code them with tiffcp, then lay the
# file out as RFC 3949 profile S (IFD before its data; libtiff writes it after).
/usr/bin/python3 - "$work" <<'PY'
import struct, subprocess, sys
from PIL import Image, ImageDraw, ImageFont

work = sys.argv[1]
WIDTH, LENGTH, YDPI = 1728, 2287, 196  # A4 at fine resolution
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

PAGES = [
    ["Example Plumbing Ltd - INVOICE 2024-0117",
     "Fax page 1 of 2",
     "To: Bob Jones, 12 Sample Street",
     "From: Alice, Example Plumbing, tel. 555 0123",
     "",
     "Kitchen pipe repair .............. 120.00",
     "Replacement valve ................  35.50",
     "Call-out charge ..................  40.00"],
    ["Example Plumbing Ltd - INVOICE 2024-0117",
     "Fax page 2 of 2",
     "Total due ........................ 195.50",
     "Payment within 30 days.",
     "Questions? Call 555 0123.",
     "Thank you for your business."],
]

def draw(lines):
    page = Image.new("1", (WIDTH, LENGTH), 1)
    pen = ImageDraw.Draw(page)
    pen.rectangle((100, 100, WIDTH - 100, 110), fill=0)
    y = 160
    for number, text in enumerate(lines):
        font = ImageFont.truetype(BOLD if number == 0 else FONT, 56 if number == 0 else 44)
        pen.text((120, y), text, font=font, fill=0)
        y += 110
    return page

def ifd_entries(width, length, strip_offset, strip_size, rationals, compression, fill, index, total):
    entries = [(254, 4, 1, 2), (256, 3, 1, width), (257, 4, 1, length), (258, 3, 1, 1),
               (259, 3, 1, compression), (262, 3, 1, 0), (266, 3, 1, fill), (273, 4, 1, strip_offset),
               (277, 3, 1, 1), (278, 4, 1, length), (279, 4, 1, strip_size), (282, 5, 1, rationals),
               (283, 5, 1, rationals + 8)]
    if compression == 3:
        entries.append((292, 4, 1, 4))  # MH, byte-aligned EOLs
    entries += [(296, 3, 1, 2), (297, 3, 2, index | total << 16)]
    return entries

def write_tiff(path, strips, compression, fill):
    """Profile S layout: header, then per page IFD, its resolutions, its strip."""
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for index, strip in enumerate(strips):
        last = index + 1 == len(strips)
        count = 16 if compression == 3 else 15
        ifd = len(out)
        rationals = ifd + 2 + 12 * count + 4
        data = rationals + 16
        following = 0 if last else (data + len(strip) + 1) // 2 * 2
        entries = ifd_entries(WIDTH, LENGTH, data, len(strip), rationals, compression, fill, index, len(strips))
        out += struct.pack("<H", len(entries))
        for tag, kind, n, value in entries:
            out += struct.pack("<HHII", tag, kind, n, value)
        out += struct.pack("<I", following) + struct.pack("<IIII", 204, 1, YDPI, 1) + strip
        if not last and len(out) % 2:
            out += b"\0"
    open(path, "wb").write(out)

def read_strips(path):
    data = open(path, "rb").read()
    assert data[:4] == b"II*\0"
    offset, strips = struct.unpack_from("<I", data, 4)[0], []
    while offset:
        count = struct.unpack_from("<H", data, offset)[0]
        tags = {}
        for i in range(count):
            tag, kind, n, value = struct.unpack_from("<HHII", data, offset + 2 + 12 * i)
            tags[tag] = value
        assert tags.get(278, LENGTH) >= LENGTH, "expected one strip per page"
        strips.append(data[tags[273]:tags[273] + tags[279]])
        offset = struct.unpack_from("<I", data, offset + 2 + 12 * count)[0]
    return strips

raw = []
for lines in PAGES:
    bits = draw(lines).tobytes()  # mode "1" packs MSB first with 1 = white
    raw.append(bytes(b ^ 0xFF for b in bits))  # min-is-white: 1 = black
write_tiff(f"{work}/raw.tif", raw, compression=1, fill=1)
subprocess.run(["tiffcp", "-c", "g3:1d:fill", "-f", "lsb2msb", "-r", str(LENGTH),
                f"{work}/raw.tif", f"{work}/mh.tif"], check=True)
write_tiff("fax.tif", read_strips(f"{work}/mh.tif"), compression=3, fill=2)
PY
ls -l voicemail.wav fax.tif

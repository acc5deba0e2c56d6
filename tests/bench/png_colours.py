#!/usr/bin/env python3
"""png_colours.py SHOT.png NAME=#rrggbb... : checks that each colour draws a line in the picture.

Decodes the PNG with zlib alone (8-bit RGB or RGBA, not interlaced: what chromium writes), then
for each colour counts the pixels within a small distance of it (anti-aliasing blends the
edges, the middle of a 2.5 px stroke keeps the colour). A plot line passes when it has at least
MIN_PIXELS such pixels spread over at least MIN_SPAN_X columns and MIN_SPAN_Y rows: far more
than the 18 x 2 px legend swatch of the same colour, so a page whose plots failed to render
(only legends, or nothing) fails. Prints one line per colour; exit 1 when any fails."""
import struct
import sys
import zlib

MIN_PIXELS, MIN_SPAN_X, MIN_SPAN_Y, TOLERANCE = 300, 300, 20, 40


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit(f"{path}: unsupported PNG (depth {depth}, type {ctype}, "
                                 f"interlace {interlace})")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    width, height, bpp, rows = decode(sys.argv[1])
    wanted = {}
    for arg in sys.argv[2:]:
        name, colour = arg.split("=")
        wanted[name] = tuple(int(colour[k:k + 2], 16) for k in (1, 3, 5))
    found = {name: [0, width, -1, height, -1] for name in wanted}
    for y, row in enumerate(rows):
        for x in range(0, width):
            r, g, b = row[x * bpp], row[x * bpp + 1], row[x * bpp + 2]
            if r == g == b:  # white, greys, black text: the bulk of the page
                continue
            for name, (cr, cg, cb) in wanted.items():
                if abs(r - cr) + abs(g - cg) + abs(b - cb) <= TOLERANCE:
                    f = found[name]
                    f[0] += 1
                    f[1], f[2] = min(f[1], x), max(f[2], x)
                    f[3], f[4] = min(f[3], y), max(f[4], y)
    ok = True
    for name, (n, x0, x1, y0, y1) in found.items():
        span_x, span_y = max(0, x1 - x0), max(0, y1 - y0)
        good = n >= MIN_PIXELS and span_x >= MIN_SPAN_X and span_y >= MIN_SPAN_Y
        ok &= good
        print(f"{'ok ' if good else 'BAD'} {name}: {n} pixels over {span_x} x {span_y} px "
              f"(need {MIN_PIXELS} over {MIN_SPAN_X} x {MIN_SPAN_Y})")
    print(f"screenshot {width} x {height}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

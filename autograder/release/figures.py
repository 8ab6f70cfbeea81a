"""The figures: SVG sources in Grafiken/, and the PNG renderings that the notebooks embed.

JupyterLab 4 does not render SVG cell attachments (jupyterlab#10464: "Cannot render unknown image mime
type"), so a notebook embeds `Grafiken/NAME.png`, rendered from `Grafiken/NAME.svg` by `make figures`
(rsvg-convert, from Debian's librsvg2-bin). The PNG carries the SHA-256 of the SVG it was drawn from in a
tEXt chunk, so a stale rendering is an error instead of a silent mismatch.
"""

import hashlib
import io
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

SOURCE_KEY = b"Source-SHA256"
RENDER_WIDTH = 1350  # pixels: 1.5 times the SVG's width, sharp on high-density screens
PALETTE_COLORS = 64  # a flat diagram needs few colours; keeps the PNG (embedded in every notebook) small


class FigureError(RuntimeError):
    """A figure is missing, stale or cannot be rendered."""


def svg_digest(svg: Path) -> str:
    return hashlib.sha256(svg.read_bytes()).hexdigest()


def _chunks(png: bytes):
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise FigureError("not a PNG file")
    position = 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        yield kind, png[position + 8 : position + 8 + length], position
        position += 12 + length


def recorded_digest(png: Path) -> str | None:
    """The SVG digest stamped into a PNG by `render`, or None."""
    for kind, data, _ in _chunks(png.read_bytes()):
        if kind == b"tEXt" and data.startswith(SOURCE_KEY + b"\x00"):
            return data[len(SOURCE_KEY) + 1 :].decode("ascii")
    return None


def _stamp(png: bytes, digest: str) -> bytes:
    """Insert a tEXt chunk with the digest right after the IHDR chunk."""
    for kind, data, position in _chunks(png):
        if kind == b"IHDR":
            end = position + 12 + len(data)
            payload = b"tEXt" + SOURCE_KEY + b"\x00" + digest.encode("ascii")
            chunk = struct.pack(">I", len(payload) - 4) + payload + struct.pack(">I", zlib.crc32(payload))
            return png[:end] + chunk + png[end:]
    raise FigureError("PNG without IHDR chunk")


def render(svg: Path) -> Path:
    """Render NAME.svg to NAME.png next to it, stamped with the SVG's digest."""
    converter = shutil.which("rsvg-convert")
    if converter is None:
        raise FigureError("rsvg-convert is not installed: sudo apt-get install -y librsvg2-bin")
    png = svg.with_suffix(".png")
    result = subprocess.run([converter, "-w", str(RENDER_WIDTH), "-b", "white", str(svg)], capture_output=True)
    if result.returncode != 0:
        raise FigureError(f"rsvg-convert failed on {svg}: {result.stderr.decode(errors='replace')}")
    png.write_bytes(_stamp(_small_png(result.stdout), svg_digest(svg)))
    return png


def _small_png(png: bytes) -> bytes:
    """The same picture with a small palette, optimised."""
    from PIL import Image  # Pillow comes with matplotlib

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=PALETTE_COLORS, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def embeddable_png(png: Path) -> bytes:
    """The bytes of a figure rendering, after checking it is current with its SVG source."""
    svg = png.with_suffix(".svg")
    if not png.is_file():
        raise FigureError(f"{png} does not exist" + (": run `make figures`" if svg.is_file() else ""))
    if svg.is_file() and recorded_digest(png) != svg_digest(svg):
        raise FigureError(f"{png.name} was not rendered from the current {svg.name}: run `make figures`")
    return png.read_bytes()

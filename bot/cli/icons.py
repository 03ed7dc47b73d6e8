"""copbot's icons, drawn by code as minimal PNGs (zlib and struct; no imaging library).

Teams wants two: a full-colour 192x192 icon, and a 32x32 outline in white on a transparent
background. Both show a speech bubble with three dots: a conversation.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

NHS_BLUE = (0, 94, 184)
WHITE = (255, 255, 255)

Pixel = tuple[int, int, int, int]


def png(width: int, height: int, pixel: Callable[[float, float], Pixel]) -> bytes:
    """An RGBA PNG; ``pixel(x, y)`` gets coordinates from 0 to 1 at pixel centres."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # no filter
        for x in range(width):
            rows.extend(pixel((x + 0.5) / width, (y + 0.5) / height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _bubble(x: float, y: float) -> bool:
    """A rounded speech bubble with a tail at the lower left, in the unit square."""
    left, right, top, bottom, radius = 0.16, 0.84, 0.2, 0.68, 0.14
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    body = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2 and left <= x <= right
    tail = 0.26 <= x <= 0.42 and bottom - 0.01 <= y <= 0.82 and (x - 0.26) <= (0.82 - y) * 1.1
    return body or tail


def _dot(x: float, y: float) -> bool:
    return any((x - cx) ** 2 + (y - 0.44) ** 2 <= 0.055**2 for cx in (0.34, 0.5, 0.66))


def color_icon() -> bytes:
    def pixel(x: float, y: float) -> Pixel:
        if _bubble(x, y) and not _dot(x, y):
            return (*WHITE, 255)
        return (*NHS_BLUE, 255)

    return png(192, 192, pixel)


def outline_icon() -> bytes:
    def pixel(x: float, y: float) -> Pixel:
        if _bubble(x, y) and not _dot(x, y):
            return (*WHITE, 255)
        return (*WHITE, 0)  # transparent

    return png(32, 32, pixel)

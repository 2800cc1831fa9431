"""The hostile corpus: odd, broken and malicious files made on the spot, each with the words its
one-sentence error must contain (None: a photo that must load)."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from PIL import Image

EPS_LOOP = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n{ } loop\n"
NOT_SUPPORTED = "not a supported image"
DAMAGED = "damaged or truncated"


@dataclass(frozen=True)
class Case:
    name: str  # a file name, with the suffix a user would give it
    data: bytes
    error: str | None  # words the error must contain; None: it loads


def save(image: Image.Image | np.ndarray, fmt: str, **kwargs) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def gradient(width: int = 64, height: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 128)], axis=2).astype(np.uint8)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims a huge size."""
    data = bytearray(save(gradient(8, 8), "PNG"))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def jpeg_bomb(side: int = 50_000) -> bytes:
    """A small JPEG whose start-of-frame claims side x side pixels."""
    data = bytearray(save(gradient(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def dds_zeroed() -> bytes:
    """A 64x64 DDS with the 4 bytes at offset 80 (its pixel format flags) set to 0."""
    data = bytearray(save(Image.new("RGBA", (64, 64), (200, 100, 50, 255)), "DDS"))
    data[80:84] = b"\0\0\0\0"
    return bytes(data)


def tiff_without_size() -> bytes:
    """A TIFF whose ImageWidth and ImageLength tags are renamed to an unknown tag."""
    data = bytearray(save(gradient(), "TIFF"))
    for tag in (256, 257):
        at = data.index(struct.pack("<HH", tag, 4))  # the tag and its type LONG, little-endian
        data[at : at + 2] = struct.pack("<H", 65000 + tag)
    return bytes(data)


def float_tiff(pixels: np.ndarray) -> bytes:
    """A 32-bit float grey TIFF with values 0..1, as scientific tools write them."""
    grey = pixels.astype(np.float32).mean(axis=2) / 255.0
    return save(Image.fromarray(grey, mode="F"), "TIFF")


def corpus() -> list[Case]:
    """Every kind of hostile or unlucky file, including the kinds that were already handled."""
    image = gradient()
    jpeg = save(image, "JPEG", quality=90)
    return [
        Case("loop.eps", EPS_LOOP, NOT_SUPPORTED),
        Case("zeroed.dds", dds_zeroed(), NOT_SUPPORTED),
        Case("ok.dds", save(Image.new("RGBA", (64, 64)), "DDS"), NOT_SUPPORTED),
        Case("icon.ico", save(image, "ICO"), NOT_SUPPORTED),
        Case("photo.pcx", save(image, "PCX"), NOT_SUPPORTED),
        Case("picture.tga", save(image, "TGA"), NOT_SUPPORTED),
        Case("drawing.pdf", b"%PDF-1.4\n1 0 obj << >> endobj\n", NOT_SUPPORTED),
        Case("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', NOT_SUPPORTED),
        Case("notes.jpg", b"this is a text file, not a photo\n" * 20, NOT_SUPPORTED),
        Case("empty.png", b"", "empty"),
        Case("no-size.tif", tiff_without_size(), "not a supported image"),
        Case("truncated.jpg", jpeg[: len(jpeg) // 3], DAMAGED),
        Case("truncated.png", save(image, "PNG")[:60], DAMAGED),
        Case("truncated.webp", save(image, "WEBP")[:40], DAMAGED),
        Case("bomb.png", png_bomb(), "too large to open safely"),
        Case("bomb.jpg", jpeg_bomb(), "too large to open safely"),
        Case("float.tif", float_tiff(image), None),
        Case("nan.tif", save(Image.fromarray(np.full((48, 64), np.nan, np.float32), mode="F"), "TIFF"), None),
        Case("scans.jpg", scan_bomb(256, 100), "109 scans"),
        Case("blank-tail.jpg", blank_tail_jpeg(), DAMAGED),
        Case("sixteen.png", save(Image.fromarray(image[:, :, 0].astype(np.uint16) * 257), "PNG"), None),
        Case("cmyk.jpg", save(Image.fromarray(image).convert("CMYK"), "JPEG"), None),
        Case("palette.gif", save(Image.fromarray(image).convert("P"), "GIF"), None),
        Case("alpha.webp", save(Image.fromarray(image).convert("RGBA"), "WEBP"), None),
        Case("tiny.bmp", save(image[:1, :1], "BMP"), None),
    ]


def ffconcat(target: str) -> bytes:
    """An FFmpeg concat playlist naming a file on the machine that reads it."""
    return f"ffconcat version 1.0\nfile {target}\n".encode()


SDP = (
    b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=howold\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    b"m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
)  # FFmpeg's sdp demuxer binds UDP 5004/5005


def frame_copies(width: int, height: int, fps: int, count: int, rgb: bool = True) -> bytes:
    """An H.264 MP4 of one I-frame and `count - 1` copies of one tiny P-frame (26 bytes at 4K) at
    `fps`: a few hundred KB that decode to `count` full-size frames. `rgb=False` builds the picture
    straight in YUV (no RGB frame of that size is ever made, for frames above 8K)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "1000000", "bf": "0"}
        if rgb:
            picture = gradient(width, height)
            picture[::7] = 200  # some detail, so the I-frame is no trivial block
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        else:
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
        packets = []
        for pts in range(2):
            frame.pts = pts
            packets += [bytes(p) for p in stream.encode(frame)]
        packets += [bytes(p) for p in stream.encode()]
        for number in range(count):
            packet = av.Packet(packets[0] if number == 0 else packets[1])
            packet.pts = packet.dts = number
            packet.time_base, packet.stream, packet.is_keyframe = Fraction(1, fps), stream, number == 0
            out.mux(packet)
    return buffer.getvalue()


def scan_bomb(side: int = 8000, repeats: int = 1000) -> bytes:
    """A flat progressive JPEG whose last refinement scan is repeated `repeats` times (about 95
    bytes each): every repeat is one more pass over all side x side pixels."""
    data = save(Image.new("RGB", (side, side), (120, 130, 140)), "JPEG", quality=90, progressive=True)
    last = data.rindex(b"\xff\xda")
    return data[:last] + data[last:-2] * repeats + data[-2:]


def blank_tail_jpeg() -> bytes:
    """A baseline JPEG cut to its first third, that still ends with its end marker."""
    jpeg = save(gradient(640, 480), "JPEG", quality=90)
    return jpeg[: len(jpeg) // 3] + b"\xff\xd9"

#!/usr/bin/env python3
"""Regenerates hold-tone.bin: a 2 s loop (0.5 s of 425 Hz, 1.5 s of silence) as 100 Opus
frames of 20 ms, 48 kHz mono, each stored as a big-endian u16 length and the packet.
Pre-encoded so the server needs no Opus encoder at run time. Needs libopus0 (Debian)."""
import ctypes
import math
import struct
import sys

RATE, FRAME, FRAMES = 48000, 960, 100
TONE_FRAMES, FREQ, AMPLITUDE = 25, 425.0, 0.25

lib = ctypes.CDLL("libopus.so.0")
lib.opus_encoder_create.restype = ctypes.c_void_p
err = ctypes.c_int()
enc = lib.opus_encoder_create(RATE, 1, 2048, ctypes.byref(err))  # 2048 = OPUS_APPLICATION_VOIP
assert err.value == 0, err.value
out = bytearray()
buf = (ctypes.c_ubyte * 1500)()
for f in range(FRAMES):
    pcm = (ctypes.c_int16 * FRAME)()
    if f < TONE_FRAMES:
        for i in range(FRAME):
            n = f * FRAME + i
            pcm[i] = int(32767 * AMPLITUDE * math.sin(2 * math.pi * FREQ * n / RATE))
    size = lib.opus_encode(ctypes.c_void_p(enc), pcm, FRAME, buf, 1500)
    assert size > 0, size
    out += struct.pack(">H", size) + bytes(buf[:size])
open(sys.argv[1] if len(sys.argv) > 1 else "hold-tone.bin", "wb").write(out)

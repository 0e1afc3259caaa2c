#!/usr/bin/env python3
"""Generate ggml/GGUF block-dequantization test vectors (tests/data/quant/vectors.json).

What this does
--------------
For each ggml tensor type F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K,
Q4_K, Q5_K, Q6_K it builds a few blocks of RAW bytes deterministically (numpy
default_rng with a fixed per-case seed), dequantizes them with the reference
Python implementation `gguf.quants.dequantize(raw, qtype)` (PyPI package `gguf`,
i.e. llama.cpp's gguf-py) and stores raw bytes + float32 output as hex in
vectors.json, so a Rust implementation can be checked bit-for-bit.

Cases per type:
  * "random_raw"   - random bytes for all bit/nibble/scale-index fields; every f16
                     scale field (d, m, dmin) is overwritten with a sane finite f16
                     (|x| uniform in [0.001, 2], random sign), so no inf/NaN occurs.
                     F32/F16/BF16: random finite values (F16/BF16 include subnormals).
  * "edge_values"  - f16 scale fields cycle through {+-0, f16 subnormals, min normal,
                     +-1, +-65504, 0.5} (10 blocks for 32-element formats, 5 super-
                     blocks for K formats); bit fields are all-0x00 / all-0xFF /
                     random per block (block index mod 3). F32/F16/BF16: +-0, subnormals, min normal, 1, +-max.
                     All finite.
  * "quantized"    - only for types gguf.quants can quantize (F32, F16, BF16, Q4_0,
                     Q4_1, Q5_0, Q5_1, Q8_0): a random f32 vector (one block all zeros)
                     is quantized with gguf.quants.quantize, the resulting bytes are
                     dequantized. The f32 input is stored as "source_hex".

Before writing, every case is also decoded by an independent scalar pure-Python
decoder (scalar_dequant below, a direct transcription of the block layouts) and
asserted to be bit-identical to gguf's output; this keeps the layout documentation
in this file honest.

JSON format
-----------
{"generator": ..., "gguf_version": ..., "numpy_version": ..., "cases": [
   {"type": "Q4_1", "ggml_type_id": 3, "name": "random_raw", "seed": ...,
    "block_size": 32, "type_size": 20, "n_blocks": 4, "n_elements": 128,
    "raw_hex": "<raw block bytes>",
    "dequant_hex": "<n_elements little-endian IEEE-754 f32, 8 hex chars each>",
    ["source_hex": "<f32 LE input that was quantized>"]}, ...]}

Exactness note: for all these types the products d*scale*q are exact in f32 (f16
mantissa x small integers), so only the final "+ m" / "- dmin*m" rounds once; results
are therefore bit-exact regardless of multiplication order or FMA use.

How to re-run (from the repository root)
----------------------------------------
  python3 -m venv /tmp/gguf-venv
  /tmp/gguf-venv/bin/pip install gguf==0.19.0 numpy
  /tmp/gguf-venv/bin/python tests/data/quant/gen_quant_vectors.py
Generated with gguf 0.19.0 (numpy 2.4.6). The output is deterministic.
"""

import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf.quants import dequantize, quantize
from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES, QK_K

try:
    from importlib.metadata import version as _pkg_version
    GGUF_VERSION = _pkg_version("gguf")
except Exception:  # pragma: no cover
    GGUF_VERSION = "unknown"

BASE_SEED = 0x6767_7566  # "gguf"; per-case seed = BASE_SEED + 1000 * type_id + case_index
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")

# Expected ggml type ids (verified against gguf.GGMLQuantizationType below).
TYPE_IDS = {
    "F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8,
    "Q2_K": 10, "Q3_K": 11, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "BF16": 30,
}
TYPE_ORDER = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
              "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

# Block layouts, in byte order (as in gguf-py quants.py / ggml-common.h).
# kind "f16" = little-endian IEEE half scale field; "u8" = packed bit fields;
# "i8" = signed int8 values.
LAYOUTS = {
    "Q4_0": [("d", 2, "f16"), ("qs", 16, "u8")],
    "Q4_1": [("d", 2, "f16"), ("m", 2, "f16"), ("qs", 16, "u8")],
    "Q5_0": [("d", 2, "f16"), ("qh", 4, "u8"), ("qs", 16, "u8")],
    "Q5_1": [("d", 2, "f16"), ("m", 2, "f16"), ("qh", 4, "u8"), ("qs", 16, "u8")],
    "Q8_0": [("d", 2, "f16"), ("qs", 32, "i8")],
    "Q2_K": [("scales", QK_K // 16, "u8"), ("qs", QK_K // 4, "u8"), ("d", 2, "f16"), ("dmin", 2, "f16")],
    "Q3_K": [("hmask", QK_K // 8, "u8"), ("qs", QK_K // 4, "u8"), ("scales", 12, "u8"), ("d", 2, "f16")],
    "Q4_K": [("d", 2, "f16"), ("dmin", 2, "f16"), ("scales", 12, "u8"), ("qs", QK_K // 2, "u8")],
    "Q5_K": [("d", 2, "f16"), ("dmin", 2, "f16"), ("scales", 12, "u8"), ("qh", QK_K // 8, "u8"), ("qs", QK_K // 2, "u8")],
    "Q6_K": [("ql", QK_K // 2, "u8"), ("qh", QK_K // 4, "u8"), ("scales", QK_K // 16, "i8"), ("d", 2, "f16")],
}

# Number of blocks per case.
N_BLOCKS_SMALL = 4      # 32-element formats -> 128 elements
N_BLOCKS_K = 2          # 256-element K formats -> 512 elements
N_ELEMS_FLOAT = 64      # F32 / F16 / BF16

# Finite f16 edge values (bit patterns): +0, -0, min subnormal, max subnormal,
# min normal, 1.0, -1.0, 65504, -65504, 0.5
F16_EDGE_BITS = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x3800]
# Finite bf16 edge values: +0, -0, min subnormal, max subnormal, min normal, 1.0, -1.0, max, -max, 0.5
BF16_EDGE_BITS = [0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x3F80, 0xBF80, 0x7F7F, 0xFF7F, 0x3F00]
# Finite f32 edge values
F32_EDGE_BITS = [0x00000000, 0x80000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x3F800000,
                 0xBF800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F000000, 0x33800000, 0xC2F6E979]


def sane_f16(rng, n):
    """n finite f16 values with |x| uniform in [0.001, 2] and random sign, as uint8 (2n)."""
    mag = rng.uniform(0.001, 2.0, size=n)
    sign = np.where(rng.integers(0, 2, size=n) == 1, -1.0, 1.0)
    v = (mag * sign).astype("<f2")
    assert np.all(np.isfinite(v))
    return v.view(np.uint8)


def build_random_raw(name, rng, n_blocks):
    bs, ts = GGML_QUANT_SIZES[T[name]]
    raw = rng.integers(0, 256, size=(n_blocks, ts), dtype=np.uint8)
    off = 0
    for field, nbytes, kind in LAYOUTS[name]:
        if kind == "f16":
            raw[:, off:off + 2] = sane_f16(rng, n_blocks).reshape(n_blocks, 2)
        off += nbytes
    assert off == ts, (name, off, ts)
    return raw.reshape(-1)


def build_edge_raw(name, rng, n_blocks):
    bs, ts = GGML_QUANT_SIZES[T[name]]
    raw = np.empty((n_blocks, ts), dtype=np.uint8)
    for b in range(n_blocks):
        mode = b % 3  # 0: all 0x00, 1: all 0xFF, 2: random
        if mode == 0:
            raw[b] = 0x00
        elif mode == 1:
            raw[b] = 0xFF
        else:
            raw[b] = rng.integers(0, 256, size=ts, dtype=np.uint8)
    # Cycle deterministically through the edge values so every value appears in
    # every f16 field (small formats: 10 blocks) or across d/dmin (K formats: 5 blocks).
    off = 0
    fi = 0
    step = 1 if bs == 32 else 2
    for field, nbytes, kind in LAYOUTS[name]:
        if kind == "f16":
            idx = [(step * b + 3 * fi) % len(F16_EDGE_BITS) for b in range(n_blocks)]
            bits = np.array([F16_EDGE_BITS[i] for i in idx], dtype="<u2")
            raw[:, off:off + 2] = bits.view(np.uint8).reshape(n_blocks, 2)
            fi += 1
        off += nbytes
    return raw.reshape(-1)


def random_finite_bits16(rng, n, exp_mask, exp_shift_max):
    """Random uint16 patterns whose exponent field is not all-ones (finite)."""
    out = rng.integers(0, 0x10000, size=n, dtype=np.uint32)
    bad = (out & exp_mask) == exp_mask
    out[bad] &= ~np.uint32(exp_shift_max)  # clear top exponent bit -> finite
    return out.astype("<u2")


def build_float_case(name, case, rng):
    n = N_ELEMS_FLOAT
    if case == "random_raw":
        if name == "F32":
            v = (rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 6, size=n)).astype("<f4")
            return v.view(np.uint8)
        if name == "F16":
            return random_finite_bits16(rng, n, 0x7C00, 0x4000).view(np.uint8)
        if name == "BF16":
            return random_finite_bits16(rng, n, 0x7F80, 0x4000).view(np.uint8)
    if case == "edge_values":
        if name == "F32":
            return np.array(F32_EDGE_BITS, dtype="<u4").view(np.uint8)
        if name == "F16":
            return np.array(F16_EDGE_BITS, dtype="<u2").view(np.uint8)
        if name == "BF16":
            return np.array(BF16_EDGE_BITS, dtype="<u2").view(np.uint8)
    raise ValueError((name, case))


def quantizable(qtype):
    try:
        quantize(np.zeros(GGML_QUANT_SIZES[qtype][0] * 8, dtype=np.float32), qtype)
        return True
    except NotImplementedError:
        return False


# --------------------------------------------------------------------------
# Independent scalar decoder (documentation + cross-check of gguf's output).
# All arithmetic in numpy float32 scalars, same operation order as gguf-py.
# --------------------------------------------------------------------------
F32 = np.float32


def f16(b, off):
    return F32(struct.unpack_from("<e", b, off)[0])


def scalar_dequant(name, raw):
    raw = bytes(raw)
    if name == "F32":
        return [F32(x) for x in struct.unpack("<%df" % (len(raw) // 4), raw)]
    if name == "F16":
        return [F32(x) for x in struct.unpack("<%de" % (len(raw) // 2), raw)]
    if name == "BF16":
        return [F32(struct.unpack("<f", struct.pack("<I", h << 16))[0])
                for h in struct.unpack("<%dH" % (len(raw) // 2), raw)]
    bs, ts = GGML_QUANT_SIZES[T[name]]
    out = []
    for o in range(0, len(raw), ts):
        b = raw[o:o + ts]
        y = [None] * bs
        if name in ("Q4_0", "Q4_1"):
            d = f16(b, 0)
            m = f16(b, 2) if name == "Q4_1" else None
            qs = b[4:] if name == "Q4_1" else b[2:]
            for i in range(32):
                q = (qs[i] & 0xF) if i < 16 else (qs[i - 16] >> 4)
                y[i] = d * F32(q - 8) if name == "Q4_0" else d * F32(q) + m
        elif name in ("Q5_0", "Q5_1"):
            d = f16(b, 0)
            m = f16(b, 2) if name == "Q5_1" else None
            p = 4 if name == "Q5_1" else 2
            qh = struct.unpack_from("<I", b, p)[0]
            qs = b[p + 4:]
            for i in range(32):
                lo = (qs[i] & 0xF) if i < 16 else (qs[i - 16] >> 4)
                q = lo | (((qh >> i) & 1) << 4)
                y[i] = d * F32(q - 16) if name == "Q5_0" else d * F32(q) + m
        elif name == "Q8_0":
            d = f16(b, 0)
            for i in range(32):
                y[i] = F32(struct.unpack_from("<b", b, 2 + i)[0]) * d
        elif name == "Q2_K":
            sc, qs = b[0:16], b[16:80]
            d, dmin = f16(b, 80), f16(b, 82)
            for i in range(256):
                h, r = divmod(i, 128); s, l = divmod(r, 32)
                q = (qs[h * 32 + l] >> (2 * s)) & 3
                g = i // 16
                y[i] = (d * F32(sc[g] & 0xF)) * F32(q) - dmin * F32(sc[g] >> 4)
        elif name == "Q3_K":
            hm, qs, sc = b[0:32], b[32:96], b[96:108]
            d = f16(b, 108)
            scales = []
            for j in range(16):
                lo = (sc[j] & 0xF) if j < 8 else (sc[j - 8] >> 4)
                hi = (sc[8 + (j % 4)] >> (2 * (j // 4))) & 3
                scales.append((lo | (hi << 4)) - 32)
            for i in range(256):
                h, r = divmod(i, 128); s, l = divmod(r, 32)
                ql = (qs[h * 32 + l] >> (2 * s)) & 3
                hb = (hm[i % 32] >> (i // 32)) & 1
                q = ql - (0 if hb else 4)
                y[i] = (d * F32(scales[i // 16])) * F32(q)
        elif name in ("Q4_K", "Q5_K"):
            d, dmin = f16(b, 0), f16(b, 2)
            sc = b[4:16]
            scs, mns = [], []
            for j in range(8):
                if j < 4:
                    scs.append(sc[j] & 63); mns.append(sc[j + 4] & 63)
                else:
                    scs.append((sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4))
                    mns.append((sc[j + 4] >> 4) | ((sc[j] >> 6) << 4))
            qh = b[16:48] if name == "Q5_K" else None
            qs = b[48:176] if name == "Q5_K" else b[16:144]
            for i in range(256):
                c, r = divmod(i, 64); s, l = divmod(r, 32)
                q = (qs[c * 32 + l] >> (4 * s)) & 0xF
                if qh is not None:
                    q |= ((qh[i % 32] >> (i // 32)) & 1) << 4
                j = i // 32
                y[i] = (d * F32(scs[j])) * F32(q) - dmin * F32(mns[j])
        elif name == "Q6_K":
            ql, qh = b[0:128], b[128:192]
            sc = struct.unpack_from("<16b", b, 192)
            d = f16(b, 208)
            for i in range(256):
                h, r = divmod(i, 128)
                s4, l4 = divmod(r, 64)
                s2, l2 = divmod(r, 32)
                lo = (ql[h * 64 + l4] >> (4 * s4)) & 0xF
                hi = (qh[h * 32 + l2] >> (2 * s2)) & 3
                q = (lo | (hi << 4)) - 32
                y[i] = (d * F32(sc[i // 16])) * F32(q)
        else:
            raise ValueError(name)
        out.extend(y)
    return out


def f32_hex(arr):
    return np.asarray(arr, dtype="<f4").tobytes().hex()


def make_case(name, case, case_idx, raw, source=None):
    qtype = T[name]
    tid = TYPE_IDS[name]
    bs, ts = GGML_QUANT_SIZES[qtype]
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    deq = np.asarray(dequantize(raw.copy(), qtype), dtype=np.float32).reshape(-1)
    n = raw.size // ts * bs
    assert deq.size == n, (name, case, deq.size, n)
    assert np.all(np.isfinite(deq)), (name, case)
    ref = np.array(scalar_dequant(name, raw), dtype=np.float32)
    if not np.array_equal(ref.view(np.uint32), deq.view(np.uint32)):
        bad = np.nonzero(ref.view(np.uint32) != deq.view(np.uint32))[0]
        raise AssertionError(f"scalar decoder mismatch {name}/{case} at {bad[:10]}")
    c = {
        "type": name,
        "ggml_type_id": tid,
        "name": case,
        "seed": BASE_SEED + 1000 * tid + case_idx,
        "block_size": bs,
        "type_size": ts,
        "n_blocks": raw.size // ts,
        "n_elements": n,
        "raw_hex": raw.tobytes().hex(),
        "dequant_hex": f32_hex(deq),
    }
    if source is not None:
        c["source_hex"] = f32_hex(source)
    return c


def main():
    for name, tid in TYPE_IDS.items():
        assert int(T[name]) == tid, (name, int(T[name]), tid)

    cases = []
    for name in TYPE_ORDER:
        qtype = T[name]
        tid = TYPE_IDS[name]
        bs, ts = GGML_QUANT_SIZES[qtype]
        is_float = name in ("F32", "F16", "BF16")
        n_blocks = N_BLOCKS_K if bs == QK_K else N_BLOCKS_SMALL

        # case 0: random_raw
        rng = np.random.default_rng(BASE_SEED + 1000 * tid + 0)
        raw = build_float_case(name, "random_raw", rng) if is_float else build_random_raw(name, rng, n_blocks)
        cases.append(make_case(name, "random_raw", 0, raw))

        # case 1: edge_values
        rng = np.random.default_rng(BASE_SEED + 1000 * tid + 1)
        raw = build_float_case(name, "edge_values", rng) if is_float else build_edge_raw(name, rng, 10 if bs == 32 else 5)
        cases.append(make_case(name, "edge_values", 1, raw))

        # case 2: quantized (only where gguf.quants implements quantize)
        if quantizable(qtype):
            rng = np.random.default_rng(BASE_SEED + 1000 * tid + 2)
            n = N_ELEMS_FLOAT if is_float else n_blocks * bs
            src = (rng.standard_normal(n) * rng.uniform(0.01, 4.0)).astype(np.float32)
            if not is_float:
                src[bs:2 * bs] = 0.0  # one all-zero block exercises the d == 0 path
            q = np.asarray(quantize(src, qtype))
            raw = q.view(np.uint8).reshape(-1)
            cases.append(make_case(name, "quantized", 2, raw, source=src))

    doc = {
        "generator": "tests/data/quant/gen_quant_vectors.py (gguf.quants.dequantize)",
        "gguf_version": GGUF_VERSION,
        "numpy_version": np.__version__,
        "format": "raw_hex = raw ggml block bytes; dequant_hex/source_hex = little-endian IEEE-754 f32",
        "cases": cases,
    }
    with open(OUT_PATH, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT_PATH}: {len(cases)} cases, {os.path.getsize(OUT_PATH)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()

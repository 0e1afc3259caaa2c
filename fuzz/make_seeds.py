"""Writes the committed seed corpora of the fuzz targets (stdlib only; run once, output committed).

    python3 fuzz/make_seeds.py

GGUF seeds are small valid files that reach every branch of the reader: each metadata value
type, arrays and a nested array, v2 and v3 headers, a custom alignment, tensors of several types.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q", F64: "d"}
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(value(et, i) for i in items)
    return struct.pack("<" + fmt[t], v)


def gguf(version, kvs, tensors, align=32):
    out = b"GGUF" + struct.pack("<I", version) + struct.pack("<QQ", len(tensors), len(kvs))
    for key, t, v in kvs:
        out += s(key) + struct.pack("<I", t) + value(t, v)
    offset, infos, data = 0, b"", b""
    for name, dims, ty, raw in tensors:
        infos += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", ty, offset)
        pad = (-len(raw)) % align
        data += raw + b"\0" * pad
        offset += len(raw) + pad
    out += infos
    out += b"\0" * ((-len(out)) % align)
    return out + data


def main():
    every_type = [
        ("general.architecture", STR, "llama"), ("u8", U8, 7), ("i8", I8, -7), ("u16", U16, 700),
        ("i16", I16, -700), ("u32", U32, 70000), ("i32", I32, -70000), ("f32", F32, 1.5),
        ("bool", BOOL, True), ("u64", U64, 2**40), ("i64", I64, -(2**40)), ("f64", F64, 2.25),
        ("arr.str", ARR, (STR, ["a", "bc", ""])), ("arr.nested", ARR, (ARR, [(U8, [1, 2]), (I32, [-1])])),
    ]
    f32 = struct.pack("<8f", *range(8))
    q4_1 = (b"\x00\x3c\x00\x00" + bytes(range(16))) * 2  # two blocks, d = 1, m = 0
    q8_0 = b"\x00\x3c" + bytes(range(32))
    seeds = {
        "v3-every-type.gguf": gguf(3, every_type, [("w", [8], 0, f32), ("q", [32, 2], 3, q4_1), ("e", [32], 8, q8_0)]),
        "v2-minimal.gguf": gguf(2, [("general.architecture", STR, "llama")], [("w", [2, 4], 0, f32)]),
        "v3-align64.gguf": gguf(3, [("general.alignment", U32, 64)], [("a", [8], 0, f32), ("b", [8], 0, f32)], 64),
        "v3-llama-config.gguf": gguf(3, [
            ("general.architecture", STR, "llama"), ("llama.context_length", U32, 64),
            ("llama.embedding_length", U32, 32), ("llama.block_count", U32, 1),
            ("llama.feed_forward_length", U32, 64), ("llama.attention.head_count", U32, 4),
            ("llama.attention.head_count_kv", U32, 2), ("llama.rope.freq_base", F32, 10000.0),
            ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
            ("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, "smollm"),
            ("tokenizer.ggml.tokens", ARR, (STR, ["<|im_start|>", "<|im_end|>", "a", "b", "ab", "Ġ", "Ġa"])),
            ("tokenizer.ggml.token_type", ARR, (I32, [3, 3, 1, 1, 1, 1, 1])),
            ("tokenizer.ggml.merges", ARR, (STR, ["a b", "Ġ a"])),
            ("tokenizer.ggml.bos_token_id", U32, 0), ("tokenizer.ggml.eos_token_id", U32, 1),
            ("tokenizer.chat_template", STR, "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"),
        ], [("token_embd.weight", [32, 7], 0, struct.pack("<224f", *([0.5] * 224)))]),
        "wrong-magic.gguf": b"GGUG" + struct.pack("<IQQ", 3, 0, 0),
    }
    for name, data in seeds.items():
        for target in ("gguf", "metadata"):
            open(os.path.join(HERE, "corpus", target, name), "wb").write(data)
    texts = ["Hello, world!", "Wasserdichte Laufschuhe unter 100 €", "手机壳 有吗？", "emoji 🧦🎁 and <|im_end|> tokens",
             "  spaces\t\ttabs\n\nnewlines  ", "ÿþ\u0000\u200b zero-width", "a" * 300]
    for i, t in enumerate(texts):
        open(os.path.join(HERE, f"corpus/tokenizer/text-{i}.txt"), "w", encoding="utf-8").write(t)
    repo = os.path.dirname(HERE)
    for src, name in [("tests/browser/pages/xss-policies.json", "xss-policies.json"),
                      ("tests/browser/pages/xss-catalog.json", "xss-catalog.json")]:
        path = os.path.join(repo, src)
        if os.path.exists(path):
            open(os.path.join(HERE, "corpus/catalog", name), "w").write(open(path).read())
    small = {"shop": {"name": "S"}, "products": [{"id": "p1", "title": "Red mug", "price": 9.5, "currency": "EUR",
             "url": "/p/1", "categories": ["kitchen"], "attributes": {"color": "red"}}]}
    open(os.path.join(HERE, "corpus/catalog/small.json"), "w").write(json.dumps(small))
    open(os.path.join(HERE, "corpus/catalog/reviews.jsonl"), "w").write(
        '{"product":"p1","rating":5,"text":"Great mug, keeps coffee hot."}\n{"product":"p1","rating":1,"text":"Chipped on arrival."}\n')


main()

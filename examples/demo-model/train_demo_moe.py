#!/usr/bin/env python3
"""train_demo_moe.py — trains the demo model: a small Mixtral-style MoE language model on Shakespeare, exported as GGUF.

    /usr/bin/python3 examples/demo-model/train_demo_moe.py [TEXT]            # train, export, write TRAINING.md
    /usr/bin/python3 examples/demo-model/train_demo_moe.py verify \\
        --llama-ref build/dev/llama_ref --moe-run build/dev/examples/moe-run  # check the files with llama.cpp and moe

Needs only Debian's python3-torch and python3-numpy (CPU). TEXT defaults to ../shared/data/tinyshakespeare.txt next to
the repository; its last 10% (from the first line start at or after 90% of the characters) is held out for validation.

What it does, top to bottom:
  1. a byte-level BPE tokenizer (GPT-2 style: bytes as printable code points, the "gpt-2" pre-tokenizer, merges by
     pair frequency) trained on the training split, 1024 tokens including <|endoftext|> (BOS and EOS);
  2. a transformer exactly like llama.cpp's "llama" architecture with experts (Mixtral): RMSNorm, attention with RoPE
     in llama.cpp's NORM (adjacent-pair) convention and grouped-query heads, RMSNorm, MoE FFN (router softmax over all
     experts, top-2 of 8, top-k weights renormalised, SwiGLU experts), untied output head; trained with AdamW, cosine
     learning rate and a load-balancing loss, seeded, on 2 CPU threads;
  3. GGUF v3 files written by the small writer below: F16, Q8_0 and Q4_0 (bytes identical to llama.cpp's quantizer);
  4. TRAINING.md with the command, training time, validation loss and (after `verify`) the llama.cpp / moe checks.

Weights keep llama.cpp's layouts end to end, so export is a byte copy: a PyTorch [out, in] matrix is GGUF ne [in, out];
experts are stored as [n_expert, n_ff, n_embd] (gate, up) and [n_expert, n_embd, n_ff] (down).
"""

import argparse
import json
import math
import os
import re
import shlex
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

# OpenMP threads that spin while waiting burn most of a shared machine's CPU for nothing (measured here: ~3x the CPU
# time per step on 2 busy cores); they must sleep instead. libgomp reads this when torch loads it, so set it first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_TEXT = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
EOT = "<|endoftext|>"
MD_VERIFY_BEGIN = "<!-- verify: begin (written by train_demo_moe.py verify) -->"
MD_VERIFY_END = "<!-- verify: end -->"


# ----------------------------------------------------------------------------------------------------------------------
# Tokenizer: byte-level BPE, GPT-2 style

def bytes_to_unicode():
    """GPT-2's map from each byte to a printable code point (printable Latin-1 bytes map to themselves)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_TO_UNI = bytes_to_unicode()
UNI_TO_BYTE = {u: b for b, u in BYTE_TO_UNI.items()}

# The "gpt-2" pre-tokenizer, 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, restricted to
# ASCII text, where \p{L} is [A-Za-z], \p{N} is [0-9] and \s is [\t\n\v\f\r ] (Unicode White_Space within ASCII).
# Python's `re` has no \p{..}, so this is exact only for ASCII input; check_ascii() enforces that.
_WS = r"\t\n\x0b\x0c\r "
PRETOKENIZE_RE = re.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^" + _WS + r"A-Za-z0-9]+|[" + _WS + r"]+(?![^" + _WS + r"])|[" +
    _WS + r"]+")


def check_ascii(text, what):
    bad = [c for c in set(text) if ord(c) > 0x7E or (ord(c) < 0x20 and c not in "\t\n\x0b\x0c\r")]
    if bad:
        sys.exit(f"train_demo_moe: {what} has characters outside printable ASCII and ASCII whitespace "
                 f"({', '.join(repr(c) for c in sorted(bad)[:8])}); this script's pre-tokenizer is exact only there")


def pretokenize(text):
    return PRETOKENIZE_RE.findall(text)


def to_uni(word):
    return "".join(BYTE_TO_UNI[b] for b in word.encode("utf-8"))


def train_bpe(text, vocab_size, n_special):
    """Learns merges on the words of `text` by pair frequency (ties: the smallest pair); returns (tokens, merges)."""
    words = Counter(to_uni(w) for w in pretokenize(text))
    seqs = [list(w) for w in words]
    counts = list(words.values())
    pair_count = Counter()
    pair_where = defaultdict(set)
    for i, s in enumerate(seqs):
        for p in zip(s, s[1:]):
            pair_count[p] += counts[i]
            pair_where[p].add(i)
    tokens = [BYTE_TO_UNI[b] for b in range(256)]
    have = set(tokens)
    merges = []
    while len(tokens) + n_special < vocab_size and pair_count:
        best = min(pair_count.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        a, b = best
        merged = a + b
        merges.append(best)
        if merged not in have:
            tokens.append(merged)
            have.add(merged)
        for i in list(pair_where[best]):
            s = seqs[i]
            for p in zip(s, s[1:]):
                pair_count[p] -= counts[i]
                if pair_count[p] <= 0:
                    del pair_count[p]
                pair_where[p].discard(i)
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == a and s[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
            for p in zip(out, out[1:]):
                pair_count[p] += counts[i]
                pair_where[p].add(i)
        pair_where.pop(best, None)
    return tokens, merges


class Tokenizer:
    """Encodes ASCII text with the gpt-2 pre-tokenizer and BPE by merge rank (as llama.cpp's BPE session does)."""

    def __init__(self, tokens, merges, specials):
        self.tokens = list(tokens) + list(specials)
        self.token_to_id = {t: i for i, t in enumerate(self.tokens)}
        self.special_ids = {self.token_to_id[s] for s in specials}
        self.merges = [tuple(m) for m in merges]
        self.rank = {m: i for i, m in enumerate(self.merges)}
        self.eot = self.token_to_id[EOT]
        self.cache = {}

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.rank.get(p, math.inf), k, p) for k, p in enumerate(zip(parts, parts[1:]))]
            r, _, (a, b) = min(pairs)
            if r == math.inf:
                break
            out, j = [], 0
            while j < len(parts):
                if j + 1 < len(parts) and parts[j] == a and parts[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(parts[j])
                    j += 1
            parts = out
        ids = []
        for p in parts:  # every part is a token here; llama.cpp falls back to single bytes otherwise
            ids.extend([self.token_to_id[p]] if p in self.token_to_id else [self.token_to_id[c] for c in p])
        self.cache[word] = ids
        return ids

    def encode(self, text, bos=False):
        ids = [self.eot] if bos else []
        for w in pretokenize(text):
            ids.extend(self._bpe(to_uni(w)))
        return ids

    def decode(self, ids):
        data = bytearray()
        for i in ids:
            if i in self.special_ids:
                continue
            data.extend(UNI_TO_BYTE[c] for c in self.tokens[i])
        return data.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------------------------------
# Model: llama.cpp's "llama" architecture with experts

class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(n_ctx, head_dim, base):
    """cos/sin [n_ctx, head_dim/2]: pair i turns by pos * base^(-2i/head_dim), as ggml_rope in NORM mode."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(n_ctx, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """x [B, T, H, D]; rotates adjacent pairs (x[2i], x[2i+1]) — llama.cpp's LLAMA_ROPE_TYPE_NORM."""
    B, T, H, D = x.shape
    x2 = x.reshape(B, T, H, D // 2, 2)
    x0, x1 = x2[..., 0], x2[..., 1]
    c, s = cos[:T, None, :], sin[:T, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).reshape(B, T, H, D)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head, self.n_head_kv, self.hd = cfg["n_head"], cfg["n_head_kv"], cfg["head_dim"]
        d = cfg["n_embd"]
        self.wq = nn.Linear(d, self.n_head * self.hd, bias=False)
        self.wk = nn.Linear(d, self.n_head_kv * self.hd, bias=False)
        self.wv = nn.Linear(d, self.n_head_kv * self.hd, bias=False)
        self.wo = nn.Linear(self.n_head * self.hd, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = apply_rope(self.wq(x).view(B, T, self.n_head, self.hd), cos, sin)
        k = apply_rope(self.wk(x).view(B, T, self.n_head_kv, self.hd), cos, sin)
        v = self.wv(x).view(B, T, self.n_head_kv, self.hd)
        rep = self.n_head // self.n_head_kv  # query head h reads kv head h // rep, as ggml's broadcast does
        q, k, v = q.transpose(1, 2), k.repeat_interleave(rep, 2).transpose(1, 2), v.repeat_interleave(rep, 2).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
        att = torch.softmax(att + mask[:T, :T], dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, self.n_head * self.hd)
        return self.wo(y)


class MoE(nn.Module):
    """Router softmax over all experts, top-k, renormalised weights, SwiGLU experts (llama.cpp's build_moe_ffn)."""

    def __init__(self, cfg):
        super().__init__()
        d, ff, E = cfg["n_embd"], cfg["n_ff"], cfg["n_expert"]
        self.E, self.k = E, cfg["n_expert_used"]
        self.gate_inp = nn.Linear(d, E, bias=False)
        self.gate = nn.Parameter(torch.empty(E, ff, d))
        self.up = nn.Parameter(torch.empty(E, ff, d))
        self.down = nn.Parameter(torch.empty(E, d, ff))

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        N = x.shape[0]
        probs = torch.softmax(self.gate_inp(x), dim=-1)
        w, idx = probs.topk(self.k, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        flat = idx.reshape(-1)
        order = torch.argsort(flat)
        counts = torch.bincount(flat, minlength=self.E)
        tok = order // self.k
        xs = x[tok]
        outs = []
        start = 0
        for e, n in enumerate(counts.tolist()):
            if n:
                xe = xs[start:start + n]
                h = F.silu(xe @ self.gate[e].t()) * (xe @ self.up[e].t())
                outs.append(h @ self.down[e].t())
            start += n
        ys = torch.cat(outs) * w.reshape(-1)[order].unsqueeze(-1)
        out = torch.zeros_like(x).index_add_(0, tok, ys)
        # Switch-style balance loss: E * sum_e (fraction of routed slots to e) * (mean router probability of e)
        frac = counts.to(x.dtype) / (N * self.k)
        aux = self.E * (frac * probs.mean(0)).sum()
        return out.reshape(shape), aux, counts


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn_norm = RMSNorm(cfg["n_embd"], cfg["rms_eps"])
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg["n_embd"], cfg["rms_eps"])
        self.moe = MoE(cfg)
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x, cos, sin, mask):
        x = x + self.drop(self.attn(self.attn_norm(x), cos, sin, mask))
        h, aux, counts = self.moe(self.ffn_norm(x))
        return x + self.drop(h), aux, counts


class MoEModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok_embd = nn.Embedding(cfg["n_vocab"], cfg["n_embd"])
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layer"]))
        self.output_norm = RMSNorm(cfg["n_embd"], cfg["rms_eps"])
        self.output = nn.Linear(cfg["n_embd"], cfg["n_vocab"], bias=False)
        cos, sin = rope_tables(cfg["n_ctx"], cfg["head_dim"], cfg["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((cfg["n_ctx"], cfg["n_ctx"]), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def init_weights(self, gen):
        resid_std = 0.02 / math.sqrt(2 * self.cfg["n_layer"])
        for name, p in self.named_parameters():
            if p.dim() == 1:
                continue
            std = resid_std if name.endswith(("wo.weight", "moe.down")) else 0.02
            with torch.no_grad():
                p.normal_(0.0, std, generator=gen)

    def forward(self, ids):
        x = self.tok_embd(ids)
        aux_total = 0.0
        counts = []
        for blk in self.blocks:
            x, aux, c = blk(x, self.cos, self.sin, self.mask)
            aux_total = aux_total + aux
            counts.append(c)
        return self.output(self.output_norm(x)), aux_total / len(self.blocks), counts


# ----------------------------------------------------------------------------------------------------------------------
# Data and evaluation

def split_text(text):
    """Training text and the held-out last 10%, split at the first line start at or after 90% of the characters."""
    cut = int(len(text) * 0.9)
    nl = text.find("\n", cut - 1)
    cut = nl + 1 if nl >= 0 else cut
    return text[:cut], text[cut:]


def windows(tokens, n_ctx, bos):
    """Consecutive windows [BOS] + up to n_ctx-1 tokens covering `tokens`; each scores all its real tokens."""
    step = n_ctx - 1
    return [[bos] + tokens[i:i + step] for i in range(0, len(tokens), step)]


@torch.no_grad()
def nll_of_windows(model, wins, batch=16):
    """Sum of -log p over every non-BOS token of the windows, and the count."""
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(wins), batch):
        group = wins[i:i + batch]
        for L in sorted({len(w) for w in group}):
            same = [w for w in group if len(w) == L]
            ids = torch.tensor(same, dtype=torch.long)
            logits, _, _ = model(ids[:, :-1])
            lp = torch.log_softmax(logits.double(), dim=-1)
            total += -lp.gather(-1, ids[:, 1:, None]).sum().item()
            n += ids[:, 1:].numel()
    return total, n


# ----------------------------------------------------------------------------------------------------------------------
# Quantization: llama.cpp's reference formulas (ggml-quants.c quantize_row_q8_0_ref / quantize_row_q4_0_ref)

QK = 32


def round_half_away(x):
    """C roundf on float32 values: halves go away from zero (numpy's rint rounds them to even)."""
    r = np.rint(x)
    t = np.trunc(x)
    half = np.abs(x - t) == np.float32(0.5)
    return np.where(half, t + np.sign(x), r)


def quantize_q8_0(x):
    """Rows of float32 (length a multiple of 32) -> Q8_0 blocks: fp16 d, then 32 int8."""
    b = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)
    amax = np.abs(b).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = round_half_away((b * idv[:, None]).astype(np.float32)).astype(np.int8)
    out = np.empty((b.shape[0], 34), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quantize_q4_0(x):
    """Rows of float32 -> Q4_0 blocks: fp16 d, then 16 bytes, byte j = q[j] | q[j+16] << 4."""
    b = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)
    arg = np.abs(b).argmax(axis=1)  # the first of equal magnitudes wins, as the C loop's strict '<'
    mx = b[np.arange(b.shape[0]), arg]
    d = (mx / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = ((b * idv[:, None]).astype(np.float32) + np.float32(8.5)).astype(np.float32)
    q = np.minimum(np.trunc(v).astype(np.int32), 15).astype(np.uint8)
    out = np.empty((b.shape[0], 18), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def dequantize(ggml_type, raw, n):
    if ggml_type == GGML_F32:
        return np.frombuffer(raw, dtype=np.float32, count=n).copy()
    if ggml_type == GGML_F16:
        return np.frombuffer(raw, dtype=np.float16, count=n).astype(np.float32)
    if ggml_type == GGML_Q8_0:
        blk = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
        d = blk[:, :2].copy().view(np.float16).astype(np.float32)
        return (d * blk[:, 2:].copy().view(np.int8).astype(np.float32)).reshape(-1)
    if ggml_type == GGML_Q4_0:
        blk = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
        d = blk[:, :2].copy().view(np.float16).astype(np.float32)
        qs = blk[:, 2:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8
        return (d * q).reshape(-1)
    raise ValueError(f"unsupported ggml type {ggml_type}")


# ----------------------------------------------------------------------------------------------------------------------
# GGUF v3 writer and reader (little-endian; layout as src/gguf/gguf_writer.cpp)

GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STR, GGUF_ARR, GGUF_U64, GGUF_I64, \
    GGUF_F64 = range(13)
SCALAR_FMT = {GGUF_U8: "<B", GGUF_I8: "<b", GGUF_U16: "<H", GGUF_I16: "<h", GGUF_U32: "<I", GGUF_I32: "<i",
              GGUF_F32: "<f", GGUF_BOOL: "<?", GGUF_U64: "<Q", GGUF_I64: "<q", GGUF_F64: "<d"}
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
GGML_BLOCK = {GGML_F32: (1, 4), GGML_F16: (1, 2), GGML_Q4_0: (32, 18), GGML_Q8_0: (32, 34)}
GGML_NAME = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q4_0: "Q4_0", GGML_Q8_0: "Q8_0"}
ALIGN = 32


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, v):
    if vtype == GGUF_STR:
        return gguf_str(v)
    if vtype == GGUF_ARR:
        etype, elems = v
        if etype == GGUF_STR:
            body = b"".join(gguf_str(e) for e in elems)
        else:
            body = np.asarray(elems, dtype=np.dtype(SCALAR_FMT[etype])).tobytes()
        return struct.pack("<IQ", etype, len(elems)) + body
    return struct.pack(SCALAR_FMT[vtype], v)


def write_gguf(path, kvs, tensors):
    """kvs: [(key, gguf type, value)], arrays as (element type, list); tensors: [(name, ggml type, ne, bytes)]."""
    head = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, vtype, v in kvs:
        head += gguf_str(key) + struct.pack("<I", vtype) + gguf_value(vtype, v)
    offset = 0
    for name, gtype, ne, data in tensors:
        blk, size = GGML_BLOCK[gtype]
        assert ne[0] % blk == 0 and len(data) == int(np.prod(ne)) // blk * size, name
        head += gguf_str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        head += struct.pack("<IQ", gtype, offset)
        offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
    head += b"\0" * (-len(head) % ALIGN)
    with open(path, "wb") as f:
        f.write(head)
        for _, _, _, data in tensors:
            f.write(data)
            f.write(b"\0" * (-len(data) % ALIGN))


def read_gguf(path):
    """Returns (kvs dict, {name: (ggml type, ne, raw bytes)}) for files this script writes (and most others)."""
    buf = Path(path).read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def take_str():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def take_value(t):
        if t == GGUF_STR:
            return take_str()
        if t == GGUF_ARR:
            et, n = take("<IQ")
            return [take_value(et) for _ in range(n)]
        return take(SCALAR_FMT[t])

    if buf[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    pos = 4
    version, n_tensors, n_kv = take("<IQQ")
    kvs = {}
    for _ in range(n_kv):
        key = take_str()
        kvs[key] = take_value(take("<I"))
    align = kvs.get("general.alignment", ALIGN)
    infos = []
    for _ in range(n_tensors):
        name = take_str()
        nd = take("<I")
        ne = list(struct.unpack_from(f"<{nd}Q", buf, pos))
        pos += 8 * nd
        gtype, off = take("<IQ")
        infos.append((name, gtype, ne, off))
    base = (pos + align - 1) // align * align
    tensors = {}
    for name, gtype, ne, off in infos:
        blk, size = GGML_BLOCK[gtype]
        n = int(np.prod(ne)) // blk * size
        tensors[name] = (gtype, ne, buf[base + off:base + off + n])
    return kvs, tensors


# ----------------------------------------------------------------------------------------------------------------------
# Export: PyTorch weights -> GGUF tensors (names and layouts of llama.cpp's "llama" architecture)

FTYPE = {"f16": (GGML_F16, 1), "q8_0": (GGML_Q8_0, 7), "q4_0": (GGML_Q4_0, 2)}  # (matrix type, general.file_type)


def gguf_weights(model):
    """[(gguf name, float32 array in GGUF order (numpy shape reversed from ne), is matrix)]"""
    def a(t):
        return t.detach().float().cpu().numpy()

    out = [("token_embd.weight", a(model.tok_embd.weight), True)]
    for i, blk in enumerate(model.blocks):
        p = f"blk.{i}."
        out += [(p + "attn_norm.weight", a(blk.attn_norm.weight), False),
                (p + "attn_q.weight", a(blk.attn.wq.weight), True),
                (p + "attn_k.weight", a(blk.attn.wk.weight), True),
                (p + "attn_v.weight", a(blk.attn.wv.weight), True),
                (p + "attn_output.weight", a(blk.attn.wo.weight), True),
                (p + "ffn_norm.weight", a(blk.ffn_norm.weight), False),
                (p + "ffn_gate_inp.weight", a(blk.moe.gate_inp.weight), False),  # the router stays F32
                (p + "ffn_gate_exps.weight", a(blk.moe.gate), True),
                (p + "ffn_up_exps.weight", a(blk.moe.up), True),
                (p + "ffn_down_exps.weight", a(blk.moe.down), True)]
    out += [("output_norm.weight", a(model.output_norm.weight), False),
            ("output.weight", a(model.output.weight), True)]
    return out


def load_gguf_into(model, tensors):
    """Sets the model's weights from GGUF tensors (dequantized to float32)."""
    named = {n: (gt, ne, raw) for n, (gt, ne, raw) in tensors.items()}
    params = {}
    for i, blk in enumerate(model.blocks):
        p = f"blk.{i}."
        params.update({p + "attn_norm.weight": blk.attn_norm.weight, p + "attn_q.weight": blk.attn.wq.weight,
                       p + "attn_k.weight": blk.attn.wk.weight, p + "attn_v.weight": blk.attn.wv.weight,
                       p + "attn_output.weight": blk.attn.wo.weight, p + "ffn_norm.weight": blk.ffn_norm.weight,
                       p + "ffn_gate_inp.weight": blk.moe.gate_inp.weight, p + "ffn_gate_exps.weight": blk.moe.gate,
                       p + "ffn_up_exps.weight": blk.moe.up, p + "ffn_down_exps.weight": blk.moe.down})
    params.update({"token_embd.weight": model.tok_embd.weight, "output_norm.weight": model.output_norm.weight,
                   "output.weight": model.output.weight})
    if set(params) != set(named):
        raise ValueError(f"tensor names differ: {sorted(set(params) ^ set(named))}")
    with torch.no_grad():
        for name, prm in params.items():
            gt, ne, raw = named[name]
            if list(ne) != list(reversed(prm.shape)):
                raise ValueError(f"{name}: GGUF ne {ne} vs model shape {list(prm.shape)}")
            prm.copy_(torch.from_numpy(dequantize(gt, raw, prm.numel()).reshape(prm.shape)))


def export_gguf(path, model, cfg, tok, ftype, description):
    mtype, file_type = FTYPE[ftype]
    tensors = []
    for name, arr, is_matrix in gguf_weights(model):
        ne = list(reversed(arr.shape))
        if not is_matrix:
            tensors.append((name, GGML_F32, ne, arr.astype(np.float32).tobytes()))
        elif mtype == GGML_F16:
            tensors.append((name, GGML_F16, ne, arr.astype(np.float16).tobytes()))
        elif mtype == GGML_Q8_0:
            tensors.append((name, GGML_Q8_0, ne, quantize_q8_0(arr)))
        else:
            tensors.append((name, GGML_Q4_0, ne, quantize_q4_0(arr)))
    token_type = [3 if i in tok.special_ids else 1 for i in range(len(tok.tokens))]
    kvs = [
        ("general.architecture", GGUF_STR, "llama"),
        ("general.type", GGUF_STR, "model"),
        ("general.name", GGUF_STR, f"shakespeare-moe-{ftype}"),
        ("general.description", GGUF_STR, description),
        ("general.file_type", GGUF_U32, file_type),
        ("general.quantization_version", GGUF_U32, 2),
        ("llama.vocab_size", GGUF_U32, cfg["n_vocab"]),
        ("llama.context_length", GGUF_U32, cfg["n_ctx"]),
        ("llama.embedding_length", GGUF_U32, cfg["n_embd"]),
        ("llama.block_count", GGUF_U32, cfg["n_layer"]),
        ("llama.feed_forward_length", GGUF_U32, cfg["n_ff"]),
        ("llama.attention.head_count", GGUF_U32, cfg["n_head"]),
        ("llama.attention.head_count_kv", GGUF_U32, cfg["n_head_kv"]),
        ("llama.attention.layer_norm_rms_epsilon", GGUF_F32, cfg["rms_eps"]),
        ("llama.rope.freq_base", GGUF_F32, cfg["rope_base"]),
        ("llama.rope.dimension_count", GGUF_U32, cfg["head_dim"]),
        ("llama.expert_count", GGUF_U32, cfg["n_expert"]),
        ("llama.expert_used_count", GGUF_U32, cfg["n_expert_used"]),
        ("tokenizer.ggml.model", GGUF_STR, "gpt2"),
        ("tokenizer.ggml.pre", GGUF_STR, "gpt-2"),
        ("tokenizer.ggml.tokens", GGUF_ARR, (GGUF_STR, tok.tokens)),
        ("tokenizer.ggml.token_type", GGUF_ARR, (GGUF_I32, token_type)),
        ("tokenizer.ggml.merges", GGUF_ARR, (GGUF_STR, [f"{a} {b}" for a, b in tok.merges])),
        ("tokenizer.ggml.bos_token_id", GGUF_U32, tok.eot),
        ("tokenizer.ggml.eos_token_id", GGUF_U32, tok.eot),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
        ("tokenizer.ggml.add_eos_token", GGUF_BOOL, False),
    ]
    write_gguf(path, kvs, tensors)


def model_from_gguf(path):
    """(model with the file's weights, tokenizer, cfg) from one of our GGUF files."""
    kvs, tensors = read_gguf(path)
    g = lambda k: kvs["llama." + k]  # noqa: E731
    cfg = dict(n_vocab=len(kvs["tokenizer.ggml.tokens"]), n_ctx=g("context_length"), n_embd=g("embedding_length"),
               n_layer=g("block_count"), n_ff=g("feed_forward_length"), n_head=g("attention.head_count"),
               n_head_kv=g("attention.head_count_kv"), rms_eps=g("attention.layer_norm_rms_epsilon"),
               rope_base=g("rope.freq_base"), head_dim=g("rope.dimension_count"), n_expert=g("expert_count"),
               n_expert_used=g("expert_used_count"), dropout=0.0)
    toks, types = kvs["tokenizer.ggml.tokens"], kvs["tokenizer.ggml.token_type"]
    specials = [t for t, ty in zip(toks, types) if ty == 3]
    normal = [t for t, ty in zip(toks, types) if ty != 3]
    if toks != normal + specials:
        raise ValueError("expected the special tokens after all normal tokens")
    tok = Tokenizer(normal, [tuple(m.split(" ", 1)) for m in kvs["tokenizer.ggml.merges"]], specials)
    model = MoEModel(cfg)
    load_gguf_into(model, tensors)
    model.eval()
    return model, tok, cfg, kvs


# ----------------------------------------------------------------------------------------------------------------------
# Training

def lr_at(step, progress, warmup, lr_max, lr_min):
    """Linear warmup over `warmup` steps, then cosine from lr_max to lr_min as progress goes 0 -> 1."""
    if step < warmup:
        return lr_max * (step + 1) / warmup
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * min(1.0, progress)))


def command_line():
    nice = os.nice(0)
    argv = [shlex.quote(a) for a in sys.argv]
    try:
        argv[0] = shlex.quote(os.path.relpath(sys.argv[0], os.getcwd()))
    except ValueError:
        pass
    prefix = f"nice -n {nice} " if nice > 0 else ""
    return f"{prefix}{shlex.quote(sys.executable)} {' '.join(argv)}"


def cmd_train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    command = command_line()
    t_start = time.time()

    text = Path(args.text).read_text(encoding="utf-8")
    check_ascii(text, args.text)
    train_text, val_text = split_text(text)
    print(f"text: {len(text)} chars, train {len(train_text)}, validation {len(val_text)}", flush=True)

    t0 = time.time()
    base_tokens, merges = train_bpe(train_text, args.vocab, n_special=1)
    tok = Tokenizer(base_tokens, merges, [EOT])
    train_ids = np.array(tok.encode(train_text), dtype=np.int64)
    val_ids = tok.encode(val_text)
    assert tok.decode(val_ids) == val_text
    t_tok = time.time() - t0
    print(f"tokenizer: {len(tok.tokens)} tokens, {len(merges)} merges, {t_tok:.1f} s; train {len(train_ids)} tokens "
          f"({len(train_text) / len(train_ids):.3f} chars/token), validation {len(val_ids)} tokens", flush=True)

    cfg = dict(n_vocab=len(tok.tokens), n_ctx=args.ctx, n_embd=args.embd, n_layer=args.layers, n_ff=args.ff,
               n_head=args.heads, n_head_kv=args.kv_heads, head_dim=args.embd // args.heads, rms_eps=1e-5,
               rope_base=10000.0, n_expert=args.experts, n_expert_used=args.experts_used, dropout=args.dropout)
    model = MoEModel(cfg)
    gen = torch.Generator().manual_seed(args.seed)
    model.init_weights(gen)
    n_params = sum(p.numel() for p in model.parameters())
    n_active = n_params - sum(p.numel() for b in model.blocks for p in (b.moe.gate, b.moe.up, b.moe.down)) * \
        (1 - cfg["n_expert_used"] / cfg["n_expert"])
    print(f"model: {json.dumps(cfg)}\nparameters: {n_params} ({n_active:.0f} active per token)", flush=True)

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    val_wins = windows(val_ids, args.ctx, tok.eot)
    probe = val_wins[::max(1, len(val_wins) // 24)][:24]  # a fixed sample for the periodic log
    T = args.ctx - 1
    log = []
    t_train = time.time()
    budget = args.max_minutes * 60.0
    step = 0
    while True:
        # Progress runs by steps; on a machine slower than planned, by time, so the run still ends within the budget
        # with a complete cosine schedule (the run is then no longer step-for-step reproducible; TRAINING.md says so).
        elapsed = time.time() - t_train
        by_steps = max(0.0, step - args.warmup) / max(1, args.steps - args.warmup)
        by_time = elapsed / budget if step >= args.warmup else 0.0
        progress = max(by_steps, by_time)
        if step >= args.steps or progress >= 1.0:
            break
        model.train()
        lr = lr_at(step, progress, args.warmup, args.lr, args.lr * 0.1)
        for g in opt.param_groups:
            g["lr"] = lr
        off = rng.integers(0, len(train_ids) - T - 1, size=args.batch)
        x = np.stack([np.concatenate(([tok.eot], train_ids[o:o + T])) for o in off])
        y = np.stack([train_ids[o:o + T + 1] for o in off])
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        logits, aux, counts = model(x)
        ce = F.cross_entropy(logits.reshape(-1, cfg["n_vocab"]), y.reshape(-1))
        loss = ce + args.aux * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.log_every == 0 or step == args.steps - 1:
            tot, n = nll_of_windows(model, probe)
            use = torch.stack(counts).float()
            use = (use / use.sum(1, keepdim=True)).max(1).values.max().item()
            el = time.time() - t_train
            print(f"step {step:5d}/{args.steps} lr {lr:.2e} train {ce.item():.4f} aux {aux.item():.3f} "
                  f"val(sample) {tot / n:.4f} max expert share {use:.3f}  {el:7.1f} s", flush=True)
            log.append((step, ce.item(), tot / n, el))
        step += 1
    train_seconds = time.time() - t_train
    steps_done = step
    time_limited = steps_done < args.steps
    print(f"trained {steps_done} steps in {train_seconds:.0f} s" +
          (f" (stopped by --max-minutes {args.max_minutes})" if time_limited else ""), flush=True)

    tot, n = nll_of_windows(model, val_wins)
    val_tok, val_char = tot / n, tot / len(val_text)
    print(f"validation: {val_tok:.4f} nats/token ({n} tokens), {val_char:.4f} nats/char = "
          f"{val_char / math.log(2):.4f} bits/char ({len(val_text)} chars), perplexity {math.exp(val_tok):.2f}",
          flush=True)

    description = (f"Demo Mixtral-style MoE ({cfg['n_expert']} experts, top-{cfg['n_expert_used']}) trained on "
                   f"tinyshakespeare (last 10% held out) by examples/demo-model/train_demo_moe.py; command: {command}; "
                   f"training {train_seconds / 60:.1f} min on {args.threads} CPU threads, {steps_done} steps; "
                   f"validation loss {val_tok:.4f} nats/token, {val_char:.4f} nats/char")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for ft in FTYPE:
        p = out / f"shakespeare-moe-{ft}.gguf"
        export_gguf(p, model, cfg, tok, ft, description)
        sizes[ft] = p.stat().st_size
        print(f"wrote {p} ({sizes[ft]} bytes)", flush=True)

    sample_prompt = "ROMEO:\n"
    ids = tok.encode(sample_prompt, bos=True)
    model.eval()
    with torch.no_grad():
        for _ in range(64):
            logits, _, _ = model(torch.tensor([ids[-args.ctx:]]))
            ids.append(int(logits[0, -1].argmax()))
    sample = tok.decode(ids[1:])

    write_training_md(out / "TRAINING.md", dict(
        command=command, text=args.text, chars=len(text), train_chars=len(train_text), val_chars=len(val_text),
        n_tokens=len(tok.tokens), n_merges=len(merges), train_tokens=len(train_ids), val_tokens=len(val_ids),
        cfg=cfg, n_params=n_params, n_active=n_active, args=vars(args), train_seconds=train_seconds,
        steps_done=steps_done, time_limited=time_limited,
        total_seconds=time.time() - t_start, tok_seconds=t_tok, val_tok=val_tok, val_char=val_char, val_n=n,
        sizes=sizes, log=log, sample=sample, torch=torch.__version__, numpy=np.__version__))


def fmt_md_block(s):
    return "```text\n" + s.rstrip("\n") + "\n```"


def write_training_md(path, r):
    cfg, a = r["cfg"], r["args"]
    lines = [
        "# The demo model: how it was trained",
        "",
        "Written by `train_demo_moe.py` at the end of its run (the verification section by `train_demo_moe.py verify`).",
        "",
        "## Command",
        "",
        "```sh",
        r["command"],
        "```",
        "",
        f"Run from the repository root with Debian's python3-torch {r['torch']} and python3-numpy {r['numpy']}, on "
        f"{a['threads']} CPU threads, seed {a['seed']}.",
        "",
        "## Data and tokenizer",
        "",
        f"- text: `{os.path.basename(r['text'])}`, {r['chars']} characters; training split {r['train_chars']} "
        f"characters, validation (the last 10%, from the first line start at or after 90%) {r['val_chars']} characters",
        f"- byte-level BPE (GPT-2 byte-to-unicode tokens, `gpt-2` pre-tokenizer), trained on the training split: "
        f"{r['n_tokens']} tokens = 256 bytes + {r['n_merges']} merges + `<|endoftext|>` (BOS and EOS, id "
        f"{r['n_tokens'] - 1}); {r['tok_seconds']:.1f} s",
        f"- training split {r['train_tokens']} tokens ({r['train_chars'] / r['train_tokens']:.3f} characters/token), "
        f"validation split {r['val_tokens']} tokens",
        "",
        "## Model (llama.cpp architecture `llama` with experts)",
        "",
        f"- n_embd {cfg['n_embd']}, {cfg['n_layer']} layers, {cfg['n_head']} query heads / {cfg['n_head_kv']} KV heads "
        f"of {cfg['head_dim']}, RoPE (NORM, base {cfg['rope_base']:g}) over the whole head, context {cfg['n_ctx']}",
        f"- MoE FFN: {cfg['n_expert']} SwiGLU experts of {cfg['n_ff']}, top-{cfg['n_expert_used']} of a softmax "
        f"router, weights renormalised; RMSNorm eps {cfg['rms_eps']:g}; untied output head; vocab {cfg['n_vocab']}",
        f"- {r['n_params']:,} parameters ({r['n_active']:,.0f} active per token)",
        "",
        "## Training",
        "",
        f"- {r['steps_done']} steps" + (f" (of {a['steps']} planned: the {a['max_minutes']:g}-minute budget ran the "
                                         f"cosine schedule by time, so a rerun's step count depends on the machine's "
                                         f"load)" if r["time_limited"] else "") +
        f" of {a['batch']} sequences x {a['ctx']} tokens (BOS + {a['ctx'] - 1} text tokens from a "
        f"random offset), AdamW (betas 0.9/0.95, weight decay {a['wd']} on matrices), peak LR {a['lr']}, "
        f"{a['warmup']} warmup steps, cosine to {a['lr'] * 0.1:g}, gradient clip 1.0, dropout {a['dropout']}, "
        f"load-balancing loss x {a['aux']}",
        f"- training time: **{r['train_seconds'] / 60:.1f} minutes** ({r['train_seconds']:.0f} s; whole run "
        f"{r['total_seconds'] / 60:.1f} min including tokenizer, evaluation and export)",
        f"- final validation loss (every validation token, windows of BOS + {a['ctx'] - 1} tokens): "
        f"**{r['val_tok']:.4f} nats/token** (perplexity {math.exp(r['val_tok']):.2f}, {r['val_n']} tokens), "
        f"**{r['val_char']:.4f} nats/character** ({r['val_char'] / math.log(2):.4f} bits/character)",
        "",
        "| step | train loss | validation loss (sample of 24 windows) | elapsed s |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {s} | {tr:.4f} | {va:.4f} | {el:.0f} |" for s, tr, va, el in r["log"]]
    lines += [
        "",
        "## Files",
        "",
        "| file | bytes | weights |",
        "|---|---:|---|",
        f"| shakespeare-moe-f16.gguf | {r['sizes']['f16']:,} | matrices F16; norms and routers F32 |",
        f"| shakespeare-moe-q8_0.gguf | {r['sizes']['q8_0']:,} | matrices Q8_0 (token_embd and output too); norms and "
        f"routers F32 |",
        f"| shakespeare-moe-q4_0.gguf | {r['sizes']['q4_0']:,} | matrices Q4_0 (token_embd and output too); norms and "
        f"routers F32 |",
        f"| total | {sum(r['sizes'].values()):,} | |",
        "",
        "Greedy sample from the PyTorch model, prompt `ROMEO:\\n` (after BOS):",
        "",
        fmt_md_block(r["sample"]),
        "",
        MD_VERIFY_BEGIN,
        "",
        "## Verification",
        "",
        "Not run yet: `train_demo_moe.py verify`.",
        "",
        MD_VERIFY_END,
        "",
    ]
    Path(path).write_text("\n".join(lines), encoding="utf-8")


# ----------------------------------------------------------------------------------------------------------------------
# Verification with llama.cpp (tests/conformance/llama_ref.c) and moe-run

def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r.stdout


def nll_from_logits(logits, ids):
    lg = logits.astype(np.float64)
    m = lg.max(axis=1, keepdims=True)
    lse = (m[:, 0] + np.log(np.exp(lg - m).sum(axis=1)))
    return float((lse[:-1] - lg[np.arange(len(ids) - 1), ids[1:]]).sum())


def cmd_verify(args):
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    files = {ft: out / f"shakespeare-moe-{ft}.gguf" for ft in FTYPE}
    text = Path(args.text).read_text(encoding="utf-8")
    _, val_text = split_text(text)
    ref_model, tok, cfg, kvs = model_from_gguf(files["f16"])
    val_ids = tok.encode(val_text)
    wins = windows(val_ids, cfg["n_ctx"], tok.eot)[:args.windows]
    n_scored = sum(len(w) - 1 for w in wins)
    md = ["## Verification", "",
          f"Command: `{command_line()}`", "",
          f"Validation tokens: the first {len(wins)} windows of the validation split (BOS + {cfg['n_ctx'] - 1} "
          f"tokens each, tokenized by this script's tokenizer rebuilt from the F16 file's metadata), {n_scored} scored "
          f"tokens. PyTorch runs the weights read back from each file (dequantized to float32); llama.cpp is its "
          f"prebuilt CPU library through `llama_ref logits --kv f32 --flash off`.", "",
          "| file | PyTorch nats/token | llama.cpp nats/token | llama.cpp perplexity | relative difference |",
          "|---|---:|---:|---:|---:|"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ft, path in files.items():
            model = ref_model if ft == "f16" else model_from_gguf(path)[0]
            tot_pt, _ = nll_of_windows(model, wins)
            tot_ll = 0.0
            for k, w in enumerate(wins):
                of = os.path.join(tmp, f"{ft}-{k}.f32")
                run([args.llama_ref, "logits", "-m", str(path), "--tokens", ",".join(map(str, w)), "-o", of,
                     "--kv", "f32", "--flash", "off", "-t", str(args.threads)])
                lg = np.fromfile(of, dtype=np.float32).reshape(len(w), -1)
                tot_ll += nll_from_logits(lg, np.array(w))
            a, b = tot_pt / n_scored, tot_ll / n_scored
            results[ft] = (a, b)
            md.append(f"| {path.name} | {a:.4f} | {b:.4f} | {math.exp(b):.2f} | {100 * (b - a) / a:+.3f}% |")
            print(f"{ft}: PyTorch {a:.4f}  llama.cpp {b:.4f} nats/token", flush=True)

    prompt = args.prompt.replace("\\n", "\n")
    p_ids = tok.encode(prompt, bos=True)
    md += ["", f"Greedy continuation, {args.n} tokens, prompt {json.dumps(prompt)} = token ids "
               f"`{','.join(map(str, p_ids))}` (BOS first):", ""]
    with torch.no_grad():
        ids = list(p_ids)
        for _ in range(args.n):
            logits, _, _ = ref_model(torch.tensor([ids[-cfg["n_ctx"]:]]))
            ids.append(int(logits[0, -1].argmax()))
    pt_gen = ids[len(p_ids):]
    for ft, path in files.items():
        ll = [int(t) for t in run([args.llama_ref, "generate", "-m", str(path), "--tokens", ",".join(map(str, p_ids)),
                                   "-n", str(args.n), "--kv", "f32", "--flash", "off", "-t",
                                   str(args.threads)]).split(",")]
        line = f"- {path.name}: llama.cpp generates {len(ll)} tokens"
        if ft == "f16":
            same = next((k for k, (x, y) in enumerate(zip(ll, pt_gen)) if x != y), len(ll))
            line += f"; PyTorch (F16 weights) agrees on the first {same} of {len(ll)}"
        if args.moe_run:
            mr_out = run([args.moe_run, "-m", str(path), "--tokens", ",".join(map(str, p_ids)), "-n", str(args.n),
                          "--print-ids", "-t", str(args.threads)]).strip().splitlines()[-1]
            mr = [int(t) for t in mr_out.replace(" ", "").split(",") if t]
            same = next((k for k, (x, y) in enumerate(zip(ll, mr)) if x != y), min(len(ll), len(mr)))
            line += f"; moe-run loads it and generates {len(mr)} tokens, the first {same} identical to llama.cpp's"
        md += [line + ":", "", fmt_md_block(prompt + tok.decode(ll)), ""]
        print(line + "\n" + prompt + tok.decode(ll) + "\n", flush=True)
    md += ["File metadata `general.description`:", "", fmt_md_block(kvs["general.description"]), ""]

    md_path = out / "TRAINING.md"
    cur = md_path.read_text(encoding="utf-8") if md_path.exists() else ""
    block = MD_VERIFY_BEGIN + "\n\n" + "\n".join(md) + "\n" + MD_VERIFY_END
    if MD_VERIFY_BEGIN in cur and MD_VERIFY_END in cur:
        head, rest = cur.split(MD_VERIFY_BEGIN, 1)
        cur = head + block + rest.split(MD_VERIFY_END, 1)[1]
    else:
        cur = cur.rstrip("\n") + "\n\n" + block + "\n"
    md_path.write_text(cur, encoding="utf-8")
    print(f"updated {md_path}")
    if abs(results["f16"][1] - results["f16"][0]) / results["f16"][0] > 0.01:
        sys.exit("verify: llama.cpp's F16 loss differs from PyTorch's by more than 1%")


# ----------------------------------------------------------------------------------------------------------------------

def main():
    argv = sys.argv[1:]
    verify = bool(argv) and argv[0] == "verify"
    ap = argparse.ArgumentParser(prog="train_demo_moe.py" + (" verify" if verify else ""),
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("text", nargs="?", default=str(DEFAULT_TEXT), help="training text (default: %(default)s)")
    ap.add_argument("--out", default=str(HERE), help="folder for the GGUF files and TRAINING.md (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2)
    if verify:
        ap.add_argument("--llama-ref", required=True, help="the llama_ref harness binary (tests/conformance/llama_ref.c)")
        ap.add_argument("--moe-run", default=None, help="moe-run binary, to check that our engine runs the files too")
        ap.add_argument("--windows", type=int, default=4, help="validation windows to score (default: %(default)s)")
        ap.add_argument("--prompt", default="ROMEO:\\n", help="generation prompt (\\n for newline)")
        ap.add_argument("-n", type=int, default=96, help="tokens to generate")
        cmd_verify(ap.parse_args(argv[1:]))
        return
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--embd", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=128, help="hidden size of each expert")
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--experts-used", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--aux", type=float, default=0.01, help="weight of the load-balancing loss")
    ap.add_argument("--max-minutes", type=float, default=40.0,
                    help="training time budget: past it the cosine schedule runs by time instead of steps")
    ap.add_argument("--log-every", type=int, default=50)
    cmd_train(ap.parse_args(argv))


if __name__ == "__main__":
    main()

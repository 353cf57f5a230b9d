#!/usr/bin/env python3
"""Train ICRL Lens's embedded default model and export it to ONNX.

A small Llama-style decoder (RMSNorm, rotary positions, SwiGLU, grouped-query
attention) learns next-token prediction on transcripts that `icrl-lens dataset`
writes for the three task families. The script builds a word-level Hugging Face
`tokenizer.json` from the data, trains deterministically from its seed, logs its
loss curve, and exports an ordinary ONNX model with a KV cache (Optimum's names:
`past_key_values.{i}.key|value` in, `present.{i}.key|value` out) into a model
folder with `tokenizer.json`, `config.json` and `training_log.csv`.

Run with Debian's PyTorch (python3-torch, libopenblas0-pthread) or any PyTorch:
    /usr/bin/python3 python/train_default_model.py --data two-step.jsonl grid.jsonl graph.jsonl --out models/icrl-tiny

On a CPU, keep glibc from handing every large tensor back to the kernel, or fresh
pages are faulted in for each attention matrix and the element-wise operations run
many times slower (seen as high system time in `top`):
    export MALLOC_MMAP_THRESHOLD_=17179869184 MALLOC_TRIM_THRESHOLD_=17179869184 OMP_WAIT_POLICY=PASSIVE
glibc then keeps every freed block, so the process grows over a long run; it stops
and exports what it has learned before the memory runs out (--max-memory-gb).
"""
from __future__ import annotations

import argparse
import bisect
import csv
import json
import math
import os
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

# How tokenizer.json splits text before the word-level lookup (a Split pre-tokenizer
# with this regex, then GPT-2's byte-to-character map, as Llama 3's tokenizer
# does): a word keeps the space before it, so tokens decode back to the text;
# letters and digits stay together, so a grid cell such as "b3" is one token.
PRETOKEN_REGEX = r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+"
PRETOKEN_PATTERN = re.compile(PRETOKEN_REGEX)
SPECIAL_TOKENS = ["<pad>", "<unk>", "<bos>"]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (a space becomes 'Ġ')."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


BYTE_CHARS = bytes_to_unicode()


def byte_level(piece: str) -> str:
    """A piece of text as the ByteLevel pre-tokenizer writes it (" A" -> "ĠA")."""
    return "".join(BYTE_CHARS[b] for b in piece.encode("utf-8"))


def pretokenize(text: str) -> list[str]:
    """The byte-level pieces of a text, as tokenizer.json's ByteLevel pre-tokenizer writes them."""
    return [byte_level(piece) for piece in PRETOKEN_PATTERN.findall(text)]


@dataclass
class ModelConfig:
    vocab_size: int
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 2
    d_ff: int = 344
    max_positions: int = 4096
    rope_theta: float = 10000.0
    rms_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


# ---------------------------------------------------------------- tokenizer


def build_vocab(texts: list[str], min_count: int = 1) -> dict[str, int]:
    counts: dict[str, int] = {}
    for text in texts:
        for word in pretokenize(text):
            counts[word] = counts.get(word, 0) + 1
    words = sorted(w for w, c in counts.items() if c >= min_count)
    return {tok: i for i, tok in enumerate(SPECIAL_TOKENS + words)}


def encode(text: str, vocab: dict[str, int]) -> list[int]:
    unk = vocab["<unk>"]
    return [vocab["<bos>"]] + [vocab.get(w, unk) for w in pretokenize(text)]


def tokenizer_json(vocab: dict[str, int]) -> dict:
    """A Hugging Face tokenizer.json: word-level model over byte-level pre-tokens, <bos> prepended.

    Every token is a piece of the text (a word with the space before it, a number,
    punctuation, a run of white space), so decoding gives the text back exactly
    and character offsets map to tokens.
    """
    bos = vocab["<bos>"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in SPECIAL_TOKENS
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PRETOKEN_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [bos], "tokens": ["<bos>"]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    }


# ---------------------------------------------------------------- model


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * hd, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, bias, past_k, past_v):
        cfg = self.cfg
        b, t, _ = x.shape
        hd = cfg.head_dim
        q = self.q_proj(x).view(b, t, cfg.n_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, cfg.n_kv_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, cfg.n_kv_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        present = (k, v)
        rep = cfg.n_heads // cfg.n_kv_heads
        total = k.shape[2]
        k = k[:, :, None].expand(b, cfg.n_kv_heads, rep, total, hd).reshape(b, cfg.n_heads, total, hd)
        v = v[:, :, None].expand(b, cfg.n_kv_heads, rep, total, hd).reshape(b, cfg.n_heads, total, hd)
        # Scaling q (t x hd) is cheaper than scaling the scores (t x total). A contiguous
        # K^T keeps the batched product on the BLAS path (a strided one is ~15x slower on CPU).
        scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-1, -2).contiguous() + bias
        out = torch.softmax(scores, dim=-1) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, cfg.n_heads * hd)), present


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, bias, past_k=None, past_v=None):
        attn, present = self.self_attn(self.input_layernorm(x), cos, sin, bias, past_k, past_v)
        x = x + attn
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.rms_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))
        angles = torch.arange(cfg.max_positions).float()[:, None] * inv_freq[None, :]
        angles = torch.cat([angles, angles], dim=-1)
        self.register_buffer("cos_table", angles.cos(), persistent=False)
        self.register_buffer("sin_table", angles.sin(), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        """Logits for every position, and each layer's (key, value) cache.

        attention_mask covers past and new positions (1 = attend); the causal
        mask lets new position i see every key up to past_len + i.
        """
        b, t = input_ids.shape
        total = attention_mask.shape[1]
        past_len = total - t
        x = self.embed_tokens(input_ids)
        cos = self.cos_table[position_ids][:, None]
        sin = self.sin_table[position_ids][:, None]
        key_pos = torch.arange(total, device=input_ids.device)[None, :]
        query_pos = torch.arange(t, device=input_ids.device)[:, None] + past_len
        allowed = (key_pos <= query_pos)[None, None] & (attention_mask[:, None, None, :] > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=x.dtype), torch.full((), -1e9, dtype=x.dtype))
        presents = []
        for i, layer in enumerate(self.layers):
            pk, pv = (past[2 * i], past[2 * i + 1]) if past is not None else (None, None)
            x, present = layer(x, cos, sin, bias, pk, pv)
            presents.extend(present)
        return self.lm_head(self.norm(x)), presents


# ---------------------------------------------------------------- data


@dataclass
class Transcript:
    """A transcript's text and, for each choice whose distribution its record gives,
    (start, end, allowed answers, the probability of each)."""
    text: str
    choices: list[tuple[int, int, list[str], list[float]]]


def known_choice_distributions(record: dict) -> list[tuple[int, int, list[str], list[float]]]:
    """The distribution each choice of a record was drawn from, where the record says it.

    A Q-learning agent (two-step task, grid) draws each scored choice from its policy,
    `latents[i].probs` over `spans[i].allowed`; the two-step task's random opening
    (unscored) is drawn uniformly. Other records give none: the latents of a walk on a
    graph are those of a learner fitted to the walk, not what drew it.
    """
    if (record.get("agent") or {}).get("model") != "q-learning" or not record.get("latents"):
        return []
    spans, latents = record["transcript"]["spans"], record["latents"]
    scored = record.get("scored") or [True] * len(spans)
    if not len(spans) == len(latents) == len(scored):
        raise SystemExit(f"a {record.get('task')} record (index {record.get('index')}) has {len(spans)} choices in its "
                         f"transcript and {len(latents)} latents: write the data again with `icrl-lens dataset`")
    known = []
    for span, latent, own in zip(spans, latents, scored):
        allowed = span["allowed"]
        if len(latent["probs"]) != len(allowed) or allowed[latent["action"]] != span["answer"]:
            raise SystemExit(f"a {record.get('task')} record (index {record.get('index')}): the choice {span['answer']!r} "
                             f"at character {span['start']} is not its latent's action: write the data again with "
                             "`icrl-lens dataset`")
        probs = latent["probs"] if own else [1 / len(allowed)] * len(allowed)
        known.append((span["start"], span["end"], allowed, probs))
    return known


def load_transcripts(paths: list[str]) -> list[Transcript]:
    transcripts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    record = json.loads(line)
                    transcripts.append(Transcript(record["transcript"]["text"], known_choice_distributions(record)))
    return transcripts


def choice_targets(transcript: Transcript, ids: list[int], vocab: dict[str, int]) -> list[tuple[int, list[int], list[float]]]:
    """(token index, the token of each allowed answer, its probability) for each known choice.

    The answer is one pre-token with what surrounds it there (" A", " up"); each
    alternative is that pre-token with the answer replaced, so it is the token the
    text would have had.
    """
    pieces = list(PRETOKEN_PATTERN.finditer(transcript.text))
    starts = [m.start() for m in pieces]
    targets = []
    for start, end, allowed, probs in transcript.choices:
        j = bisect.bisect_right(starts, start) - 1
        piece = pieces[j]
        if piece.end() < end:
            raise SystemExit(f"the choice at characters {start}-{end} of a transcript is not one token: "
                             f"it spans {piece.group()!r} and more")
        before, after = piece.group()[: start - piece.start()], piece.group()[end - piece.start():]
        alternatives = []
        for answer in allowed:
            token = byte_level(before + answer + after)
            if token not in vocab:
                raise SystemExit(f"the choice {answer!r} (as {before + answer + after!r}) is not a token of the "
                                 "vocabulary: train on data that contains it, or use --choice-targets sampled")
            alternatives.append(vocab[token])
        if ids[j + 1] not in alternatives:
            raise SystemExit(f"the token at the choice at character {start} is not one of its allowed answers")
        targets.append((j + 1, alternatives, probs))
    return targets


def batches(seqs: list[list[int]], batch_size: int, rng: random.Random, pool: int = 32,
            choices: list[list[tuple[int, list[int], list[float]]]] | None = None):
    """Endless shuffled batches, right-padded; the mask marks real tokens.

    Sequences are drawn in pools of `pool` batches and grouped by length within a
    pool, so little compute goes to padding; the order of batches is shuffled.
    With `choices` (choice_targets per sequence) each batch also carries them as
    lm_loss takes them; otherwise that third item is None.
    """
    order = list(range(len(seqs)))
    while True:
        rng.shuffle(order)
        groups = []
        for p in range(0, len(order) - batch_size + 1, batch_size * pool):
            members = sorted(order[p:p + batch_size * pool], key=lambda i: len(seqs[i]))
            groups += [members[i:i + batch_size] for i in range(0, len(members) - batch_size + 1, batch_size)]
        rng.shuffle(groups)
        for group in groups:
            chunk = [seqs[i] for i in group]
            width = max(len(s) for s in chunk)
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.long)
            for row, s in enumerate(chunk):
                ids[row, : len(s)] = torch.tensor(s)
                mask[row, : len(s)] = 1
            yield ids, mask, (choice_batch([choices[i] for i in group]) if choices is not None else None)


def choice_batch(rows: list[list[tuple[int, list[int], list[float]]]]):
    """A batch's known choices as tensors: row, token index, answer tokens and their
    probabilities (padded with probability 0 to the widest choice); None if there are none."""
    flat = [(r, t, alts, probs) for r, targets in enumerate(rows) for t, alts, probs in targets]
    if not flat:
        return None
    width = max(len(alts) for _, _, alts, _ in flat)
    tokens = torch.zeros(len(flat), width, dtype=torch.long)
    probs = torch.zeros(len(flat), width)
    for i, (_, _, alts, p) in enumerate(flat):
        tokens[i, : len(alts)] = torch.tensor(alts)
        probs[i, : len(p)] = torch.tensor(p, dtype=torch.float32)
    return (torch.tensor([f[0] for f in flat]), torch.tensor([f[1] for f in flat]), tokens, probs)


def attention_bytes(cfg: ModelConfig, batch_size: int, length: int) -> int:
    """Memory the attention matrices of one training step hold for the backward pass.

    Each block keeps about three float32 [batch, heads, length, length] tensors (the
    scores with the mask added, their softmax, and its gradient's workspace); for a
    short model this is most of a step's memory once transcripts run to thousands
    of tokens.
    """
    return 3 * cfg.n_layers * batch_size * cfg.n_heads * length * length * 4


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, or None where there is no such file."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def resident_bytes() -> int | None:
    """The process's resident memory from /proc/self/statm, or None where there is no such file."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def check_memory(cfg: ModelConfig, batch_size: int, length: int, available: int | None) -> None:
    """Refuses a batch whose attention would not fit, before the kernel kills the run without a word.

    The attention may take 70% of the memory available once the data is loaded;
    the rest is for the weights, the optimiser and everything else.
    """
    need = attention_bytes(cfg, batch_size, length)
    if available is None or need <= 0.7 * available:
        return
    fits = max(1, int(0.7 * available // attention_bytes(cfg, 1, length)))
    raise SystemExit(f"batches of {batch_size} transcripts of up to {length} tokens need about {need / 2**30:.1f} GiB for "
                     f"attention and this machine has {available / 2**30:.1f} GiB available: lower --batch-size to {fits} "
                     "or less, or write shorter transcripts")


def lm_loss(model: Decoder, ids: torch.Tensor, mask: torch.Tensor, choices=None) -> torch.Tensor:
    """Mean next-token cross-entropy over the real tokens.

    With `choices` (choice_batch's tensors), a choice token's target is the
    distribution it was drawn from rather than the token drawn: the expected
    cross-entropy over that distribution, whose expectation over the data is the
    same and whose gradient lacks the noise of the draw.
    """
    positions = torch.arange(ids.shape[1], device=ids.device)[None].expand_as(ids)
    logits, _ = model(ids, mask, positions)
    predicted = logits[:, :-1]
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    losses = F.cross_entropy(predicted.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                             reduction="none").view(targets.shape)
    total = losses.sum()
    if choices is not None:
        rows, tokens, answers, probs = (c.to(ids.device) for c in choices)
        at = predicted[rows, tokens - 1]
        expected = torch.logsumexp(at, dim=-1) - (probs * at.gather(1, answers)).sum(-1)
        total = total - losses[rows, tokens - 1].sum() + expected.sum()
    return total / (targets != -100).sum()


# ---------------------------------------------------------------- export


class ExportWrapper(nn.Module):
    """Flattens the cache into named inputs and outputs for torch.onnx.export."""

    def __init__(self, model: Decoder):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past):
        logits, presents = self.model(input_ids, attention_mask, position_ids, list(past))
        return (logits, *presents)


def export_onnx(model: Decoder, path: Path, opset: int = 17) -> None:
    cfg = model.cfg
    model.eval()
    b, t, past_len = 2, 3, 4
    past = [torch.zeros(b, cfg.n_kv_heads, past_len, cfg.head_dim) for _ in range(2 * cfg.n_layers)]
    names_past, names_present, dynamic = [], [], {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for i in range(cfg.n_layers):
        for kind in ("key", "value"):
            names_past.append(f"past_key_values.{i}.{kind}")
            names_present.append(f"present.{i}.{kind}")
            dynamic[names_past[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            dynamic[names_present[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    args = (
        torch.zeros(b, t, dtype=torch.long),
        torch.ones(b, past_len + t, dtype=torch.long),
        torch.arange(past_len, past_len + t)[None].expand(b, t).contiguous(),
        *past,
    )
    with torch.no_grad():
        torch.onnx.export(
            ExportWrapper(model), args, str(path),
            input_names=["input_ids", "attention_mask", "position_ids", *names_past],
            output_names=["logits", *names_present],
            dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True,
        )


# ---------------------------------------------------------------- continuing from an export


def grown_layer_positions(exported: int, layers: int) -> list[int]:
    """Where each of an export's `exported` blocks goes in a model of `layers` blocks.

    The blocks keep their order; the new ones are spread among them, each after an
    even share of the old (4 into 6: old blocks at 0, 1, 3, 4, new at 2 and 5).
    """
    if not 0 < exported <= layers:
        raise ValueError(f"cannot place {exported} exported blocks in {layers}")
    added = layers - exported
    positions, at = [], 0
    for i in range(exported):
        positions.append(at)
        # Old block i is followed by the new blocks whose equal share of the old ends with it.
        at += 1 + (i + 1) * added // exported - i * added // exported
    return positions


def load_exported_weights(model: Decoder, onnx_path: Path, exported_layers: int | None = None) -> None:
    """Loads the weights of a model this script exported, to train it further.

    torch.onnx keeps the embedding and norm weights under their names and stores each
    linear layer's weight transposed under a generated name, in the order the layers
    run: per block q, k, v, o, gate, up, down; then the output head.

    With `exported_layers` below the model's block count the model grows in depth:
    the exported blocks keep their weights and order (grown_layer_positions), and each
    new block starts as the identity, its attention output and MLP down projections
    zero, so the grown model computes what the export did and training finds what
    the new blocks should add.
    """
    import onnx
    from onnx import numpy_helper

    exported_layers = model.cfg.n_layers if exported_layers is None else exported_layers
    if exported_layers > model.cfg.n_layers:
        raise SystemExit(f"{onnx_path}: {exported_layers} blocks cannot go into a model of {model.cfg.n_layers}; "
                         f"give --layers {exported_layers} or more")
    place = grown_layer_positions(exported_layers, model.cfg.n_layers)
    graph = onnx.load(str(onnx_path)).graph
    named = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    linears = [numpy_helper.to_array(t) for t in graph.initializer if t.name.startswith("onnx::MatMul")]
    modules = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
    order = [f"layers.{place[i]}.{m}" for i in range(exported_layers) for m in modules] + ["lm_head"]
    if len(linears) != len(order):
        raise SystemExit(f"{onnx_path}: {len(linears)} linear weights, expected {len(order)} for this configuration")
    # (exported name, name here) for the embedding and every norm
    copies = [(k, k) for k in ("embed_tokens.weight", "norm.weight")] + [
        (f"layers.{i}.{n}.weight", f"layers.{place[i]}.{n}.weight")
        for i in range(exported_layers) for n in ("input_layernorm", "post_attention_layernorm")]
    state = model.state_dict()
    with torch.no_grad():
        for name, weight in zip(order, linears):
            target = state[f"{name}.weight"]
            if tuple(target.shape) != weight.T.shape:
                raise SystemExit(f"{onnx_path}: {name}.weight has shape {weight.T.shape} there, {tuple(target.shape)} here")
            target.copy_(torch.from_numpy(weight.T.copy()))
        for source, key in copies:
            exported = named.get(f"model.{source}")
            target = state[key]
            if exported is None or tuple(exported.shape) != tuple(target.shape):
                raise SystemExit(f"{onnx_path}: no tensor model.{source} of shape {tuple(target.shape)}")
            target.copy_(torch.from_numpy(exported.copy()))
        for layer in set(range(model.cfg.n_layers)) - set(place):
            state[f"layers.{layer}.self_attn.o_proj.weight"].zero_()
            state[f"layers.{layer}.mlp.down_proj.weight"].zero_()


# ---------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", required=True, help="JSONL files from `icrl-lens dataset`")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--d-ff", type=int, default=344)
    p.add_argument("--max-positions", type=int, default=4096)
    p.add_argument("--threads", type=int, default=0, help="torch threads on the CPU (0: leave PyTorch's default, which may be 1)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where to train (default: cuda when there is one)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--max-minutes", type=float, default=0,
                   help="stop after this much training time and export what was learned (0: no limit)")
    p.add_argument("--max-memory-gb", type=float, default=0,
                   help="stop and export what was learned once the process holds this much memory "
                        "(0: 90%% of what was available at the start, on a CPU; the malloc settings "
                        "above keep every freed block, so a long run only grows)")
    p.add_argument("--choice-targets", choices=["policy", "sampled"], default="sampled",
                   help="what a choice learns from: 'sampled', the token in the text, as every other token; 'policy', "
                        "where the data records the distribution the choice was drawn from (a Q-learning agent's "
                        "policy), that distribution: the same expected loss with less noise (default: sampled)")
    p.add_argument("--name", default=None, help="model name for config.json (default: the folder name)")
    p.add_argument("--init-from", default=None,
                   help="a model folder this script wrote: start from its weights and vocabulary (same architecture options, "
                        "except that --layers may be larger: the model then grows in depth, its new blocks "
                        "starting as the identity)")
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    transcripts = load_transcripts(args.data)
    texts = [t.text for t in transcripts]
    if args.init_from:
        # Training on continues with the vocabulary the model was exported with.
        vocab = json.loads((Path(args.init_from) / "tokenizer.json").read_text())["model"]["vocab"]
    else:
        vocab = build_vocab(texts)
    seqs = [encode(t, vocab) for t in texts]
    choices = ([choice_targets(t, s, vocab) for t, s in zip(transcripts, seqs)]
               if args.choice_targets == "policy" else None)
    del transcripts
    longest = max(len(s) for s in seqs)
    if longest > args.max_positions:
        raise SystemExit(f"a transcript has {longest} tokens, more than --max-positions {args.max_positions}: "
                         "raise --max-positions or write shorter transcripts")
    cfg = ModelConfig(vocab_size=len(vocab), d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
                      n_kv_heads=args.kv_heads, d_ff=args.d_ff, max_positions=args.max_positions)
    memory_limit = args.max_memory_gb * 2**30
    if args.device == "cpu":
        available = available_bytes()
        check_memory(cfg, args.batch_size, longest, available)
        if memory_limit == 0 and available is not None:
            memory_limit = 0.9 * (available + (resident_bytes() or 0))
    model = Decoder(cfg)
    if args.init_from:
        exported = json.loads((Path(args.init_from) / "config.json").read_text())
        load_exported_weights(model, Path(args.init_from) / "model.onnx", exported["n_layers"])
    model = model.to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    learnt = f", {sum(map(len, choices))} choices learnt from their policy" if choices is not None else ""
    print(f"{len(texts)} transcripts, {sum(map(len, seqs))} tokens (longest {longest}), vocab {len(vocab)}, "
          f"{n_params} parameters{learnt}", flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    log_rows = []
    started = time.time()
    tokens_seen = 0
    model.train()
    data = batches(seqs, args.batch_size, rng, choices=choices)
    for step in range(1, args.steps + 1):
        ids, mask, known = next(data)
        loss = lm_loss(model, ids.to(args.device), mask.to(args.device), known)
        if not torch.isfinite(loss):
            raise SystemExit(f"loss became {loss.item()} at step {step}: lower --lr (now {args.lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        tokens_seen += int(mask.sum())
        out_of_time = args.max_minutes > 0 and time.time() - started > 60 * args.max_minutes
        resident = resident_bytes() if memory_limit > 0 else None
        out_of_memory = resident is not None and resident > memory_limit
        if step % args.log_every == 0 or step == args.steps or out_of_time or out_of_memory:
            elapsed = time.time() - started
            log_rows.append({"step": step, "loss": round(loss.item(), 5), "tokens": tokens_seen,
                             "seconds": round(elapsed, 1)})
            print(f"step {step}/{args.steps} loss {loss.item():.4f} {tokens_seen / elapsed:.0f} tok/s", flush=True)
        if out_of_time:
            print(f"stopping after {args.max_minutes} minutes, at step {step}", flush=True)
            break
        if out_of_memory:
            print(f"stopping at step {step}: the process holds {resident / 2**30:.1f} GB, over the limit of "
                  f"{memory_limit / 2**30:.1f} GB (--max-memory-gb); what was learned is exported. Run shorter, "
                  "or set a lower MALLOC_MMAP_THRESHOLD_", flush=True)
            break

    with open(out / "training_log.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["step", "loss", "tokens", "seconds"])
        writer.writeheader()
        writer.writerows(log_rows)
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json(vocab), indent=1, ensure_ascii=False) + "\n")
    config = {
        "model_type": "llama",
        "name": args.name or out.name,
        "architectures": ["LlamaForCausalLM"],
        **{k: v for k, v in asdict(cfg).items()},
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "intermediate_size": cfg.d_ff,
        "bos_token_id": vocab["<bos>"],
        "pad_token_id": vocab["<pad>"],
        "training": {"seed": args.seed, "steps": step, "planned_steps": args.steps,
                     "init_from": os.path.basename(os.path.normpath(args.init_from)) if args.init_from else None, "batch_size": args.batch_size, "lr": args.lr,
                     "choice_targets": args.choice_targets,
                     "data": [os.path.basename(d) for d in args.data], "transcripts": len(texts),
                     "tokens_seen": tokens_seen, "seconds": round(time.time() - started, 1),
                     "torch": torch.__version__, "device": args.device,
                     "threads": torch.get_num_threads()},
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    export_onnx(model.cpu(), out / "model.onnx")
    print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()

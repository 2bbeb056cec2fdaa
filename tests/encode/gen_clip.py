#!/usr/bin/python3
"""Builds the fixtures of tests/encode/test_clip.c: small random-weight CLIP and SigLIP models made
from torch building blocks (nn.Conv2d, nn.LayerNorm, nn.Linear, explicit attention and
nn.MultiheadAttention), saved as Hugging Face folders (model.safetensors written by hand,
config.json, preprocessor_config.json, vocab.json + merges.txt or tokenizer.json), test images,
and every expected output computed in float64: the selected hidden layer, the per-patch and pooled
joint-space embeddings, text embeddings. Also a small trained BPE vocabulary with the token ids of
tricky strings from an independent regex-based tokenizer, resize references from torch's
antialiased interpolation, and broken model folders for the error paths. LLaVA folders (single file
and sharded through model.safetensors.index.json, both tensor namings) with the reference of
transformers' LlavaForConditionalGeneration.get_image_features: the vision tower's hidden state at
vision_feature_layer, the class token dropped ("default") or kept ("full"), then the projector
linear_1 -> exact GELU -> linear_2.

Usage: gen_clip.py OUTDIR [STAMP]   (needs Debian's python3-torch: run with /usr/bin/python3)
"""
import json
import math
import os
import re
import struct
import sys
import unicodedata

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
RNG = np.random.default_rng(7)

# ---------------------------------------------------------------------------------------------
# Tokenizer: CLIP's byte-level BPE, written from its description, with a real regex engine for the
# pre-tokenizer (Python's re, character classes built from unicodedata) so that the C scanner is
# checked against regex alternation semantics rather than against a copy of itself.


def bytes_to_unicode():
    printable = (list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100)))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHARS = bytes_to_unicode()
WHITE_SPACE = ([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B)) +
               [0x2028, 0x2029, 0x202F, 0x205F, 0x3000])


def char_class(pred):
    parts, start = [], None
    for cp in range(0x110001):
        ok = cp < 0x110000 and pred(cp)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            lo, hi = start, cp - 1
            parts.append(esc(lo) if lo == hi else esc(lo) + "-" + esc(hi))
            start = None
    return "".join(parts)


def esc(cp):
    return "\\U%08x" % cp


LETTERS = char_class(lambda c: unicodedata.category(chr(c)).startswith("L"))
NUMBERS = char_class(lambda c: unicodedata.category(chr(c)).startswith("N"))
SPACES = "".join(esc(c) for c in WHITE_SPACE)
PATTERN = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[%s]+|[%s]|[^%s%s%s]+" %
    (LETTERS, NUMBERS, SPACES, LETTERS, NUMBERS))


def normalise(text):
    # per-character lowercase (no final-sigma context), as the C tokenizer documents
    return "".join(ch.lower() for ch in text)


def pieces(text):
    return PATTERN.findall(normalise(text))


def word_symbols(piece):
    chars = [BYTE_CHARS[b] for b in piece.encode("utf-8")]
    return chars[:-1] + [chars[-1] + "</w>"]


def train_bpe(corpus, merges_wanted):
    words = {}
    for line in corpus:
        for p in pieces(line):
            w = tuple(word_symbols(p))
            words[w] = words.get(w, 0) + 1
    merges = []
    for _ in range(merges_wanted):
        counts = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + n
        if not counts:
            break
        best = max(sorted(counts), key=lambda k: counts[k])
        merges.append(best)
        new = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + n
        words = new
    base = list(BYTE_CHARS.values())
    vocab = base + [c + "</w>" for c in base] + [a + b for a, b in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab)}, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.bos = vocab["<|startoftext|>"]
        self.eos = vocab["<|endoftext|>"]

    def bpe(self, piece):
        w = word_symbols(piece)
        while len(w) > 1:
            pairs = [(self.ranks.get((a, b), math.inf), a, b) for a, b in zip(w, w[1:])]
            rank, a, b = min(pairs, key=lambda p: p[0])
            if rank == math.inf:
                break
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w = out
        return [self.vocab.get(s, self.eos) for s in w]

    def encode(self, text):
        ids = []
        for p in pieces(text):
            ids += self.bpe(p)
        return ids


CORPUS = [
    "a photo of a cat sitting on the red sofa",
    "a photo of a dog running in the green park",
    "the quick brown fox jumps over the lazy dog",
    "two people walking along the beach at sunset",
    "a car parked next to a building in the city",
    "don't stop, it's the last train! we'll see you're right",
    "numbers 0 1 2 3 4 5 6 7 8 9 and 3.14159",
    "naïve café, résumé and Ünïcödé in the title",
    "traffic camera: person crossing the street at night",
    "a bird on a branch; a boat on the river",
] * 3

# Tricky strings for the tokenizer test: unicode, punctuation, contractions, digits, spaces of all
# kinds, control characters, special-token spellings as plain text.
TRICKY = [
    "A photo of a cat.",
    "Don't STOP, it's 3.14159!!",
    "naïve café \u2013 Ünïcödé",
    "日本語のテキスト 123",
    "emoji \U0001F600\U0001F44D\U0001F3FD ok",
    "İstanbul ΣΊΣΥΦΟΣ",
    "tab\tnew\nline  spaces\u00a0nbsp\u3000ideographic",
    "'s'll'd 'tis rock'n'roll O'NEIL",
    "<|endoftext|> injected <|startoftext|>",
    "",
    "x\u00b2\u00b3 \u00bd \u2177 \u0663\u0664",
    "ctrl\x00\x01\x7f chars",
    "...!!!???,,, ;; -- __",
    "the quick brown fox " * 8,
]

# ---------------------------------------------------------------------------------------------
# Models from torch building blocks, attribute names chosen so state_dict() keys are the Hugging
# Face tensor names.


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


class Attention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)

    def forward(self, x, causal):
        b, t, h = x.shape
        dh = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, dh).transpose(1, 2)

        q = split(self.q_proj(x)) * dh ** -0.5
        k, v = split(self.k_proj(x)), split(self.v_proj(x))
        scores = q @ k.transpose(-1, -2)
        if causal:
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
            scores = scores.masked_fill(mask, float("-inf"))
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        return self.out_proj(out)


class MLP(nn.Module):
    def __init__(self, hidden, inter, act):
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(hidden, inter)
        self.fc2 = nn.Linear(inter, hidden)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(c["hidden"], eps=c["eps"])
        self.self_attn = Attention(c["hidden"], c["heads"])
        self.layer_norm2 = nn.LayerNorm(c["hidden"], eps=c["eps"])
        self.mlp = MLP(c["hidden"], c["inter"], c["act"])

    def forward(self, x, causal=False):
        x = x + self.self_attn(self.layer_norm1(x), causal)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["layers"])])

    def forward(self, x, causal=False):
        states = [x]
        for layer in self.layers:
            x = layer(x, causal)
            states.append(x)
        return states


class Embeddings(nn.Module):
    def __init__(self, c, siglip):
        super().__init__()
        h, p = c["hidden"], c["patch"]
        self.siglip = siglip
        if not siglip:
            self.class_embedding = nn.Parameter(torch.randn(h))
        self.patch_embedding = nn.Conv2d(3, h, p, stride=p, bias=siglip)
        g = c["image"] // p
        self.position_embedding = nn.Embedding(g * g + (0 if siglip else 1), h)

    def forward(self, pixels):
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        pos = self.position_embedding.weight
        cls = 0 if self.siglip else 1
        g0 = math.isqrt(pos.shape[0] - cls)
        g = math.isqrt(x.shape[1])
        if g != g0:  # what transformers' interpolate_pos_encoding does
            grid = pos[cls:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(g, g), mode="bicubic", align_corners=False)
            pos = torch.cat([pos[:cls], grid.permute(0, 2, 3, 1).reshape(g * g, -1)])
        if not self.siglip:
            x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], dim=1)
        return x + pos


class Head(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.probe = nn.Parameter(torch.randn(1, 1, h))
        self.attention = nn.MultiheadAttention(h, c["heads"], batch_first=True)
        self.layernorm = nn.LayerNorm(h, eps=c["eps"])
        self.mlp = MLP(h, c["inter"], c["act"])

    def forward(self, x):
        y = self.attention(self.probe.expand(x.shape[0], 1, -1), x, x)[0]
        y = y + self.mlp(self.layernorm(y))
        return y[:, 0]

    def per_patch(self, x):
        """The head with each patch attending to itself alone: value and output projections, then
        the residual MLP (what scriptd uses as per-patch joint-space embeddings)."""
        h = x.shape[-1]
        wv, bv = self.attention.in_proj_weight[2 * h:], self.attention.in_proj_bias[2 * h:]
        y = self.attention.out_proj(F.linear(x, wv, bv))
        return y + self.mlp(self.layernorm(y))


class Vision(nn.Module):
    def __init__(self, c, siglip):
        super().__init__()
        self.siglip = siglip
        self.embeddings = Embeddings(c, siglip)
        if not siglip:
            self.pre_layrnorm = nn.LayerNorm(c["hidden"], eps=c["eps"])
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden"], eps=c["eps"])
        if siglip:
            self.head = Head(c)

    def forward(self, pixels):
        x = self.embeddings(pixels)
        if not self.siglip:
            x = self.pre_layrnorm(x)
        states = self.encoder(x)
        return states, self.post_layernorm(states[-1])


class TextEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = nn.Embedding(c["vocab"], c["hidden"])
        self.position_embedding = nn.Embedding(c["context"], c["hidden"])

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding.weight[:ids.shape[1]]


class Text(nn.Module):
    def __init__(self, c, siglip):
        super().__init__()
        self.siglip = siglip
        self.embeddings = TextEmbeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden"], eps=c["eps"])
        if siglip:
            self.head = nn.Linear(c["hidden"], c["projection"])

    def forward(self, ids, eos_id):
        x = self.final_layer_norm(self.encoder(self.embeddings(ids), causal=not self.siglip)[-1])
        if self.siglip:
            return self.head(x[:, -1])
        at = (ids[0] == eos_id).nonzero()[0, 0]  # transformers: first end token
        return x[:, at]


class Model(nn.Module):
    def __init__(self, vc, tc, siglip, projection):
        super().__init__()
        self.siglip = siglip
        self.vision_model = Vision(vc, siglip)
        if tc is not None:
            self.text_model = Text(tc, siglip)
        if not siglip and projection:
            self.visual_projection = nn.Linear(vc["hidden"], projection, bias=False)
            if tc is not None:
                self.text_projection = nn.Linear(tc["hidden"], projection, bias=False)
        if tc is not None:
            self.logit_scale = nn.Parameter(torch.tensor(2.6592))


class Projector(nn.Module):
    """LlavaMultiModalProjector: linear_1 -> GELU (exact, erf) -> linear_2."""

    def __init__(self, h, d, bias):
        super().__init__()
        self.linear_1 = nn.Linear(h, d, bias=bias)
        self.linear_2 = nn.Linear(d, d, bias=bias)

    def forward(self, x):
        return self.linear_2(F.gelu(self.linear_1(x)))


class VisionTower(nn.Module):
    """CLIPVisionModel / SiglipVisionModel: the transformer under .vision_model."""

    def __init__(self, vc, siglip):
        super().__init__()
        self.vision_model = Vision(vc, siglip)


class Llava(nn.Module):
    def __init__(self, vc, d, bias, siglip=False):
        super().__init__()
        self.vision_tower = VisionTower(vc, siglip)
        self.multi_modal_projector = Projector(vc["hidden"], d, bias)

    def image_features(self, px, layer, strategy, project=True):
        states, _ = self.vision_tower.vision_model(px)
        x = states[layer][0]
        if strategy == "default":
            x = x[1:]
        return self.multi_modal_projector(x) if project else x


def randomise(model):
    """Weights with unit-scale activations so every op matters (not near-identity layers)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif p.dim() >= 2 and "embedding" not in name and "probe" not in name:
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) * (1.5 / math.sqrt(fan_in)))
            else:
                p.copy_(0.5 * torch.randn_like(p))


# ---------------------------------------------------------------------------------------------
# Files


def round_to(t, dtype):
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float64)
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float64)
    return t.to(torch.float32).to(torch.float64)


def tensor_bytes(t, dtype):
    if dtype == "F16":
        return t.to(torch.float16).numpy().tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    if dtype == "I32":
        return t.to(torch.int32).numpy().tobytes()
    return t.to(torch.float32).numpy().tobytes()


def write_safetensors(path, tensors, truncate=0):
    """tensors: list of (name, torch tensor, dtype). 8-byte LE header length + JSON + data."""
    header, blobs, offset = {}, [], 0
    for name, t, dtype in tensors:
        data = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    image = struct.pack("<Q", len(h)) + h + b"".join(blobs)
    with open(path, "wb") as f:
        f.write(image[:len(image) - truncate] if truncate else image)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)


def write_npy(path, a):
    np.save(path, np.ascontiguousarray(np.asarray(a, dtype=np.float32)))


def write_tokenizer(dirpath, vocab, merges, as_json):
    if not as_json:
        write_json(os.path.join(dirpath, "vocab.json"), vocab)
        with open(os.path.join(dirpath, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in merges:
                f.write(f"{a} {b}\n")
        return
    added = [{"id": vocab[t], "content": t, "special": True}
             for t in ("<|startoftext|>", "<|endoftext|>")]
    write_json(os.path.join(dirpath, "tokenizer.json"), {
        "version": "1.0",
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "model": {"type": "BPE", "vocab": vocab, "merges": [[a, b] for a, b in merges],
                  "end_of_word_suffix": "</w>", "unk_token": "<|endoftext|>"},
    })


def config_json(name, siglip, vc, tc, projection, vision_only=False):
    act = "gelu_pytorch_tanh" if siglip else "quick_gelu"
    vision = {"hidden_size": vc["hidden"], "intermediate_size": vc["inter"],
              "num_attention_heads": vc["heads"], "num_hidden_layers": vc["layers"],
              "image_size": vc["image"], "patch_size": vc["patch"], "hidden_act": act,
              "layer_norm_eps": vc["eps"]}
    if vision_only:
        return dict(vision, model_type=("siglip" if siglip else "clip") + "_vision_model")
    text = {"hidden_size": tc["hidden"], "intermediate_size": tc["inter"],
            "num_attention_heads": tc["heads"], "num_hidden_layers": tc["layers"],
            "vocab_size": tc["vocab"], "max_position_embeddings": tc["context"],
            "hidden_act": act, "layer_norm_eps": tc["eps"], "bos_token_id": tc["bos"],
            "eos_token_id": tc["eos"], "pad_token_id": tc["pad"]}
    if siglip:
        text["projection_size"] = projection
        return {"model_type": "siglip", "text_config": text, "vision_config": vision}
    return {"model_type": "clip", "projection_dim": projection, "text_config": text, "vision_config": vision,
            "_name_or_path": name}


def preprocessor_json(siglip, image):
    if siglip:
        return {"image_processor_type": "SiglipImageProcessor", "do_resize": True,
                "size": {"height": image, "width": image}, "resample": 3, "do_rescale": True,
                "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5]}
    return {"image_processor_type": "CLIPImageProcessor", "do_resize": True,
            "size": {"shortest_edge": image}, "resample": 3, "do_center_crop": True,
            "crop_size": {"height": image, "width": image}, "do_rescale": True,
            "rescale_factor": 1 / 255, "do_normalize": True,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711]}


def make_image(w, h, seed):
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 100 * np.sin(xx / 5.0 + c) * np.cos(yy / 7.0 - c) for c in range(3)], -1)
    img = np.clip(base + r.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    return img


def pixels(img, mean, std):
    x = torch.tensor(img, dtype=torch.float64).permute(2, 0, 1)[None] / 255.0
    m = torch.tensor(mean, dtype=torch.float64)[None, :, None, None]
    s = torch.tensor(std, dtype=torch.float64)[None, :, None, None]
    return (x - m) / s


# ---------------------------------------------------------------------------------------------


def build_model(spec, tok):
    siglip = spec["siglip"]
    act = gelu_tanh if siglip else quick_gelu
    vc = dict(spec["vision"], act=act)
    tc = None
    if not spec.get("vision_only"):
        tc = dict(spec["text"], act=act, vocab=len(tok.vocab), bos=tok.bos, eos=tok.eos, pad=tok.eos,
                  projection=spec.get("projection", 0))
    model = Model(vc, tc, siglip, spec.get("projection", 0)).double()
    randomise(model)
    dtype = spec["dtype"]
    tensors = []
    with torch.no_grad():
        for name, p in model.state_dict().items():
            tensors.append((name, p.clone(), dtype))
            p.copy_(round_to(p, dtype))  # the reference runs on exactly the stored values
    return model, vc, tc, tensors


def run_vision(model, px, layer_index):
    with torch.no_grad():
        states, post = model.vision_model(px)
        cls = 0 if model.siglip else 1
        tokens = states[layer_index][0, cls:]
        if model.siglip:
            embed = model.vision_model.head.per_patch(post)[0]
            pooled = model.vision_model.head(post)[0]
        elif hasattr(model, "visual_projection"):
            embed = model.visual_projection(post[0, 1:])
            pooled = model.visual_projection(post[0, 0])
        else:
            embed, pooled = post[0, 1:], post[0, 0]
    return tokens, embed, pooled


def run_text(model, ids, tc):
    with torch.no_grad():
        if model.siglip:
            ids = ids + [tc["pad"]] * (tc["context"] - len(ids))
        t = torch.tensor([ids])
        y = model.text_model(t, tc["eos"])
        if not model.siglip:
            y = model.text_projection(y)
    return y[0]


LLAVA_SPECS = [
    # name, dtype, architecture, tensor lead, feature layer, strategy, projector bias, shards
    dict(name="llava_f32", dtype="F32", arch="LlavaForConditionalGeneration", lead="",
         layer=-2, strategy="default", bias=True, shards=0),
    dict(name="llava_f16_sharded", dtype="F16", arch="LlavaForConditionalGeneration", lead="model.",
         layer=1, strategy="full", bias=True, shards=3),
    dict(name="llava_next_bf16_sharded", dtype="BF16", arch="LlavaNextForConditionalGeneration",
         lead="", layer=-1, strategy="default", bias=False, shards=2),
    # a SigLIP tower (no class token: "full" keeps every patch), as llava-interleave uses
    dict(name="llava_siglip_f32", dtype="F32", arch="LlavaForConditionalGeneration", lead="",
         layer=-2, strategy="full", bias=True, shards=0, siglip=True),
]
# the same vision geometry as clip_f32 (32 px, 8 px patches): clip_f32 serves as the text model
LLAVA_VISION = dict(hidden=32, inter=64, heads=4, layers=3, image=32, patch=8, eps=1e-5)
LLAVA_TEXT_HIDDEN = 48


def llava_config(spec, vc):
    siglip = spec.get("siglip", False)
    vision = {"model_type": "siglip_vision_model" if siglip else "clip_vision_model",
              "hidden_size": vc["hidden"],
              "intermediate_size": vc["inter"], "num_attention_heads": vc["heads"],
              "num_hidden_layers": vc["layers"], "image_size": vc["image"], "patch_size": vc["patch"],
              "hidden_act": "gelu_pytorch_tanh" if siglip else "quick_gelu", "layer_norm_eps": vc["eps"],
              "projection_dim": 16}
    cfg = {"architectures": [spec["arch"]],
           "model_type": "llava_next" if "Next" in spec["arch"] else "llava",
           "vision_config": vision,
           "text_config": {"model_type": "llama", "hidden_size": LLAVA_TEXT_HIDDEN,
                           "num_hidden_layers": 2, "vocab_size": 64},
           "projector_hidden_act": "gelu", "vision_feature_layer": spec["layer"],
           "vision_feature_select_strategy": spec["strategy"], "image_token_index": 63}
    if not spec["bias"]:
        cfg["multimodal_projector_bias"] = False
    return cfg


def write_llava(mdir, spec, tensors, lm_garbage):
    """Single file, or shards with an index: vision tensors split over the shards, the language
    model in a shard of its own that is not a safetensors file at all (so the loader must not open
    it)."""
    os.makedirs(mdir, exist_ok=True)
    lm = [(spec["lead"] + ("language_model." if spec["lead"] else "language_model.model.") + "embed_tokens.weight",
           torch.randn(64, LLAVA_TEXT_HIDDEN, dtype=torch.float64), spec["dtype"])]
    if not spec["shards"]:
        write_safetensors(os.path.join(mdir, "model.safetensors"), tensors + lm)
        return
    k = spec["shards"]
    total = k + 1
    names = [f"model-{i + 1:05d}-of-{total:05d}.safetensors" for i in range(total)]
    weight_map = {}
    for i in range(k):
        part = tensors[i::k]
        write_safetensors(os.path.join(mdir, names[i]), part)
        for n, _, _ in part:
            weight_map[n] = names[i]
    with open(os.path.join(mdir, names[k]), "wb") as f:
        f.write(lm_garbage)
    for n, _, _ in lm:
        weight_map[n] = names[k]
    write_json(os.path.join(mdir, "model.safetensors.index.json"),
               {"metadata": {"total_size": 1}, "weight_map": weight_map})


def build_llava(out, manifest, clip_case):
    """LLaVA folders, their reference features and the broken variants."""
    for spec in LLAVA_SPECS:
        name, siglip = spec["name"], spec.get("siglip", False)
        vc = dict(LLAVA_VISION, act=gelu_tanh if siglip else quick_gelu, eps=1e-6 if siglip else 1e-5)
        pre = preprocessor_json(siglip, vc["image"])
        model = Llava(vc, LLAVA_TEXT_HIDDEN, spec["bias"], siglip).double()
        randomise(model)
        tensors = []
        with torch.no_grad():
            for n, p in model.state_dict().items():
                tensors.append((spec["lead"] + n, p.clone(), spec["dtype"]))
                p.copy_(round_to(p, spec["dtype"]))
        mdir = os.path.join(out, name)
        write_llava(mdir, spec, tensors, b"not a safetensors file: the language model's weights")
        write_json(os.path.join(mdir, "config.json"), llava_config(spec, vc))
        write_json(os.path.join(mdir, "preprocessor_config.json"), pre)
        L = vc["layers"]
        k = L + 1 + spec["layer"] if spec["layer"] < 0 else spec["layer"]
        entry = {"name": name, "dir": name, "layer": k, "cls": spec["strategy"] == "full" and not siglip,
                 "d": LLAVA_TEXT_HIDDEN, "h": vc["hidden"], "image_size": vc["image"], "cases": []}
        for i, seed in enumerate((21, 22)):
            img = make_image(32, 32, seed)
            base = f"{name}_i{i}"
            img.tofile(os.path.join(out, base + ".rgb"))
            np.save(os.path.join(out, base + ".npy"), img)
            px = pixels(img, pre["image_mean"], pre["image_std"])
            with torch.no_grad():
                tokens = model.image_features(px, k, spec["strategy"])
                feats = model.image_features(px, k, spec["strategy"], project=False)
            case = {"image": base + ".rgb", "npy": base + ".npy", "width": 32, "height": 32}
            for what, a in (("tokens", tokens), ("features", feats)):
                write_npy(os.path.join(out, f"{base}_{what}.npy"), a.numpy())
                case[what] = f"{base}_{what}.npy"
            entry["cases"].append(case)
        if name == "llava_f32":
            # clip_f32's vision tower on the same pixels: the joint space of text_model
            img = make_image(32, 32, clip_case["seed"])
            img.tofile(os.path.join(out, "llava_joint.rgb"))
            np.save(os.path.join(out, "llava_joint.npy"), img)
            with torch.no_grad():
                tokens = model.image_features(pixels(img, pre["image_mean"], pre["image_std"]), k,
                                              spec["strategy"])
            write_npy(os.path.join(out, "llava_joint_tokens.npy"), tokens.numpy())
            entry["joint"] = {"text_model": "clip_f32", "image": "llava_joint.rgb",
                              "npy": "llava_joint.npy", "width": 32, "height": 32,
                              "tokens": "llava_joint_tokens.npy", "embed": clip_case["embed"],
                              "pooled": clip_case["pooled"]}
            broken_llava(out, manifest, spec, vc, tensors, pre)
        manifest["llava"].append(entry)


def broken_llava(out, manifest, spec, vc, tensors, pre):
    def variant(vname, cfg=None, tensors_v=None, shards=0, drop_shard=False):
        d = os.path.join(out, vname)
        sp = dict(spec, shards=shards)
        write_llava(d, sp, tensors_v if tensors_v is not None else tensors, b"garbage")
        if drop_shard:
            os.remove(os.path.join(d, "model-00001-of-00003.safetensors"))
        write_json(os.path.join(d, "config.json"), cfg or llava_config(spec, vc))
        write_json(os.path.join(d, "preprocessor_config.json"), pre)
        return vname
    cfg = llava_config(spec, vc)
    cfg["projector_hidden_act"] = "relu"
    manifest["broken"].append({"dir": variant("broken_llava_act", cfg), "status": "unsupported",
                               "message": "projector_hidden_act 'relu' is not supported"})
    missing = "multi_modal_projector.linear_2.bias"
    manifest["broken"].append({"dir": variant("broken_llava_projector",
                                              tensors_v=[t for t in tensors if t[0] != missing]),
                               "status": "not-found", "message": missing})
    manifest["broken"].append({"dir": variant("broken_llava_shard", shards=2, drop_shard=True),
                               "status": "not-found",
                               "message": "names shard 'model-00001-of-00003.safetensors'"})
    cfg = llava_config(spec, vc)
    cfg["vision_feature_layer"] = [-2, -1]
    manifest["broken"].append({"dir": variant("broken_llava_layers", cfg), "status": "unsupported",
                               "message": "vision_feature_layer is a list"})
    cfg = llava_config(spec, vc)
    cfg["vision_config"]["model_type"] = "siglip_vision_model"
    manifest["broken"].append({"dir": variant("broken_llava_siglip_default", cfg),
                               "status": "unsupported", "message": "only 'full' is supported with SigLIP"})
    manifest["broken"].append({"dir": variant("broken_llava_no_tower",
                                              tensors_v=[t for t in tensors if "vision_tower" not in t[0]]),
                               "status": "not-found", "message": "no vision_tower.* tensors"})


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    vocab, merges = train_bpe(CORPUS, 300)
    tok = Tokenizer(vocab, merges)
    manifest = {"models": [], "tokenizer": {}, "resize": [], "broken": [], "llava": []}
    clip_case = None

    # tokenizer fixtures (shared vocabulary)
    tdir = os.path.join(out, "tokenizer")
    os.makedirs(tdir, exist_ok=True)
    write_tokenizer(tdir, vocab, merges, as_json=False)
    write_tokenizer(tdir, vocab, merges, as_json=True)
    manifest["tokenizer"] = {"dir": "tokenizer", "bos": tok.bos, "eos": tok.eos,
                             "cases": [{"text": t, "ids": tok.encode(t)} for t in TRICKY]}

    specs = [
        dict(name="clip_f32", siglip=False, dtype="F32", projection=20, tokenizer="files",
             vision=dict(hidden=32, inter=64, heads=4, layers=3, image=32, patch=8, eps=1e-5),
             text=dict(hidden=24, inter=48, heads=2, layers=2, context=16, eps=1e-5),
             runs=[dict(image_size=0, layer=-2, fit="auto",
                        images=[dict(w=32, h=32, seed=1), dict(w=48, h=32, seed=2, crop_x=8)]),
                   dict(image_size=0, layer=0, fit="auto", images=[dict(w=32, h=32, seed=3)]),
                   dict(image_size=0, layer=3, fit="auto", images=[dict(w=32, h=32, seed=4)])]),
        dict(name="clip_f16_interp", siglip=False, dtype="F16", projection=16, tokenizer="json",
             vision=dict(hidden=32, inter=64, heads=4, layers=2, image=32, patch=8, eps=1e-5),
             text=dict(hidden=32, inter=64, heads=4, layers=2, context=20, eps=1e-5),
             runs=[dict(image_size=48, layer=-2, fit="letterbox",
                        images=[dict(w=48, h=24, seed=5, letterbox_y=8), dict(w=48, h=48, seed=6)])]),
        dict(name="siglip_bf16", siglip=True, dtype="BF16", projection=32, tokenizer="files",
             vision=dict(hidden=32, inter=80, heads=4, layers=2, image=36, patch=8, eps=1e-6),
             text=dict(hidden=40, inter=64, heads=4, layers=2, context=12, eps=1e-6),
             # 36 px with 8 px patches: a 4 x 4 grid, the last 4 pixels unseen (valid conv)
             runs=[dict(image_size=0, layer=-1, fit="auto", images=[dict(w=36, h=36, seed=7)]),
                   dict(image_size=48, layer=1, fit="auto", images=[dict(w=48, h=48, seed=8)])]),
        dict(name="clip_vision_only", siglip=False, dtype="F32", vision_only=True,
             vision=dict(hidden=24, inter=48, heads=2, layers=2, image=24, patch=8, eps=1e-5),
             runs=[dict(image_size=0, layer=-2, fit="auto", images=[dict(w=24, h=24, seed=9)])]),
    ]
    for spec in specs:
        name, siglip = spec["name"], spec["siglip"]
        mdir = os.path.join(out, name)
        os.makedirs(mdir, exist_ok=True)
        model, vc, tc, tensors = build_model(spec, tok)
        write_safetensors(os.path.join(mdir, "model.safetensors"), tensors)
        write_json(os.path.join(mdir, "config.json"),
                   config_json(name, siglip, vc, tc, spec.get("projection", 0), spec.get("vision_only", False)))
        pre = preprocessor_json(siglip, vc["image"])
        write_json(os.path.join(mdir, "preprocessor_config.json"), pre)
        if tc is not None:
            write_tokenizer(mdir, vocab, merges, as_json=spec["tokenizer"] == "json")
        entry = {"name": name, "dir": name, "has_text": tc is not None, "runs": [], "texts": [], "ids": []}
        mean, std = pre["image_mean"], pre["image_std"]
        for r, run in enumerate(spec["runs"]):
            S = run["image_size"] or vc["image"]
            L = vc["layers"]
            k = L + 1 + run["layer"] if run["layer"] < 0 else run["layer"]
            rentry = {"image_size": run["image_size"], "layer": run["layer"], "fit": run["fit"], "cases": []}
            for i, im in enumerate(run["images"]):
                img = make_image(im["w"], im["h"], im["seed"])
                base = f"{name}_r{r}_i{i}"
                img.tofile(os.path.join(out, base + ".rgb"))
                if "crop_x" in im:
                    view = img[:, im["crop_x"]:im["crop_x"] + S]
                    px = pixels(view, mean, std)
                elif "letterbox_y" in im:
                    px = torch.zeros(1, 3, S, S, dtype=torch.float64)
                    y0 = im["letterbox_y"]
                    px[:, :, y0:y0 + im["h"], :] = pixels(img, mean, std)
                else:
                    px = pixels(img, mean, std)
                tokens, embed, pooled = run_vision(model, px, k)
                for what, a in (("tokens", tokens), ("embed", embed), ("pooled", pooled)):
                    write_npy(os.path.join(out, f"{base}_{what}.npy"), a.numpy())
                if name == "clip_f32" and r == 0 and i == 0:
                    clip_case = {"seed": im["seed"], "embed": base + "_embed.npy",
                                 "pooled": base + "_pooled.npy"}
                rentry["cases"].append({"image": base + ".rgb", "width": im["w"], "height": im["h"],
                                        "tokens": base + "_tokens.npy", "embed": base + "_embed.npy",
                                        "pooled": base + "_pooled.npy"})
            entry["runs"].append(rentry)
        if tc is not None:
            texts = ["a photo of a cat", "Don't STOP, it's 3.14159!!", "naïve café",
                     "the quick brown fox jumps over the lazy dog " * 3]
            for j, t in enumerate(texts):
                body = tok.encode(t)
                # A text longer than the context is encoded in consecutive segments of one
                # context each (start and end tokens included), one row per segment, as the
                # published Script code splits long questions.
                room = tc["context"] - 1 if siglip else tc["context"] - 2
                rows = []
                for at in range(0, max(len(body), 1), room):
                    seg = body[at:at + room]
                    ids = seg + [tok.eos] if siglip else [tok.bos] + seg + [tok.eos]
                    rows.append(run_text(model, ids, tc).reshape(-1))
                y = torch.stack(rows)
                f = f"{name}_text{j}.npy"
                write_npy(os.path.join(out, f), y.numpy())
                entry["texts"].append({"text": t, "embedding": f, "segments": len(rows)})
            ids = [tok.bos, 5, 77, 300, tok.eos] if not siglip else [5, 77, 300, 12, tok.eos]
            y = run_text(model, ids, tc)
            f = f"{name}_ids.npy"
            write_npy(os.path.join(out, f), y.numpy())
            entry["ids"].append({"ids": ids, "embedding": f})
        manifest["models"].append(entry)

        if name == "clip_f32":
            # broken variants for the error paths
            def variant(vname, tensors_v, config_v=None, truncate=0):
                d = os.path.join(out, vname)
                os.makedirs(d, exist_ok=True)
                write_safetensors(os.path.join(d, "model.safetensors"), tensors_v, truncate)
                write_json(os.path.join(d, "config.json"),
                           config_v or config_json(name, siglip, vc, tc, spec["projection"]))
                write_json(os.path.join(d, "preprocessor_config.json"), pre)
                write_tokenizer(d, vocab, merges, as_json=False)
                return vname
            missing = "vision_model.encoder.layers.1.mlp.fc2.bias"
            manifest["broken"].append({"dir": variant("broken_missing", [t for t in tensors if t[0] != missing]),
                                       "status": "not-found", "message": missing})
            cfg = config_json(name, siglip, vc, tc, spec["projection"])
            cfg["vision_config"]["intermediate_size"] = 80
            manifest["broken"].append({"dir": variant("broken_shape", tensors, cfg), "status": "format",
                                       "message": "has shape [64, 32] but config.json implies [80, 32]"})
            bad = [(n, t, "I32" if n == "vision_model.post_layernorm.weight" else d) for n, t, d in tensors]
            manifest["broken"].append({"dir": variant("broken_dtype", bad), "status": "unsupported",
                                       "message": "dtype I32"})
            manifest["broken"].append({"dir": variant("broken_truncated", tensors, truncate=100),
                                       "status": "format", "message": "model.safetensors"})
            cfg = config_json(name, siglip, vc, tc, spec["projection"])
            cfg["model_type"] = "bert"
            manifest["broken"].append({"dir": variant("broken_type", tensors, cfg), "status": "unsupported",
                                       "message": "model_type 'bert'"})
            cfg = config_json(name, siglip, vc, tc, spec["projection"])
            cfg["vision_config"]["num_attention_heads"] = 5
            manifest["broken"].append({"dir": variant("broken_heads", tensors, cfg), "status": "format",
                                       "message": "not a multiple of num_attention_heads 5"})
            cfg = config_json(name, siglip, vc, tc, spec["projection"])
            cfg["vision_config"]["layer_norm_eps"] = 1e-50  # above 0 as a double, 0 as a float
            manifest["broken"].append({"dir": variant("broken_eps", tensors, cfg), "status": "format",
                                       "message": "layer_norm_eps must be a number in (0, 1) as a float32"})

    build_llava(out, manifest, clip_case)

    # resize references: torch's antialiased interpolation (PIL's filters)
    img = make_image(97, 61, 11)
    img.tofile(os.path.join(out, "resize_src.rgb"))
    x = torch.tensor(img, dtype=torch.float64).permute(2, 0, 1)[None]
    for mode in ("bilinear", "bicubic"):
        for size in (40, 150):
            y = F.interpolate(x, size=(size, size), mode=mode, antialias=True, align_corners=False)
            f = f"resize_{mode}_{size}.npy"
            write_npy(os.path.join(out, f), y[0].reshape(3, -1).numpy())
            manifest["resize"].append({"mode": mode, "size": size, "expected": f})
    manifest["resize_src"] = {"image": "resize_src.rgb", "width": 97, "height": 61}
    write_json(os.path.join(out, "manifest.json"), manifest)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write("generated\n")


if __name__ == "__main__":
    main()

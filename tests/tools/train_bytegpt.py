#!/usr/bin/python3
"""Trains the byte-level GPT fixture and exports it to ONNX.

Run with Debian's interpreter from the repository root (the pyenv python3
on PATH lacks these packages); CI never runs it, the outputs are committed:

    apt-get install python3-torch python3-onnx python3-numpy
    /usr/bin/python3 tests/tools/train_bytegpt.py

The training text is /usr/share/common-licenses/GPL-3 (package base-files,
35,149 bytes; its SHA-256 is checked so another text is never used
silently). The model is a decoder-only transformer on bytes: vocabulary
256, context 128, 2 pre-LayerNorm blocks of width 128 with 4 heads, exact
GELU MLP, untied head; about 0.45M parameters. Training is seeded, runs on
one thread with torch.use_deterministic_algorithms, so a rerun with the
same versions gives the same weights.

Writes into tests/data/bytegpt/:
  bytegpt.onnx        forward: idx [batch, seq] int64 -> logits
                      [batch, seq, 256]; batch and seq dynamic (import with
                      --dim batch=1 --dim seq=N)
  bytegpt_kv.onnx     the same weights with a KV cache: inputs idx [batch,
                      seq] and past_key_values.L.key / .value [batch, 4,
                      past, 32] for each layer L; outputs logits and
                      present.L.key / .value [batch, 4, past + seq, 32]
                      (import with --dim past=P as well)
  prompt.txt          the fixed prompt (bytes are the token ids)
  prompt.logits.npy   PyTorch's logits of the prompt, [1, len, 256] float32
  greedy.tokens.npy   PyTorch's greedy continuation: N_NEW token ids
                      (int64), each the argmax of the last position's
                      logits over the whole sequence so far (no cache)
  greedy.txt          the same bytes as text
  greedy.margins.npy  for each step, the gap between the largest and the
                      second largest logit (float32), so a test can see
                      that no argmax is a near tie
  kv_step.*           one decode step of the KV model (see kv_step below)
"""
import hashlib
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "bytegpt")
TEXT = "/usr/share/common-licenses/GPL-3"
TEXT_SHA256 = \
    "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986"

LAYERS, D, HEADS, CONTEXT, VOCAB = 2, 128, 4, 128, 256
STEPS, BATCH, LR = 1000, 16, 3e-3
PROMPT = b"This program is free software: you can "
N_NEW = 64


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.register_buffer(
            "mask",
            torch.tril(torch.ones(CONTEXT, CONTEXT)).view(1, 1, CONTEXT,
                                                         CONTEXT))

    def forward(self, t, past_k=None, past_v=None):
        b, n, c = t.size()
        q, k, v = self.qkv(t).split(c, dim=2)
        h = HEADS
        q = q.view(b, n, h, c // h).transpose(1, 2)
        k = k.view(b, n, h, c // h).transpose(1, 2)
        v = v.view(b, n, h, c // h).transpose(1, 2)
        if past_k is not None:
            p = past_k.size(2)
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        else:
            p = 0
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = self.mask[:, :, p:p + n, :p + n]
        att = att.masked_fill(mask == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        out = (att @ v).transpose(1, 2).contiguous().view(b, n, c)
        return self.proj(out), k, v


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.attn = Attention()
        self.ln2 = nn.LayerNorm(D)
        self.fc = nn.Linear(D, 4 * D)
        self.out = nn.Linear(4 * D, D)

    def forward(self, t, past_k=None, past_v=None):
        a, k, v = self.attn(self.ln1(t), past_k, past_v)
        t = t + a
        return t + self.out(F.gelu(self.fc(self.ln2(t)))), k, v


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D)
        self.wpe = nn.Embedding(CONTEXT, D)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, VOCAB, bias=False)

    def run(self, idx, past):
        b, n = idx.size()
        p = 0 if past is None else past[0].size(2)
        pos = torch.arange(p, p + n, dtype=torch.long).unsqueeze(0)
        t = self.wte(idx) + self.wpe(pos)
        present = []
        for i, blk in enumerate(self.blocks):
            if past is None:
                t, k, v = blk(t)
            else:
                t, k, v = blk(t, past[2 * i], past[2 * i + 1])
            present += [k, v]
        return self.head(self.ln_f(t)), present

    def forward(self, idx):
        return self.run(idx, None)[0]


class GPTWithCache(nn.Module):
    """The same weights, taking and returning the KV cache explicitly."""
    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, idx, *past):
        logits, present = self.gpt.run(idx, list(past))
        return (logits, *present)


def text_bytes():
    data = open(TEXT, "rb").read()
    got = hashlib.sha256(data).hexdigest()
    if got != TEXT_SHA256:
        sys.exit("%s has SHA-256 %s, not the expected %s" %
                 (TEXT, got, TEXT_SHA256))
    return torch.tensor(list(data), dtype=torch.long)


def train(model, data):
    g = torch.Generator().manual_seed(1234)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    model.train()
    t0 = time.time()
    loss = None
    for step in range(STEPS):
        lr = LR * min(1.0, (step + 1) / 50) * \
            0.5 * (1 + math.cos(math.pi * step / STEPS))
        for grp in opt.param_groups:
            grp["lr"] = lr
        ix = torch.randint(0, len(data) - CONTEXT - 1, (BATCH,), generator=g)
        x = torch.stack([data[i:i + CONTEXT] for i in ix])
        y = torch.stack([data[i + 1:i + CONTEXT + 1] for i in ix])
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, VOCAB), y.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == STEPS - 1:
            print("step %4d  loss %.4f  %.0f s" %
                  (step, loss.item(), time.time() - t0), flush=True)
    model.eval()
    with torch.no_grad():
        n = (len(data) - 1) // CONTEXT
        x = data[:n * CONTEXT].view(n, CONTEXT)
        y = data[1:n * CONTEXT + 1].view(n, CONTEXT)
        full = F.cross_entropy(model(x).view(-1, VOCAB), y.reshape(-1))
    return time.time() - t0, loss.item(), full.item()


def greedy(model, prompt):
    """PyTorch's own greedy loop: the whole sequence each step, no cache."""
    seq = list(prompt)
    toks, margins = [], []
    with torch.no_grad():
        for _ in range(N_NEW):
            logits = model(torch.tensor([seq], dtype=torch.long))[0, -1]
            top = torch.topk(logits, 2).values
            nxt = int(torch.argmax(logits))
            toks.append(nxt)
            margins.append(float(top[0] - top[1]))
            seq.append(nxt)
    return toks, margins


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(2026)
    os.makedirs(OUT, exist_ok=True)
    data = text_bytes()
    model = GPT()
    nparam = sum(p.numel() for p in model.parameters())
    print("parameters %d" % nparam)
    secs, last, full = train(model, data)
    print("trained in %.0f s: last batch loss %.4f, loss on the whole text "
          "%.4f" % (secs, last, full))

    prompt = torch.tensor([list(PROMPT)], dtype=torch.long)
    with open(os.path.join(OUT, "prompt.txt"), "wb") as f:
        f.write(PROMPT)
    with torch.no_grad():
        np.save(os.path.join(OUT, "prompt.logits.npy"),
                model(prompt).numpy().astype(np.float32))
    toks, margins = greedy(model, PROMPT)
    np.save(os.path.join(OUT, "greedy.tokens.npy"),
            np.array(toks, dtype=np.int64))
    np.save(os.path.join(OUT, "greedy.margins.npy"),
            np.array(margins, dtype=np.float32))
    with open(os.path.join(OUT, "greedy.txt"), "wb") as f:
        f.write(bytes(toks))
    print("greedy: %r" % bytes(toks))
    print("smallest argmax margin %.4g" % min(margins))

    torch.onnx.export(model, (prompt,), os.path.join(OUT, "bytegpt.onnx"),
                      opset_version=13, input_names=["idx"],
                      output_names=["logits"],
                      dynamic_axes={"idx": {0: "batch", 1: "seq"},
                                    "logits": {0: "batch", 1: "seq"}})

    # KV-cache export, traced on a prompt split in two so past and seq
    # are both non-empty; every cache axis is symbolic.
    kv = GPTWithCache(model).eval()
    split = 8
    with torch.no_grad():
        _, past = model.run(prompt[:, :split], None)
    names_in, names_out, axes = ["idx"], ["logits"], {
        "idx": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            pi = "past_key_values.%d.%s" % (i, kind)
            po = "present.%d.%s" % (i, kind)
            names_in.append(pi)
            names_out.append(po)
            axes[pi] = {0: "batch", 2: "past"}
            axes[po] = {0: "batch", 2: "total"}
    torch.onnx.export(kv, (prompt[:, split:], *past),
                      os.path.join(OUT, "bytegpt_kv.onnx"), opset_version=13,
                      input_names=names_in, output_names=names_out,
                      dynamic_axes=axes)

    # One decode step of the KV model as a test case: the cache of the
    # prompt, the first greedy token as input; the step's outputs.
    with torch.no_grad():
        _, past = model.run(prompt, None)
        outs = kv(torch.tensor([[toks[0]]], dtype=torch.long), *past)
    np.save(os.path.join(OUT, "kv_step.in0.npy"),
            np.array([[toks[0]]], dtype=np.int64))
    for i, a in enumerate(past):
        np.save(os.path.join(OUT, "kv_step.in%d.npy" % (i + 1)),
                a.numpy().astype(np.float32))
    for i, a in enumerate(outs):
        np.save(os.path.join(OUT, "kv_step.out%d.npy" % i),
                a.numpy().astype(np.float32))
    for name in ("bytegpt.onnx", "bytegpt_kv.onnx"):
        print("%s: %d bytes" % (name,
                                os.path.getsize(os.path.join(OUT, name))))


if __name__ == "__main__":
    main()

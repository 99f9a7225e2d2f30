#!/usr/bin/python3
"""bench/ort/export_models.py OUTDIR - the models of issue 12 as a new user
exports them: torch.onnx.export of PyTorch modules (opset 17), one input
each as a .npy file from a fixed seed. Needs /usr/bin/python3 with Debian's
python3-torch and python3-numpy (not a dependency of Refute itself)."""
import os
import sys

import numpy as np
import torch
from torch import nn

torch.manual_seed(12)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        w = [784, 1024, 1024, 1024, 10]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(w, w[1:]))

    def forward(self, x):
        for i, l in enumerate(self.layers):
            x = l(x)
            if i + 1 < len(self.layers):
                x = torch.relu(x)
        return x


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.c3 = nn.Conv2d(64, 128, 3, padding=1)
        self.fc = nn.Linear(128 * 8 * 8, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.c2(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.c3(x)), 2)
        return self.fc(torch.flatten(x, 1))


class Block(nn.Module):
    def __init__(self, d, heads, seq):
        super().__init__()
        self.d, self.h = d, heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        mask = torch.triu(torch.full((seq, seq), -1e9), 1)
        self.register_buffer("mask", mask)

    def forward(self, x):
        s, d, h = x.shape[0], self.d, self.h
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = q.reshape(s, h, d // h).transpose(0, 1)
        k = k.reshape(s, h, d // h).transpose(0, 1)
        v = v.reshape(s, h, d // h).transpose(0, 1)
        a = (q @ k.transpose(1, 2)) * (1.0 / (d // h) ** 0.5) + self.mask
        c = (torch.softmax(a, dim=-1) @ v).transpose(0, 1).reshape(s, d)
        x = x + self.proj(c)
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, d=256, heads=4, seq=128, layers=2):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(d, heads, seq)
                                      for _ in range(layers)])
        self.ln = nn.LayerNorm(d)

    def forward(self, x):
        return self.ln(self.blocks(x))


def export(name, model, shape):
    model.eval()
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, size=shape).astype(np.float32)
    np.save(os.path.join(out, name + ".in0.npy"), x)
    with torch.no_grad():
        torch.onnx.export(model, torch.from_numpy(x),
                          os.path.join(out, name + ".onnx"),
                          input_names=["x"], output_names=["y"],
                          opset_version=17)


export("mlp", Mlp(), (64, 784))
export("cnn", Cnn(), (8, 1, 64, 64))
export("gpt", Gpt(), (128, 256))

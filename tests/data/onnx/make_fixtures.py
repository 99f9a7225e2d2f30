#!/usr/bin/python3
"""Builds the ONNX fixtures of tests/engine/onnx_test.c.

Run with Debian's interpreter from the repository root (the pyenv python3
on PATH lacks these packages):

    apt-get install python3-onnx python3-numpy python3-torch python3-sklearn
    /usr/bin/python3 tests/data/onnx/make_fixtures.py [GROUP ...]

It writes, next to itself:

  real models, exported by torch.onnx.export as users produce them, with
  an input and the output PyTorch computes for it (float32):
    mlp_digits        MLP trained briefly on sklearn's digits (opset 13)
    mlp_dynbatch      the same with a symbolic batch dimension
    lenet_digits      LeNet-style CNN trained on the same 8x8 digits
                      (Conv, Relu, MaxPool, Flatten, Gemm; opset 11)
    gpt_op13          GPT-style block: token and position embeddings,
                      causal self-attention, LayerNorm and exact Gelu,
                      which opset 13 spells as ReduceMean, Pow, Sqrt, Erf
    gpt_op17          the same at opset 17 (LayerNormalization)
    gpt_op11          the same at opset 11 (Split and Squeeze attributes)
    gpt_nofold        opset 13 without PyTorch's constant folding, so the
                      importer must fold Constant/Slice/Equal/Cast/Unsqueeze
    gpt_dyn           dynamic batch and sequence axes: Shape, Gather,
                      Range, Cast, ... which import with --dim batch=1
                      --dim seq=8
  small hand-made graphs (onnx.helper) with numpy expectations:
    softmax_op11      opset-11 Softmax, axis 1 of a rank-3 tensor
    misc_ops          Pad, Slice, Squeeze, Unsqueeze, ReduceMean, Expand,
                      Pow, Sqrt, Erf, Where, Dropout, Cast, Split, Identity
    const_out         the graph output is a constant (an Identity is added)
    multi_out         outputs from two operators and a constant (one
                      Identity gathers them)
  hostile files, each rejected with an exact code (see onnx_test.c):
    bad_*.onnx

NAME.in0.npy is the input, NAME.out0.npy the expected output. Everything is
seeded; PyTorch training is run single-threaded so the weights come out
the same on every run of the same versions.
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def save_case(name, inputs, outputs):
    for i, a in enumerate(inputs):
        np.save(path("%s.in%d.npy" % (name, i)), a)
    for i, a in enumerate(outputs):
        np.save(path("%s.out%d.npy" % (name, i)), a)


# --------------------------------------------------------------------------
# Real models (PyTorch)
# --------------------------------------------------------------------------

def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    return x, y


def train(torch, model, x, y, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lossf = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    for _ in range(epochs):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            loss = lossf(model(xt[i:i + 64]), yt[i:i + 64])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    return acc


def export(torch, model, args, name, opset, **kw):
    torch.onnx.export(model, args, path(name + ".onnx"), opset_version=opset,
                      **kw)
    with torch.no_grad():
        out = model(*args)
    ins = [a.numpy() for a in args]
    save_case(name, ins, [out.numpy().astype(np.float32)])


def real_models():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(1)
    torch.manual_seed(7)
    x, y = digits()
    train_x, train_y = x[:1500], y[:1500]
    test_x = x[1500:1516]

    mlp = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32),
                        nn.ReLU(), nn.Linear(32, 10))
    acc = train(torch, mlp, train_x, train_y, 20, 3e-3)
    print("mlp_digits: train accuracy %.3f" % acc)
    export(torch, mlp, (torch.from_numpy(test_x),), "mlp_digits", 13,
           input_names=["x"], output_names=["logits"])
    # The same weights with a symbolic batch size: imports as a model
    # that takes any number of rows.
    export(torch, mlp, (torch.from_numpy(test_x),), "mlp_dynbatch", 13,
           input_names=["x"], output_names=["logits"],
           dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 6, 3, padding=1)
            self.c2 = nn.Conv2d(6, 16, 3, padding=1)
            self.f1 = nn.Linear(16 * 2 * 2, 32)
            self.f2 = nn.Linear(32, 10)

        def forward(self, t):
            t = F.max_pool2d(F.relu(self.c1(t)), 2)
            t = F.max_pool2d(F.relu(self.c2(t)), 2)
            t = torch.flatten(t, 1)
            return self.f2(F.relu(self.f1(t)))

    class Images(nn.Module):
        """Trains LeNet on flat rows by viewing them as 1x8x8 images."""
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, t):
            return self.net(t.view(-1, 1, 8, 8))

    lenet = LeNet()
    acc = train(torch, Images(lenet), train_x, train_y, 20, 3e-3)
    print("lenet_digits: train accuracy %.3f" % acc)
    export(torch, lenet, (torch.from_numpy(test_x.reshape(16, 1, 8, 8)),),
           "lenet_digits", 11, input_names=["image"],
           output_names=["logits"])

    class Attention(nn.Module):
        def __init__(self, c, heads, t):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(c, 3 * c)
            self.proj = nn.Linear(c, c)
            self.register_buffer("mask",
                                 torch.tril(torch.ones(t, t)).view(1, 1, t, t))

        def forward(self, t):
            b, n, c = t.size()
            q, k, v = self.qkv(t).split(c, dim=2)
            h = self.heads
            q = q.view(b, n, h, c // h).transpose(1, 2)
            k = k.view(b, n, h, c // h).transpose(1, 2)
            v = v.view(b, n, h, c // h).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.mask[:, :, :n, :n] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            out = (att @ v).transpose(1, 2).contiguous().view(b, n, c)
            return self.proj(out)

    class Block(nn.Module):
        def __init__(self, c, heads, t):
            super().__init__()
            self.ln1 = nn.LayerNorm(c)
            self.attn = Attention(c, heads, t)
            self.ln2 = nn.LayerNorm(c)
            self.fc = nn.Linear(c, 4 * c)
            self.out = nn.Linear(4 * c, c)
            self.drop = nn.Dropout(0.1)

        def forward(self, t):
            t = t + self.attn(self.ln1(t))
            return t + self.drop(self.out(F.gelu(self.fc(self.ln2(t)))))

    class GPT(nn.Module):
        def __init__(self, vocab=64, c=32, heads=4, t=8):
            super().__init__()
            self.wte = nn.Embedding(vocab, c)
            self.wpe = nn.Embedding(t, c)
            self.block = Block(c, heads, t)
            self.ln_f = nn.LayerNorm(c)
            self.head = nn.Linear(c, vocab, bias=False)

        def forward(self, idx):
            b, n = idx.size()
            pos = torch.arange(0, n, dtype=torch.long).unsqueeze(0)
            return self.head(self.ln_f(self.block(self.wte(idx) +
                                                  self.wpe(pos))))

    torch.manual_seed(11)
    gpt = GPT().eval()
    # Fresh LayerNorms are all ones and zeros, which the exporter would
    # deduplicate; real trained ones are not.
    with torch.no_grad():
        for ln in (gpt.block.ln1, gpt.block.ln2, gpt.ln_f):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.2, 0.2)
    idx = torch.randint(0, 64, (1, 8))
    kw = dict(input_names=["idx"], output_names=["logits"])
    export(torch, gpt, (idx,), "gpt_op13", 13, **kw)
    export(torch, gpt, (idx,), "gpt_op17", 17, **kw)
    export(torch, gpt, (idx,), "gpt_op11", 11, **kw)
    export(torch, gpt, (idx,), "gpt_nofold", 13, do_constant_folding=False,
           **kw)
    export(torch, gpt, (idx,), "gpt_dyn", 13,
           dynamic_axes={"idx": {0: "batch", 1: "seq"},
                         "logits": {0: "batch", 1: "seq"}}, **kw)


# --------------------------------------------------------------------------
# Models people export (torchvision, a BERT-style encoder)
# --------------------------------------------------------------------------

def randomize(torch, m):
    """Fresh BatchNorms are identities and fresh heads tiny: give them the
    spread of trained ones so that a wrong operator shows."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
            elif isinstance(mod, torch.nn.Linear):
                torch.nn.init.kaiming_uniform_(mod.weight)
                mod.bias.uniform_(-0.1, 0.1)


def vision_models(names=("mobilenet_v2", "squeezenet"), where=None):
    """torchvision's architectures with random weights (nothing is
    downloaded), 10 classes, a 64x64 image: mobilenet_v2 at width 0.25
    (Clip as ReLU6, depthwise Conv) and squeezenet1_1 (Concat of Conv
    branches, AveragePool) are committed; resnet18 (45 MB) is written to
    big/ by the `big` group and tested when present."""
    import torch
    import torchvision
    torch.set_num_threads(1)
    makers = {
        "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(
            num_classes=10, width_mult=0.25),
        "squeezenet": lambda: torchvision.models.squeezenet1_1(
            num_classes=10),
        "resnet18": lambda: torchvision.models.resnet18(num_classes=10),
    }
    for name in names:
        torch.manual_seed(13)
        m = makers[name]().eval()
        randomize(torch, m)
        x = torch.randn(1, 3, 64, 64)
        out = name if where is None else os.path.join(where, name)
        export(torch, m, (x,), out, 13, input_names=["x"],
               output_names=["logits"])


def big_models():
    os.makedirs(path("big"), exist_ok=True)
    vision_models(("resnet18",), "big")


def bert_mask():
    """A BERT-style encoder whose padding mask is computed at run time
    from the token ids (Equal, Not, Where, Cast of bools), mean-pooled
    over the tokens that are not padding."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(1)
    torch.manual_seed(17)

    class Bert(nn.Module):
        def __init__(self, vocab=50, d=32, heads=4, seq=8):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(seq, d)
            self.enc = nn.TransformerEncoderLayer(d, heads, 64, dropout=0.0,
                                                  batch_first=True)
            self.head = nn.Linear(d, 3)

        def forward(self, ids):
            pad = ids.eq(0)
            pos = torch.arange(ids.size(1)).unsqueeze(0)
            h = self.enc(self.tok(ids) + self.pos(pos),
                         src_key_padding_mask=pad)
            keep = (~pad).unsqueeze(-1).float()
            return self.head((h * keep).sum(1) / keep.sum(1))

    m = Bert().eval()
    ids = torch.tensor([[5, 7, 9, 3, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8]])
    export(torch, m, (ids,), "bert_mask", 13, input_names=["ids"],
           output_names=["logits"])


def quant_cnn():
    """PyTorch's static int8 export (eager-mode quantization, qnnpack):
    QuantizeLinear/DequantizeLinear around float Conv, Relu and Gemm,
    uint8 activations, int8 weights, int32 biases. The output is exact."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(1)
    torch.manual_seed(3)
    torch.backends.quantized.engine = "qnnpack"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = torch.ao.quantization.QuantStub()
            self.c1 = nn.Conv2d(1, 4, 3, padding=1)
            self.r = nn.ReLU()
            self.c2 = nn.Conv2d(4, 8, 3, stride=2)
            self.fc = nn.Linear(8 * 3 * 3, 10)
            self.dq = torch.ao.quantization.DeQuantStub()

        def forward(self, x):
            x = self.c2(self.r(self.c1(self.q(x))))
            return self.dq(self.fc(torch.flatten(x, 1)))

    m = Net().eval()
    m.qconfig = torch.ao.quantization.get_default_qconfig("qnnpack")
    torch.ao.quantization.prepare(m, inplace=True)
    for _ in range(4):
        m(torch.randn(2, 1, 8, 8))
    torch.ao.quantization.convert(m, inplace=True)
    export(torch, m, (torch.randn(1, 1, 8, 8),), "quant_cnn", 13,
           input_names=["x"], output_names=["y"])


def quant_ops():
    """QuantizeLinear/DequantizeLinear edges against NumPy: ties to
    even, saturation, uint8 zero points in int32_data, per-axis int8."""
    x = np.array([[-300.0, -2.5, -0.5, 0.5], [1.5, 2.5, 3.5, 300.0]],
                 np.float32)
    n = helper.make_node
    u8 = helper.make_tensor("zu", TensorProto.UINT8, [], [130])
    i8 = helper.make_tensor("zi", TensorProto.INT8, [2], [-3, 4])
    inits = [c_f32("s", 1.0), u8, c_f32("sa", [0.5, 2.0]), i8]
    nodes = [
        n("QuantizeLinear", ["x", "s", "zu"], ["qu"], name="q_u8"),
        n("DequantizeLinear", ["qu", "s", "zu"], ["du"], name="dq_u8"),
        n("QuantizeLinear", ["x", "sa", "zi"], ["qi"], name="q_axis",
          axis=0),
        n("DequantizeLinear", ["qi", "sa", "zi"], ["di"], name="dq_axis",
          axis=0),
        n("QuantizeLinear", ["x", "s"], ["qd"], name="q_default"),
        n("DequantizeLinear", ["qd", "s"], ["dd"], name="dq_default"),
        n("Concat", ["du", "di", "dd"], ["y"], name="concat", axis=0),
    ]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [2, 4])],
              [vi("y", TensorProto.FLOAT, [6, 4])], inits)
    onnx.checker.check_model(m)
    write(m, "quant_ops")
    f = x.astype(np.float64)
    qu = np.clip(np.rint(f / 1.0) + 130, 0, 255)
    sa = np.array([[0.5], [2.0]])
    zi = np.array([[-3], [4]])
    qi = np.clip(np.rint(f / sa) + zi, -128, 127)
    qd = np.clip(np.rint(f), 0, 255)
    y = np.concatenate([(qu - 130) * 1.0, (qi - zi) * sa, qd], axis=0)
    save_case("quant_ops", [x], [y.astype(np.float32)])


def rnn_models():
    """nn.LSTM (two layers) and nn.GRU (bidirectional, which PyTorch
    exports with linear_before_reset) reading a batch-first sequence, a
    Linear on the last step."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(1)

    class Seq(nn.Module):
        def __init__(self, cell, **kw):
            super().__init__()
            self.rnn = cell(4, 8, batch_first=True, **kw)
            width = 16 if kw.get("bidirectional") else 8
            self.fc = nn.Linear(width, 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y[:, -1])

    for name, cell, kw in (("lstm", nn.LSTM, dict(num_layers=2)),
                           ("gru", nn.GRU, dict(bidirectional=True))):
        torch.manual_seed(5)
        m = Seq(cell, **kw).eval()
        export(torch, m, (torch.randn(2, 5, 4),), name, 13,
               input_names=["x"], output_names=["y"])


def qlinear_conv():
    """QLinearConv as ONNX quantization tools write it: uint8 data with a
    per-channel int8 weight and an int32 bias (pads 1), and int8 data in
    two groups with stride 2, against exact NumPy integer arithmetic."""
    rng = np.random.RandomState(21)
    x = rng.uniform(-2, 2, (1, 2, 5, 5)).astype(np.float32)
    n = helper.make_node
    wa = rng.randint(-20, 21, (3, 2, 3, 3)).astype(np.int8)
    wb = rng.randint(-20, 21, (4, 1, 3, 3)).astype(np.int8)
    ba = np.array([100, -50, 7], np.int32)
    inits = [
        c_f32("xs", 0.02), helper.make_tensor("xzu", TensorProto.UINT8, [],
                                              [128]),
        numpy_helper.from_array(wa, "wa"), c_f32("wsa", [0.01, 0.02, 0.005]),
        numpy_helper.from_array(np.array([0, 1, -1], np.int8), "wza"),
        c_f32("ysa", 0.05), helper.make_tensor("yzu", TensorProto.UINT8, [],
                                               [120]),
        numpy_helper.from_array(ba, "ba"),
        numpy_helper.from_array(np.array(3, np.int8), "xzi"),
        numpy_helper.from_array(wb, "wb"), c_f32("wsb", 0.03),
        numpy_helper.from_array(np.array(0, np.int8), "wzb"),
        c_f32("ysb", 0.04), numpy_helper.from_array(np.array(-5, np.int8),
                                                    "yzi"),
    ]
    nodes = [
        n("QuantizeLinear", ["x", "xs", "xzu"], ["qa"], name="qa"),
        n("QLinearConv", ["qa", "xs", "xzu", "wa", "wsa", "wza", "ysa", "yzu",
                          "ba"], ["ca"], name="conv_u8", pads=[1, 1, 1, 1]),
        n("DequantizeLinear", ["ca", "ysa", "yzu"], ["da"], name="dqa"),
        n("QuantizeLinear", ["x", "xs", "xzi"], ["qb"], name="qb"),
        n("QLinearConv", ["qb", "xs", "xzi", "wb", "wsb", "wzb", "ysb",
                          "yzi"], ["cb"], name="conv_i8", group=2,
          strides=[2, 2]),
        n("DequantizeLinear", ["cb", "ysb", "yzi"], ["db"], name="dqb"),
        n("Flatten", ["da"], ["fa"], name="fa"),
        n("Flatten", ["db"], ["fb"], name="fb"),
        n("Concat", ["fa", "fb"], ["y"], name="cat", axis=1),
    ]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [1, 2, 5, 5])],
              [vi("y", TensorProto.FLOAT, [1, 3 * 25 + 4 * 4])], inits)
    onnx.checker.check_model(m)
    write(m, "qlinear_conv")

    def conv(q, w, pad, stride, group):
        q = np.pad(q, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        N, C, H, W = q.shape
        M, cg, kh, kw = w.shape
        oh = (H - kh) // stride + 1
        ow = (W - kw) // stride + 1
        out = np.zeros((N, M, oh, ow), np.int64)
        mg = M // group
        for o in range(M):
            g = o // mg
            for r in range(oh):
                for c in range(ow):
                    patch = q[0, g * cg:(g + 1) * cg, r * stride:r * stride +
                              kh, c * stride:c * stride + kw]
                    out[0, o, r, c] = (patch * w[o]).sum()
        return out

    f32 = np.float32
    qa = np.clip(np.rint(x / f32(0.02)) + 128, 0, 255).astype(np.int64)
    wza = np.array([0, 1, -1]).reshape(3, 1, 1, 1)
    acc = conv(qa - 128, wa.astype(np.int64) - wza, 1, 1, 1)
    acc += ba.reshape(1, 3, 1, 1)
    wsa = np.array([0.01, 0.02, 0.005], np.float32).astype(np.float64)
    mult = (np.float64(f32(0.02)) * wsa / np.float64(f32(0.05))).reshape(
        1, 3, 1, 1)
    ya = np.clip(np.rint(acc * mult) + 120, 0, 255)
    da = ((ya - 120).astype(np.float32) * f32(0.05)).astype(np.float32)
    qb = np.clip(np.rint(x / f32(0.02)) + 3, -128, 127).astype(np.int64)
    acc = conv(qb - 3, wb.astype(np.int64), 0, 2, 2)
    multb = np.float64(f32(0.02)) * np.float64(f32(0.03)) / np.float64(
        f32(0.04))
    yb = np.clip(np.rint(acc * multb) - 5, -128, 127)
    db = ((yb + 5).astype(np.float32) * f32(0.04)).astype(np.float32)
    y = np.concatenate([da.reshape(1, -1), db.reshape(1, -1)], axis=1)
    save_case("qlinear_conv", [x], [y.astype(np.float32)])


def bool_ops():
    """Bools computed at run time: comparisons, logic, Where, Cast."""
    x = np.array([[0.0, -0.25, 0.75, -2.0], [1.5, 0.0, -0.75, 0.25]],
                 np.float32)
    n = helper.make_node
    inits = [c_f32("half", 0.5), c_f32("mhalf", -0.5), c_f32("big", -1e9),
             c_i64("zero", 0)]
    nodes = [
        n("Cast", ["x"], ["ids"], name="ids", to=TensorProto.INT64),
        n("Equal", ["ids", "zero"], ["m"], name="eq"),
        n("Not", ["m"], ["nm"], name="not"),
        n("Less", ["x", "half"], ["l"], name="less"),
        n("Greater", ["x", "mhalf"], ["g"], name="greater"),
        n("And", ["l", "g"], ["a"], name="and"),
        n("Or", ["a", "nm"], ["o"], name="or"),
        n("Where", ["o", "x", "big"], ["w"], name="where"),
        n("Cast", ["x"], ["xb"], name="to_bool", to=TensorProto.BOOL),
        n("Cast", ["xb"], ["xbf"], name="bool_to_f", to=TensorProto.FLOAT),
        n("Cast", ["nm"], ["nmf"], name="mask_to_f", to=TensorProto.FLOAT),
        n("Add", ["xbf", "nmf"], ["s"], name="add"),
        n("Mul", ["w", "s"], ["y"], name="mul"),
    ]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [2, 4])],
              [vi("y", TensorProto.FLOAT, [2, 4])], inits)
    onnx.checker.check_model(m)
    write(m, "bool_ops")
    ids = np.trunc(x).astype(np.int64)
    mm = ids == 0
    o = ((x < 0.5) & (x > -0.5)) | ~mm
    w = np.where(o, x, np.float32(-1e9))
    s = (x != 0).astype(np.float32) + (~mm).astype(np.float32)
    save_case("bool_ops", [x], [(w * s).astype(np.float32)])


# --------------------------------------------------------------------------
# Hand-made graphs (onnx.helper, numpy expectations)
# --------------------------------------------------------------------------

def model(nodes, inputs, outputs, inits=(), opset=13, name="g", ir=8):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="make_fixtures.py")
    m.ir_version = ir
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def c_i64(name, vals):
    return numpy_helper.from_array(np.array(vals, dtype=np.int64), name)


def c_f32(name, vals):
    return numpy_helper.from_array(np.array(vals, dtype=np.float32), name)


def write(m, name):
    with open(path(name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def softmax_op11():
    x = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 4.0
    node = helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)
    m = model([node], [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("y", TensorProto.FLOAT, [2, 3, 4])], opset=11)
    onnx.checker.check_model(m)
    write(m, "softmax_op11")
    # Opset 11 coerces to 2-D at the axis: softmax over 3 * 4 values.
    f = x.reshape(2, 12).astype(np.float64)
    e = np.exp(f - f.max(axis=1, keepdims=True))
    y = (e / e.sum(axis=1, keepdims=True)).reshape(2, 3, 4)
    save_case("softmax_op11", [x], [y.astype(np.float32)])


def erf(v):
    import math
    return np.vectorize(math.erf)(v)


def misc_ops():
    """One chain through most of the operators added for import."""
    x = ((np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10.0) / 4.0)
    n = helper.make_node
    cond = np.array([[[True, False, True]], [[False, True, True]]])
    inits = [
        c_i64("pads", [0, 0, 1, 0, 0, 1]),
        c_i64("starts", [-1]), c_i64("ends", [-(2 ** 63)]),
        c_i64("axes2", [2]), c_i64("steps", [-2]),
        c_i64("axes0", [0]), c_i64("eshape", [2, 2, 3]),
        c_f32("p15", 1.5), c_f32("m1", -1.0), c_f32("four", 4.0),
        numpy_helper.from_array(cond, "cond"),
        c_i64("split", [1, 1]), c_f32("ratio", 0.25),
    ]
    nodes = [
        n("Pad", ["x", "pads"], ["p"], name="pad", mode="reflect"),
        n("Slice", ["p", "starts", "ends", "axes2", "steps"], ["s"],
          name="slice"),
        n("Unsqueeze", ["s", "axes0"], ["u"], name="unsq"),
        n("Squeeze", ["u", "axes0"], ["q"], name="sq"),
        n("ReduceMean", ["q"], ["m"], name="mean", axes=[1], keepdims=0),
        n("Expand", ["m", "eshape"], ["e"], name="expand"),
        n("Mul", ["e", "e"], ["e2"], name="square"),
        n("Sqrt", ["e2"], ["a"], name="sqrt"),
        n("Pow", ["a", "p15"], ["pw"], name="pow"),
        n("Erf", ["pw"], ["er"], name="erf"),
        n("Mul", ["pw", "m1"], ["neg"], name="negate"),
        n("Where", ["cond", "er", "neg"], ["w"], name="where"),
        n("Dropout", ["w", "ratio"], ["d"], name="dropout"),
        n("Mul", ["d", "four"], ["d4"], name="times4"),
        n("Cast", ["x"], ["xi"], name="to_int", to=TensorProto.INT32),
        n("Cast", ["xi"], ["xf"], name="to_float", to=TensorProto.FLOAT),
        n("ReduceMean", ["xf"], ["xm"], name="mean_all", keepdims=1),
        n("Add", ["d4", "xm"], ["t"], name="add"),
        n("Split", ["t", "split"], ["t0", "t1"], name="split", axis=1),
        n("Sub", ["t0", "t1"], ["diff"], name="diff"),
        n("Identity", ["diff"], ["y"], name="ident"),
    ]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("y", TensorProto.FLOAT, [2, 1, 3])], inits)
    onnx.checker.check_model(m)
    write(m, "misc_ops")
    f = x.astype(np.float64)
    p = np.pad(f, ((0, 0), (0, 0), (1, 1)), mode="reflect")
    s = p[:, :, ::-1][:, :, ::2]
    mm = s.mean(axis=1)
    e = np.broadcast_to(mm, (2, 2, 3))
    a = np.sqrt(e * e)
    pw = a ** 1.5
    w = np.where(cond, erf(pw), -pw)
    xf = np.trunc(x).astype(np.float64)
    t = w * 4.0 + xf.mean()
    y = t[:, 0:1, :] - t[:, 1:2, :]
    save_case("misc_ops", [x], [y.astype(np.float32)])


def export_ops():
    """The element-wise operators and reductions of real exports' heads."""
    x = ((np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 4.0)
    n = helper.make_node
    inits = [c_f32("lo", -1.0), c_f32("hi", 1.5), c_i64("ax2", [2])]
    nodes = [
        n("Clip", ["x", "lo", "hi"], ["c"], name="clip"),
        n("Exp", ["c"], ["e"], name="exp"),
        n("Abs", ["x"], ["a"], name="abs"),
        n("Log", ["a"], ["l"], name="log"),
        n("Neg", ["l"], ["ng"], name="neg"),
        n("Reciprocal", ["x"], ["r"], name="recip"),
        n("Min", ["e", "ng", "r"], ["mn"], name="min3"),
        n("LeakyRelu", ["x"], ["lr"], name="leaky", alpha=0.1),
        n("Max", ["mn", "lr"], ["mx"], name="max"),
        n("HardSigmoid", ["x"], ["hs"], name="hsig", alpha=0.3, beta=0.4),
        n("HardSwish", ["x"], ["hw"], name="hswish"),
        n("Softplus", ["x"], ["sp"], name="softplus"),
        n("Add", ["mx", "hs"], ["t1"], name="add1"),
        n("Add", ["t1", "hw"], ["t2"], name="add2"),
        n("Add", ["t2", "sp"], ["t"], name="add3"),
        n("LogSoftmax", ["t"], ["ls"], name="logsoftmax", axis=1),
        n("ReduceSum", ["ls", "ax2"], ["rs"], name="rsum"),
        n("ReduceMax", ["t"], ["rmax"], name="rmax", axes=[2]),
        n("ReduceMin", ["t"], ["rmin"], name="rmin", axes=[-1]),
        n("ReduceProd", ["hs"], ["rp"], name="rprod", axes=[2]),
        n("ReduceL2", ["t"], ["rl2"], name="rl2", axes=[2]),
        n("ArgMax", ["t"], ["am"], name="argmax", axis=2),
        n("Cast", ["am"], ["amf"], name="argmax_f", to=TensorProto.FLOAT),
        n("Concat", ["rs", "rmax", "rmin", "rp", "rl2", "amf"], ["y"],
          name="concat", axis=2),
    ]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("y", TensorProto.FLOAT, [2, 3, 6])], inits, opset=14)
    onnx.checker.check_model(m)
    write(m, "export_ops")
    f = x.astype(np.float64)
    c = np.clip(f, -1.0, 1.5)
    e = np.exp(c)
    ng = -np.log(np.abs(f))
    r = 1.0 / f
    mn = np.minimum(np.minimum(e, ng), r)
    mx = np.maximum(mn, np.where(f < 0, f * 0.1, f))
    hs = np.clip(0.3 * f + 0.4, 0.0, 1.0)
    hw = f * np.clip(f + 3.0, 0.0, 6.0) / 6.0
    sp = np.logaddexp(0.0, f)
    t = mx + hs + hw + sp
    tm = t.max(axis=1, keepdims=True)
    ls = t - tm - np.log(np.exp(t - tm).sum(axis=1, keepdims=True))
    y = np.concatenate([
        ls.sum(axis=2, keepdims=True), t.max(axis=2, keepdims=True),
        t.min(axis=2, keepdims=True), hs.prod(axis=2, keepdims=True),
        np.sqrt((t * t).sum(axis=2, keepdims=True)),
        t.argmax(axis=2)[:, :, None].astype(np.float64)], axis=2)
    save_case("export_ops", [x], [y.astype(np.float32)])


def multi_out():
    """Outputs from two operators and a constant, not in node order."""
    n = helper.make_node
    m = model([n("Relu", ["x"], ["a"], name="relu"),
               n("Sigmoid", ["x"], ["b"], name="sigmoid")],
              [vi("x", TensorProto.FLOAT, [2])],
              [vi("b", TensorProto.FLOAT, [2]),
               vi("a", TensorProto.FLOAT, [2]),
               vi("w", TensorProto.FLOAT, [2])],
              [c_f32("w", [0.5, -2.0])])
    write(m, "multi_out")


def const_out():
    n = helper.make_node
    nodes = [
        n("Relu", ["x"], ["r"], name="relu"),
        n("Constant", [], ["c"], name="const",
          value=numpy_helper.from_array(np.array([1.5, -2.0], np.float32))),
    ]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [2])],
              [vi("c", TensorProto.FLOAT, [2])])
    onnx.checker.check_model(m)
    write(m, "const_out")
    save_case("const_out", [np.array([1, -1], np.float32)],
              [np.array([1.5, -2.0], np.float32)])


# --------------------------------------------------------------------------
# Hostile files
# --------------------------------------------------------------------------

def gemm_model(inits, extra_nodes=(), opset=13, w_name="W", attrs=None):
    n = helper.make_node("Gemm", ["x", w_name], ["y"], name="fc",
                         **(attrs or {}))
    return model([n] + list(extra_nodes), [vi("x", TensorProto.FLOAT, [1, 4])],
                 [vi("y", TensorProto.FLOAT, [1, 2])], inits, opset=opset)


def hostile():
    w = c_f32("W", np.ones((4, 2)))
    n = helper.make_node

    # A 2^40-element initializer that declares no data at all.
    big = TensorProto(name="W", data_type=TensorProto.FLOAT,
                      dims=[1 << 20, 1 << 20])
    write(gemm_model([big]), "bad_huge_dims")

    neg = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[-4, 2])
    neg.raw_data = b"\0" * 32
    write(gemm_model([neg]), "bad_neg_dims")

    m = gemm_model([w])
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = -3
    write(m, "bad_neg_input_dim")

    short = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 2])
    short.raw_data = b"\0" * 12
    write(gemm_model([short]), "bad_raw_short")

    # a and b read each other's outputs: a cycle, so no order exists.
    cyc = model([n("Add", ["x", "b"], ["a"], name="node_a"),
                 n("Relu", ["a"], ["b"], name="node_b")],
                [vi("x", TensorProto.FLOAT, [2])],
                [vi("b", TensorProto.FLOAT, [2])])
    write(cyc, "bad_cycle")

    undef = model([n("Relu", ["nowhere"], ["y"], name="relu")],
                  [vi("x", TensorProto.FLOAT, [2])],
                  [vi("y", TensorProto.FLOAT, [2])])
    write(undef, "bad_undefined")

    # The weight the Gemm reads was never stored.
    write(gemm_model([], w_name="fc.weight"), "bad_missing_init")

    lstm = model([n("RNN", ["x", "W", "R"], ["y"], name="my_rnn",
                    hidden_size=2)],
                 [vi("x", TensorProto.FLOAT, [1, 1, 4])],
                 [vi("y", TensorProto.FLOAT, None)],
                 [c_f32("W", np.ones((1, 2, 4))), c_f32("R", np.ones((1, 2, 2)))])
    write(lstm, "bad_unsupported_op")

    # Several unsupported operators, one node unnamed: all are reported
    # at once, counted by type.
    many = model([n("Einsum", ["x", "x"], ["e1"], name="ein1",
                    equation="i,i->i"),
                  n("Relu", ["e1"], ["r"], name="relu"),
                  n("NonZero", ["r"], ["nz"]),
                  n("Einsum", ["r", "r"], ["y"], name="ein2",
                    equation="i,i->i")],
                 [vi("x", TensorProto.FLOAT, [4])],
                 [vi("y", TensorProto.FLOAT, [4])])
    write(many, "bad_many_unsupported")

    write(gemm_model([w], attrs={"foo": 1}), "bad_unsupported_attr")
    write(gemm_model([w], opset=9), "bad_opset9")
    write(gemm_model([w], opset=18), "bad_opset18")

    h = numpy_helper.from_array(np.ones((4, 2), np.float16), "W")
    write(gemm_model([h]), "bad_fp16")

    # Outputs from different operators are gathered by one Identity (as
    # a KV-cache export's logits and presents), up to 8 of them.
    nine = model([n("Relu", ["x"], ["o%d" % i], name="relu%d" % i)
                  for i in range(9)],
                 [vi("x", TensorProto.FLOAT, [2])],
                 [vi("o%d" % i, TensorProto.FLOAT, [2]) for i in range(9)])
    write(nine, "bad_nine_outputs")

    drop = model([n("Dropout", ["x", "r", "t"], ["y"], name="drop")],
                 [vi("x", TensorProto.FLOAT, [2])],
                 [vi("y", TensorProto.FLOAT, [2])],
                 [c_f32("r", 0.5),
                  numpy_helper.from_array(np.array(True), "t")])
    write(drop, "bad_dropout_training")

    # Shape of an input whose batch size is symbolic and not given.
    dyn = model([n("Shape", ["x"], ["s"], name="shape"),
                 n("Reshape", ["x", "s"], ["y"], name="reshape")],
                [vi("x", TensorProto.FLOAT, ["batch", 4])],
                [vi("y", TensorProto.FLOAT, None)])
    write(dyn, "bad_dynamic_shape")

    dup = model([n("Relu", ["x"], ["y"], name="r1"),
                 n("Sigmoid", ["x"], ["y"], name="r2")],
                [vi("x", TensorProto.FLOAT, [2])],
                [vi("y", TensorProto.FLOAT, [2])])
    write(dup, "bad_duplicate_value")

    ext = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 2])
    ext.data_location = TensorProto.EXTERNAL
    e = ext.external_data.add()
    e.key = "location"
    e.value = "weights.bin"
    write(gemm_model([ext]), "bad_external_data")

    # A MatMul whose inner dimensions differ, found while inferring the
    # shape a later Shape node needs.
    mm = model([n("MatMul", ["x", "W"], ["h"], name="mm"),
                n("Shape", ["h"], ["s"], name="shape"),
                n("Reshape", ["h", "s"], ["y"], name="reshape")],
               [vi("x", TensorProto.FLOAT, [1, 3])],
               [vi("y", TensorProto.FLOAT, None)], [w])
    write(mm, "bad_shape_mismatch")

    # Tiny files that ask the importer to compute gigabytes.
    bomb = model([n("ConstantOfShape", ["s"], ["c"], name="bomb"),
                  n("Add", ["x", "c"], ["y"], name="add")],
                 [vi("x", TensorProto.FLOAT, [1])],
                 [vi("y", TensorProto.FLOAT, None)],
                 [c_i64("s", [32768, 32768])])
    write(bomb, "bad_fold_bomb")
    bomb = model([n("Expand", ["one", "s"], ["c"], name="bomb"),
                  n("Add", ["x", "c"], ["y"], name="add")],
                 [vi("x", TensorProto.FLOAT, [1])],
                 [vi("y", TensorProto.FLOAT, None)],
                 [c_f32("one", [1.0]), c_i64("s", [16384, 16384])])
    write(bomb, "bad_expand_bomb")

    m = gemm_model([w])
    m.ir_version = 2
    write(m, "bad_ir2")

    # A run-time condition that is not a bool (int8 from a Cast).
    wc = model([n("Cast", ["x"], ["c"], name="to_i8", to=TensorProto.INT8),
                n("Where", ["c", "x", "x"], ["y"], name="where")],
               [vi("x", TensorProto.FLOAT, [2])],
               [vi("y", TensorProto.FLOAT, [2])])
    write(wc, "bad_where_notbool")

    # Arithmetic on a uint8 value, which the engine holds as q - 128.
    u8 = helper.make_tensor("u", TensorProto.UINT8, [2], [1, 200])
    ua = model([n("QuantizeLinear", ["x", "s", "u"], ["q"], name="q"),
                n("Concat", ["q", "q"], ["c"], name="cat", axis=0),
                n("Add", ["c", "c"], ["y"], name="add_u8")],
               [vi("x", TensorProto.FLOAT, [2])],
               [vi("y", TensorProto.UINT8, [4])], [c_f32("s", 1.0)])
    ua.graph.initializer.append(u8)
    ua.graph.node[0].input[2] = "z"
    ua.graph.initializer.append(
        helper.make_tensor("z", TensorProto.UINT8, [], [7]))
    write(ua, "bad_u8_arith")

    uo = model([n("QuantizeLinear", ["x", "s"], ["y"], name="q")],
               [vi("x", TensorProto.FLOAT, [2])],
               [vi("y", TensorProto.UINT8, [2])], [c_f32("s", 1.0)])
    write(uo, "bad_u8_output")

    nine = ["o%d" % i for i in range(9)]
    sp = model([n("Split", ["x"], nine, name="split9", axis=0)],
               [vi("x", TensorProto.FLOAT, [9])],
               [vi(o, TensorProto.FLOAT, [1]) for o in nine])
    write(sp, "bad_split_many")

    ms = gemm_model([w])
    ms.graph.node[0].domain = "com.microsoft"
    write(ms, "bad_domain")


GROUPS = {}


def main():
    if sys.version_info < (3, 9):
        sys.exit("needs Python 3.9+")
    # Groups by name (default: all), so a new fixture can be made without
    # retraining the others.
    groups = dict(real=real_models, softmax_op11=softmax_op11,
                  misc_ops=misc_ops, export_ops=export_ops,
                  bool_ops=bool_ops, vision=vision_models,
                  bert_mask=bert_mask, quant_cnn=quant_cnn,
                  quant_ops=quant_ops, qlinear_conv=qlinear_conv,
                  rnn=rnn_models,
                  const_out=const_out, multi_out=multi_out,
                  hostile=hostile)
    extra = dict(big=big_models)  # not part of the default set
    groups.update(GROUPS)
    want = sys.argv[1:] or list(groups)
    groups.update(extra)
    for g in want:
        if g not in groups:
            sys.exit("unknown group %s (have: %s)" % (g, " ".join(groups)))
        groups[g]()
    total = sum(os.path.getsize(path(f)) for f in os.listdir(HERE)
                if f.endswith((".onnx", ".npy")))
    print("fixtures: %d bytes" % total)


if __name__ == "__main__":
    main()

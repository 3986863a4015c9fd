#!/usr/bin/env python3
"""Training speed of a Loom model file in PyTorch on this CPU, as a yardstick for `loom bench`.

    python deploy/bench/pytorch_models.py --model configs/models/resnet-20.yaml \
        [--input 3,64,64] [--batch 128] [--seconds 3] [--threads 1] [--json]

The model file is built from torch.nn modules layer for layer, as torchvision writes the same
networks (conv2d -> Conv2d, depthwise2d -> Conv2d(groups=C), batchnorm2d -> BatchNorm2d, relu ->
ReLU(inplace=True), silu -> SiLU(inplace=True), squeeze_excite -> torchvision's
SqueezeExcitation, residual -> block(x) + shortcut(x), concat -> torch.cat). The loss and
optimizer are the ones `loom bench` trains with: the mean over the batch of each head's loss
(softmax cross-entropy, or binary cross-entropy with logits for the other head kinds), SGD
lr 0.01 momentum 0.9 weight decay 5e-4. Each timed step is a whole training step (zero_grad,
forward in train mode, loss, backward, optimizer step) on one synthetic batch made once.

It prints the parameter count, which `loom bench` compares with its own to check that the two
networks are the same. Needs torch and PyYAML only; nothing in Loom's build or CI runs it.
"""

import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

WARMUP_STEPS = 3       # first steps allocate buffers and pick kernels: not timed
CALIBRATION_STEPS = 2  # timed roughly, to turn --seconds into a step count


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation (fc1, fc2 as 1x1 convolutions), written out so that
    the script needs no torchvision."""

    def __init__(self, channels, squeeze, activation):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(self.activation(self.fc1(self.avgpool(x)))))


class Residual(nn.Module):
    def __init__(self, block, shortcut):
        super().__init__()
        self.block, self.shortcut = block, shortcut

    def forward(self, x):
        return self.block(x) + self.shortcut(x)


class Concat(nn.Module):
    def __init__(self, branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], dim=1)


def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def build(layers, shape):
    """nn.Sequential of `layers` (the model file's list) on inputs of `shape`; its output shape."""
    mods = []
    for l in layers:
        kind = l["kind"]
        if kind in ("conv2d", "depthwise2d"):
            c, h, w = shape
            k, s, p = l.get("kernel", 3), l.get("stride", 1), l.get("padding", 0)
            out, groups = (l["out"], 1) if kind == "conv2d" else (c, c)
            mods.append(nn.Conv2d(c, out, k, s, p, groups=groups, bias=l.get("bias", True)))
            shape = [out, out_size(h, k, s, p), out_size(w, k, s, p)]
        elif kind == "linear":
            mods.append(nn.Linear(shape[0], l["out"], bias=l.get("bias", True)))
            shape = [l["out"]]
        elif kind in ("batchnorm2d", "batchnorm1d"):
            cls = nn.BatchNorm2d if kind == "batchnorm2d" else nn.BatchNorm1d
            mods.append(cls(shape[0], eps=l.get("eps", 1e-5), momentum=l.get("momentum", 0.1)))
        elif kind == "relu":
            mods.append(nn.ReLU(inplace=True))
        elif kind == "silu":
            mods.append(nn.SiLU(inplace=True))
        elif kind == "dropout":
            mods.append(nn.Dropout(l.get("p", 0.5)))
        elif kind in ("maxpool2d", "avgpool2d"):
            c, h, w = shape
            k = l.get("kernel", 2)
            s, p = l.get("stride", k), l.get("padding", 0)
            mods.append(nn.MaxPool2d(k, s, p) if kind == "maxpool2d" else nn.AvgPool2d(k, s, p))
            shape = [c, out_size(h, k, s, p), out_size(w, k, s, p)]
        elif kind == "globalavgpool":
            mods.append(nn.AdaptiveAvgPool2d(1))
            shape = [shape[0], 1, 1]
        elif kind == "flatten":
            mods.append(nn.Flatten())
            n = 1
            for d in shape:
                n *= d
            shape = [n]
        elif kind == "squeeze_excite":
            act = nn.SiLU if l.get("activation", "relu") == "silu" else nn.ReLU
            mods.append(SqueezeExcitation(shape[0], l["squeeze"], act))
        elif kind == "residual":
            block, out = build(l["block"], shape)
            shortcut, short_out = build(l.get("shortcut", []), shape)
            if out != short_out:
                raise ValueError(f"residual: block gives {out}, shortcut {short_out}")
            mods.append(Residual(block, shortcut))
            shape = out
        elif kind == "concat":
            branches, outs = [], []
            for b in l["branches"]:
                m, out = build(b, shape)
                branches.append(m)
                outs.append(out)
            mods.append(Concat(branches))
            shape = [sum(o[0] for o in outs)] + outs[0][1:]
        else:
            raise ValueError(f"layer kind {kind!r} has no PyTorch twin here")
    return nn.Sequential(*mods), shape


class Twin(nn.Module):
    def __init__(self, spec, input_shape):
        super().__init__()
        self.trunk, shape = build(spec["layers"], list(input_shape))
        if len(shape) != 1:
            # Loom flattens a trunk that ends on planes before the heads.
            self.trunk.append(nn.Flatten())
            n = 1
            for d in shape:
                n *= d
            shape = [n]
        heads = spec.get("heads") or [{"name": "category", "kind": "softmax"}]
        self.kinds = [h.get("kind", "softmax") for h in heads]
        self.classes = [h.get("classes", 0) or 10 for h in heads]
        self.heads = nn.ModuleList(nn.Linear(shape[0], k) for k in self.classes)

    def forward(self, x):
        f = self.trunk(x)
        return [h(f) for h in self.heads]


def measure(model, input_shape, batch, seconds):
    """Whole training steps on one synthetic batch; returns (steps, elapsed seconds)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn([batch] + list(input_shape), generator=gen)
    targets = []
    for kind, k in zip(model.kinds, model.classes):
        if kind == "softmax":
            targets.append(torch.randint(0, k, (batch,), generator=gen))
        else:
            targets.append(torch.randint(0, 2, (batch, k), generator=gen).float())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    model.train()

    def step():
        opt.zero_grad()
        loss = 0
        for kind, logits, t in zip(model.kinds, model(x), targets):
            loss = loss + (F.cross_entropy(logits, t) if kind == "softmax"
                           else F.binary_cross_entropy_with_logits(logits, t))
        loss.backward()
        opt.step()

    for _ in range(WARMUP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(CALIBRATION_STEPS):
        step()
    per_step = (time.perf_counter() - start) / CALIBRATION_STEPS
    steps = max(3, round(seconds / per_step))
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a Loom model file (YAML)")
    parser.add_argument("--input", help="C,H,W instead of the model file's input")
    parser.add_argument("--batch", type=int, default=128, help="samples per step (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time to measure, after warm-up (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()

    with open(args.model) as f:
        spec = yaml.safe_load(f)
    input_shape = [int(v) for v in args.input.split(",")] if args.input else spec.get("input", [1, 28, 28])
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(0)
    model = Twin(spec, input_shape)
    parameters = sum(p.numel() for p in model.parameters())
    steps, elapsed = measure(model, input_shape, args.batch, args.seconds)
    rate = steps * args.batch / elapsed
    print(f"{args.model}, PyTorch {torch.__version__}: {rate:.1f} samples/s (batch {args.batch}, "
          f"{args.threads} thread(s), {steps} steps in {elapsed:.2f} s, {parameters} parameters)", flush=True)
    if args.json:
        print(json.dumps({"samples_per_s": round(rate, 1), "batch": args.batch, "threads": args.threads,
                          "torch_version": str(torch.__version__), "seconds": round(elapsed, 3), "steps": steps,
                          "parameters": parameters, "input": list(input_shape), "model": args.model}),
              flush=True)


if __name__ == "__main__":
    main()

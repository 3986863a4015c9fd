#!/usr/bin/env python3
"""Train a Loom run config's model on Fashion-MNIST in PyTorch, with Loom's recipe, to set
Loom's test accuracy beside PyTorch's (docs/RESULTS.md, "Loom against PyTorch").

    python deploy/bench/pytorch_train.py --config configs/fashion-mnist-resnet.yaml \
        [--seed 1] [--set training.epochs=2 ...] [--threads 2] [--json out.json]

The model is the run config's model file built layer for layer from torch.nn modules (the
`LoomTwin` of Tests/Fixtures/generate.py, which the fixtures check against Loom bit for bit).
The recipe follows the config as Loom reads it (docs/CONFIG.md):
- data: pixels / 255, zero padding by `augment.crop_padding` then a random crop back to
  28x28, a horizontal flip with probability 0.5 when `augment.hflip` (neither in the last
  `augment.plain_last_epochs` epochs), then (x - mean) / std;
  a new shuffle of the train split every epoch; evaluation on the test split at every epoch
  end (with `data.validation_fraction` 0, as the shipped Fashion-MNIST configs have);
- micro-shards: each step's batch of `training.batch_size` is cut into micro-batches of
  `training.micro_batch`, each with its own batch-norm statistics (Loom's fixed micro-shards);
  gradients are accumulated with the loss scaled by 1/batch_size, and the running statistics
  move once per step from the mean of the micro-batches' statistics (Loom's `apply`);
- loss: softmax cross-entropy with `loss.label_smoothing`;
- optimizer: SGD (momentum, Nesterov, dampening, weight decay) or Adam/AdamW, with
  `no_decay_on_bias_and_norm` and `trunk_lr_scale` as parameter groups;
- schedule: constant, step, cosine or SGDR with linear warmup, evaluated per step by the same
  formulas as Sources/LoomTraining/Schedule.swift (its header comment).
- initialisation: PyTorch's default (conv and linear weights and biases U(+-1/sqrt(fan_in)),
  batch-norm weight 1, bias 0), which is also Loom's rule (Model.initialParameters), so the
  twin keeps the values torch.nn draws.
What differs on purpose: the random streams (initial values, shuffles, crops and flips are
drawn from PyTorch's generator, not Loom's KeyedRandom; the comparison is of accuracy over
seeds, not of bits). `--print-schedule` prints the learning rate of every step, to compare
with `loom schedule --config C`. Needs torch, numpy, PyYAML and h5py (the twin builder in
Tests/Fixtures/generate.py imports it); nothing in Loom's build or CI runs it.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Tests", "Fixtures"))
from generate import LoomTwin, read_idx  # noqa: E402  (the fixtures' twin builder)

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"  # Debian package dataset-fashion-mnist


def parse_value(text):
    return yaml.safe_load(text)


def apply_set(config, assignment):
    """`--set a.b.c=v` as Loom reads it: dotted keys, list indices as numbers."""
    key, _, value = assignment.partition("=")
    if not key or not _:
        raise SystemExit(f"--set {assignment}: expected key=value")
    node = config
    parts = key.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = parse_value(value)
    else:
        node[last] = parse_value(value)


def load_config(path, sets):
    with open(path) as f:
        config = yaml.safe_load(f)
    for s in sets:
        apply_set(config, s)
    model = config.get("model", {})
    spec = {}
    if "file" in model:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), model["file"])) as f:
            spec = yaml.safe_load(f)
    for key, value in model.items():
        if key != "file":
            spec[key] = value
    if "heads" in config:
        spec["heads"] = config["heads"]
    return config, spec


def fashion_mnist(folder):
    def split(images, labels):
        x = read_idx(os.path.join(folder, images)).astype(np.float32) / 255.0
        y = read_idx(os.path.join(folder, labels)).astype(np.int64)
        return torch.from_numpy(x[:, None, :, :]), torch.from_numpy(y)
    train = split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    test = split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return train, test


def augment(x, padding, hflip, gen):
    """Random crop of the zero-padded images, then a random horizontal flip, per sample."""
    n, _, h, w = x.shape
    if padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
        rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(n, x.shape[1], h, w + 2 * padding)
        x = torch.gather(padded, 2, rows)
        cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(n, x.shape[1], h, w)
        x = torch.gather(x, 3, cols)
    if hflip:
        flip = torch.rand(n, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


class Schedule:
    """Sources/LoomTraining/Schedule.swift's formulas: lr used by optimizer step i."""

    def __init__(self, config, base_lr, steps_per_epoch, total_steps):
        self.c = config
        self.base = base_lr
        self.spu = steps_per_epoch if config.get("unit", "epoch") == "epoch" else 1
        self.total = total_steps

    def lr(self, step):
        c, base = self.c, self.base
        u = step / self.spu
        w = float(c.get("warmup", 0))
        if u < w:
            f = float(c.get("warmup_start_factor", 0))
            return base * (f + (1 - f) * u / w)
        t = u - w
        eta = float(c.get("eta_min", 0))
        kind = c.get("kind", "constant")
        if kind == "constant":
            return base
        if kind == "step":
            return base * float(c.get("gamma", 0.1)) ** math.floor(t / float(c.get("step_size", 1)))
        if kind == "cosine":
            t_max = float(c.get("t_max", 0))
            period = t_max if t_max > 0 else self.total / self.spu - w
            t = min(t, period)
            return eta + (base - eta) * (1 + math.cos(math.pi * t / period)) / 2
        if kind == "sgdr":
            start, length, mult = 0.0, float(c.get("t_0", 10)), int(c.get("t_mult", 1))
            while t >= start + length:
                start += length
                length *= mult
            return eta + (base - eta) * (1 + math.cos(math.pi * (t - start) / length)) / 2
        raise SystemExit(f"schedule.kind {kind}: not supported by this script")


def optimizer_for(twin, config):
    o = config.get("optimizer", {})
    kind = o.get("kind", "sgd")
    lr = float(o.get("lr", 0.05))
    wd = float(o.get("weight_decay", 0))
    no_decay = bool(o.get("no_decay_on_bias_and_norm", False))
    trunk_scale = float(o.get("trunk_lr_scale", 1))
    head_params = {id(p) for p in twin.head.parameters()}
    norm_params = {id(p) for _, m in twin.norms for p in m.parameters()}
    groups = {}
    for name, p in twin.named_parameters():
        decay = wd
        if no_decay and (name.endswith("bias") or id(p) in norm_params):
            decay = 0.0
        scale = 1.0 if id(p) in head_params else trunk_scale
        groups.setdefault((decay, scale), []).append(p)
    params = [{"params": ps, "weight_decay": d, "lr_scale": s} for (d, s), ps in groups.items()]
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=float(o.get("momentum", 0.9)),
                              dampening=float(o.get("dampening", 0)), nesterov=bool(o.get("nesterov", False)))
    elif kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        betas = tuple(o.get("betas", [0.9, 0.999]))
        opt = cls(params, lr=lr, betas=betas, eps=float(o.get("eps", 1e-8)))
    else:
        raise SystemExit(f"optimizer.kind {kind}: not supported by this script")
    return opt, lr


def reference_scaled_lr(config, lr):
    ref = int(config.get("optimizer", {}).get("reference_batch", 0))
    batch = int(config.get("training", {}).get("batch_size", 128))
    return lr * batch / ref if ref > 0 else lr


class StepStatistics:
    """Batch-norm running statistics as Loom moves them: frozen during the micro-batches
    (PyTorch momentum 0), then one update per step from the micro-batches' mean statistics."""

    def __init__(self, twin):
        self.norms = [m for _, m in twin.norms]
        self.momentum = [m.momentum for m in self.norms]
        self.sums = {}
        for m in self.norms:
            m.momentum = 0.0
            m.register_forward_hook(self.hook)

    def hook(self, module, inputs, output):
        if not module.training:
            return
        x = inputs[0].detach()
        dims = [0, 2, 3] if x.dim() == 4 else [0]
        mean, var = x.mean(dims), x.var(dims, unbiased=True)
        s = self.sums.setdefault(id(module), [0, torch.zeros_like(mean), torch.zeros_like(var)])
        s[0] += 1
        s[1] += mean
        s[2] += var

    def step(self):
        with torch.no_grad():
            for m, mom in zip(self.norms, self.momentum):
                n, mean, var = self.sums.pop(id(m))
                m.running_mean.mul_(1 - mom).add_(mom * mean / n)
                m.running_var.mul_(1 - mom).add_(mom * var / n)


def evaluate(twin, x, y, mean, std, batch=1000):
    twin.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = twin((x[i:i + batch] - mean) / std)
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    twin.train()
    return correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fashion-mnist", default=FASHION_MNIST)
    p.add_argument("--json", help="write the result here as JSON")
    p.add_argument("--limit", type=int, default=0, help="use only the first N train images (a smoke test)")
    p.add_argument("--print-schedule", action="store_true",
                   help="print 'step lr' for every step of the run and exit (no training)")
    args = p.parse_args()

    config, spec = load_config(args.config, args.set)
    data, training = config.get("data", {}), config.get("training", {})
    seed = args.seed if args.seed is not None else int(training.get("seed", 1))
    torch.manual_seed(seed)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(seed)

    (train_x, train_y), (test_x, test_y) = fashion_mnist(args.fashion_mnist)
    if args.limit > 0:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    mean = torch.tensor(data.get("mean", [0.0]), dtype=torch.float32)[None, :, None, None]
    std = torch.tensor(data.get("std", [1.0]), dtype=torch.float32)[None, :, None, None]
    aug = data.get("augment", {}) or {}
    padding, hflip = int(aug.get("crop_padding", 0)), bool(aug.get("hflip", False))
    plain_last = int(aug.get("plain_last_epochs", 0))
    smoothing = float(config.get("loss", {}).get("label_smoothing", 0))

    twin = LoomTwin(spec)
    for relu in twin.relus:      # the fixtures' MarginReLU records a margin: not needed here
        relu.__class__ = nn.ReLU
    twin.train()
    stats = StepStatistics(twin)
    opt, lr = optimizer_for(twin, config)
    base_lr = reference_scaled_lr(config, lr)
    batch = int(training.get("batch_size", 128))
    micro = int(training.get("micro_batch", batch))
    epochs = int(training.get("epochs", 10))
    steps_per_epoch = len(train_x) // batch        # Loom drops the last partial batch
    total_steps = steps_per_epoch * epochs
    max_steps = int(training.get("max_steps", 0))
    if max_steps > 0:
        total_steps = min(total_steps, max_steps)
    schedule = Schedule(config.get("schedule", {}), base_lr, steps_per_epoch, steps_per_epoch * epochs)
    if args.print_schedule:
        for i in range(total_steps):
            print(f"{i} {schedule.lr(i):.17g}")
        return

    history = []
    step = 0
    log_every = int(training.get("log_every_steps", 0))
    window_loss = 0.0
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(train_x), generator=gen)
        epoch_loss, epoch_steps = 0.0, 0
        for s in range(steps_per_epoch):
            if step == total_steps:       # training.max_steps (a short proxy run)
                break
            idx = order[s * batch:(s + 1) * batch]
            # `augment.plain_last_epochs`: the last epochs see the images as they are.
            x = augment(train_x[idx], padding, hflip, gen) if epoch < epochs - plain_last else train_x[idx]
            x = (x - mean) / std
            y = train_y[idx]
            lr_now = schedule.lr(step)
            for g in opt.param_groups:
                g["lr"] = lr_now * g["lr_scale"]
            opt.zero_grad()
            step_loss = 0.0
            for m in range(0, batch, micro):
                logits = twin(x[m:m + micro])
                loss = F.cross_entropy(logits, y[m:m + micro], reduction="sum",
                                       label_smoothing=smoothing) / batch
                loss.backward()
                step_loss += float(loss.detach())
            opt.step()
            stats.step()
            step += 1
            epoch_loss += step_loss
            epoch_steps += 1
            window_loss += step_loss
            if log_every > 0 and step % log_every == 0:
                print(f"step {step}/{total_steps}  loss {window_loss / log_every:.4f}  lr {lr_now:.5f}  "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
                window_loss = 0.0
        acc = evaluate(twin, test_x, test_y, mean, std)
        elapsed = time.perf_counter() - start
        train_loss = epoch_loss / max(epoch_steps, 1)
        history.append({"epoch": epoch + 1, "step": step, "train_loss": train_loss, "test_accuracy": acc,
                        "seconds": elapsed})
        print(f"epoch {epoch + 1}/{epochs}  step {step}  train loss {train_loss:.4f}  "
              f"test accuracy {100 * acc:.2f}%  {elapsed:.0f} s", flush=True)
        if step == total_steps:
            break

    result = {"config": args.config, "sets": args.set, "seed": seed, "threads": args.threads,
              "torch": torch.__version__, "test_accuracy": history[-1]["test_accuracy"],
              "seconds": history[-1]["seconds"], "history": history}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("seed", "test_accuracy", "seconds")}))


if __name__ == "__main__":
    main()

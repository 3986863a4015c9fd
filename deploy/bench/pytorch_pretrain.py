#!/usr/bin/env python3
"""Pretrain torchvision's ResNet-18 in PyTorch on a source task and save its state_dict as
safetensors, for `loom import-weights` (docs/FINE_TUNING.md, "Fine-tuning on the photo
benchmark"). Nothing is downloaded: the "pretrained" weights are made here, as ImageNet's
would be elsewhere.

    # 1. the source labels: a `loom import images` manifest of photo-benchmark photos with
    #    their Fashion-MNIST category (10 classes, another task than the target's heads)
    python deploy/bench/pytorch_pretrain.py manifest --root SRC --fashion-mnist data/fashion-mnist.h5 \
        --out SRC/source.csv
    loom import images --manifest SRC/source.csv --root SRC/streetstyle27k --size 64 --out source.h5
    # 2. pretraining
    python deploy/bench/pytorch_pretrain.py train --data source.h5 --epochs 2 \
        --out resnet18-source.safetensors [--threads 1] [--seed 1] [--max-steps N] [--no-colour] \
        [--stop-after-epochs K]

`manifest` reads the photo benchmark's streetstyle27k.manifest (written by `loom import
photo-benchmark --first F --count N`): the id column is the Fashion-MNIST train garment's
index + 1, so each photo's category comes from the Fashion-MNIST file. One photo in ten
(garment index % 10 == 0) goes to the validation split, the rest to train.

`train` builds ResNet-18 with torchvision's module names (conv1, bn1, layer1..layer4 of two
BasicBlocks with conv1/bn1/conv2/bn2 and a downsample Sequential in the first block of stages
2-4, fc), written out here so that no torchvision is needed, with a second linear head
`fc_colour` beside `fc` unless --no-colour: `fc` learns the 10 categories, `fc_colour` 8
colour bins that `colour_bins` computes from each photo's pixels (dark, light, grey, five hue
sectors), so that the trunk must keep hue, as ImageNet's colour-bound classes make a trunk
keep it (the categories alone are blind to colour on this benchmark). The loss is the sum
of the two heads' cross-entropies. It trains with Loom's
preprocessing of configs/photos-resnet18.yaml: pixels / 255, (x - 0.5) / 0.25, 4-pixel zero
padding and a random crop, a horizontal flip with probability 0.5; SGD lr 0.05 momentum 0.9
weight decay 5e-4 (none on biases and batch-norm weights), a cosine schedule per step, batch 64.
After each epoch it prints the validation accuracy of each head. The state_dict (float32 parameters and
running statistics, int64 num_batches_tracked, as torchvision saves them) is written as
safetensors by hand: an 8-byte little-endian header length, the JSON header (dtype, shape,
data_offsets per tensor), then the little-endian tensors.

Needs torch, numpy and h5py; nothing in Loom's build or CI runs it.
"""

import argparse
import csv
import json
import math
import struct
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --- ResNet-18 with torchvision's names ---------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision's ResNet-18; with `colours`, a second linear head `fc_colour` on the same
    pooled features (the colour bins), beside torchvision's `fc` (the categories)."""

    def __init__(self, classes, colours=0):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin = [64, 128, 256, 512], 64
        for s, w in enumerate(widths):
            stride = 1 if s == 0 else 2
            setattr(self, f"layer{s + 1}", nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.fc = nn.Linear(512, classes)
        self.fc_colour = nn.Linear(512, colours) if colours else None
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x), (self.fc_colour(x) if self.fc_colour is not None else None)


# --- safetensors, by hand -----------------------------------------------------------------

DTYPES = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def save_safetensors(state, path, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in state.items():
        dtype, np_dtype = DTYPES[t.dtype]
        data = t.detach().cpu().contiguous().numpy().astype(np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the tensors start 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# --- the source manifest ------------------------------------------------------------------

def write_manifest(args):
    with h5py.File(args.fashion_mnist, "r") as f:
        categories = f["/train/labels/category"][:]
        names = [c.decode() if isinstance(c, bytes) else str(c) for c in f["/attributes/category"].attrs["class_names"]]
    rows = 0
    with open(f"{args.root}/streetstyle27k.manifest", newline="") as src, open(args.out, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["path", "x1", "y1", "x2", "y2", "split", "category"])
        for r in csv.DictReader(src):
            garment = int(r["id"]) - 1
            name = r["url"].rsplit("/", 1)[1]
            path = f"{name[0]}/{name[1]}/{name[2]}/{name}"  # relative to ROOT/streetstyle27k
            split = "validation" if garment % 10 == 0 else "train"
            w.writerow([path, r["x1"], r["y1"], r["x2"], r["y2"], split, names[categories[garment]]])
            rows += 1
    print(f"wrote {rows} rows to {args.out}")


# --- the source's colour label, computed from the pixels -----------------------------------

COLOUR_BINS = ["dark", "light", "grey", "red", "orange-yellow", "green", "cyan-blue", "purple-magenta"]


def colour_bins(images):
    """One of COLOUR_BINS per uint8 [N, H, W, 3] photo, from its pixels alone: the garment is
    taken to be the pixels of the central half of the crop that differ most from the crop's
    border (the background), their median RGB is converted to HSV, and the bin is
    dark (V < 0.2), light (S < 0.25, V >= 0.7), grey (S < 0.25) or one of five hue sectors.
    No label of the photo benchmark is read."""
    x = images.astype(np.float32) / 255
    n, h, w, _ = x.shape
    border = np.concatenate([x[:, :2].reshape(n, -1, 3), x[:, -2:].reshape(n, -1, 3),
                             x[:, :, :2].reshape(n, -1, 3), x[:, :, -2:].reshape(n, -1, 3)], 1)
    background = np.median(border, 1)                                    # [N, 3]
    centre = x[:, h // 4:h - h // 4, w // 4:w - w // 4].reshape(n, -1, 3)  # [N, P, 3]
    distance = np.linalg.norm(centre - background[:, None], axis=2)      # [N, P]
    keep = distance >= np.quantile(distance, 0.5, axis=1, keepdims=True)  # the half least like the background
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        r, g, b = np.median(centre[i][keep[i]], 0)
        v, lo = max(r, g, b), min(r, g, b)
        s = 0.0 if v == 0 else (v - lo) / v
        if v < 0.2:
            out[i] = 0
        elif s < 0.25:
            out[i] = 1 if v >= 0.7 else 2
        else:
            c = v - lo
            hue = 60 * ((g - b) / c % 6 if v == r else (b - r) / c + 2 if v == g else (r - g) / c + 4)
            out[i] = (3 if hue < 20 or hue >= 330 else 4 if hue < 70 else 5 if hue < 160 else 6 if hue < 250 else 7)
    return out


# --- pretraining --------------------------------------------------------------------------

def load(path, split):
    with h5py.File(path, "r") as f:
        images = f[f"/{split}/images"][:]  # uint8 [N, H, W, C]
        labels = f[f"/{split}/labels/category"][:].astype(np.int64)
        classes = [c.decode() if isinstance(c, bytes) else str(c) for c in f["/attributes/category"].attrs["class_names"]]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(labels), classes


def prepare(x, train, gen, padding=4):
    x = (x.float() / 255 - 0.5) / 0.25
    if not train:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


def evaluate(model, x, y, c, batch=256):
    """Validation accuracy of the category head and, if there is one, of the colour head."""
    model.eval()
    correct, correct_colour = 0, 0
    with torch.no_grad():
        for k in range(0, len(x), batch):
            logits, colour = model(prepare(x[k:k + batch], False, None))
            correct += (logits.argmax(1) == y[k:k + batch]).sum().item()
            if colour is not None:
                correct_colour += (colour.argmax(1) == c[k:k + batch]).sum().item()
    model.train()
    n = max(1, len(x))
    return correct / n, correct_colour / n


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x, y, classes = load(args.data, "train")
    vx, vy, _ = load(args.data, "validation")
    keep = y >= 0
    x, y = x[keep], y[keep]
    colours = len(COLOUR_BINS) if args.colour else 0
    # the colour bins are computed once, from the stored (unaugmented) photos: a crop moves
    # the garment by at most 4 pixels and a flip does not change its colour
    c = torch.from_numpy(colour_bins(x.permute(0, 2, 3, 1).numpy())) if colours else None
    vc = torch.from_numpy(colour_bins(vx.permute(0, 2, 3, 1).numpy())) if colours else None
    if colours:
        share = np.bincount(c.numpy(), minlength=colours) / len(c)
        print("colour bins (train share): " + ", ".join(f"{n} {p:.3f}" for n, p in zip(COLOUR_BINS, share)), flush=True)
    model = ResNet18(len(classes), colours)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
                          lr=args.lr, momentum=0.9)
    steps_per_epoch = len(x) // args.batch
    total = args.epochs * steps_per_epoch if args.max_steps == 0 else min(args.max_steps, args.epochs * steps_per_epoch)
    print(f"ResNet-18, {sum(p.numel() for p in model.parameters())} parameters; {len(x)} train and {len(vx)} "
          f"validation photos of {tuple(x.shape[1:])}, {len(classes)} categories"
          f"{f' and {colours} colour bins' if colours else ''}; {total} steps of {args.batch}, "
          f"{args.threads} thread(s)", flush=True)
    step, start = 0, time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(x), generator=gen)
        loss_sum, batches = 0.0, 0
        for b in range(steps_per_epoch):
            if step == total:
                break
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            idx = order[b * args.batch:(b + 1) * args.batch]
            logits, colour = model(prepare(x[idx], True, gen))
            loss = F.cross_entropy(logits, y[idx])
            if colours:  # the two heads' losses, summed (as Loom sums its heads')
                loss = loss + F.cross_entropy(colour, c[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            batches += 1
            step += 1
            if step % 50 == 0:
                print(f"  step {step}/{total} loss {loss_sum / batches:.4f} "
                      f"{step * args.batch / (time.time() - start):.1f} samples/s", flush=True)
        accuracy, colour_accuracy = evaluate(model, vx, vy, vc)
        print(f"epoch {epoch + 1}: train loss {loss_sum / max(1, batches):.4f}, validation accuracy "
              f"{accuracy:.4f}" + (f", colour {colour_accuracy:.4f}" if colours else "")
              + f" ({time.time() - start:.0f} s)", flush=True)
        if step == total or epoch + 1 == args.stop_after_epochs:
            break
    state = model.state_dict()
    task = f"{args.data} category ({len(classes)} classes)" + (f" + colour bin ({colours})" if colours else "")
    save_safetensors(state, args.out, {"format": "pt", "task": task, "epochs": f"{epoch + 1} of {args.epochs}",
                                       "steps": str(step), "seed": str(args.seed)})
    print(f"wrote {len(state)} tensors to {args.out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("manifest", help="the source task's `loom import images` manifest")
    m.add_argument("--root", required=True, help="the photo benchmark's --root (has streetstyle27k.manifest)")
    m.add_argument("--fashion-mnist", default="data/fashion-mnist.h5")
    m.add_argument("--out", required=True)
    t = sub.add_parser("train", help="pretrain ResNet-18 and save its state_dict as safetensors")
    t.add_argument("--data", required=True, help="the source HDF5 (train and validation splits, labels/category)")
    t.add_argument("--out", required=True, help="the .safetensors file to write")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=0.05)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0 = all epochs)")
    t.add_argument("--stop-after-epochs", type=int, default=0,
                   help="save and stop after this many epochs, the schedule still planned for --epochs (0 = never)")
    t.add_argument("--colour", action=argparse.BooleanOptionalAction, default=True,
                   help="a second head, fc_colour, on colour bins computed from the pixels (default: on)")
    args = p.parse_args()
    write_manifest(args) if args.command == "manifest" else train(args)


if __name__ == "__main__":
    main()

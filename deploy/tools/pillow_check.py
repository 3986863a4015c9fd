#!/usr/bin/env python3
"""Checks a dataset written by `loom import images` against an independent decoder (Pillow).

Usage: pillow_check.py MANIFEST.csv DATASET.h5 [--root DIR] [--classes CLASSES.yaml] [--tolerance 1.0]

For every row of the manifest (which must have a split column and no rows skipped at
import), the image is decoded by Pillow, turned upright by its EXIF orientation, alpha
composited on white, cropped to the row's box (clamped), and resized with Pillow's BOX
filter (area averaging) the way the dataset's `image_preprocessing` attr says (size,
pad or crop fit). Each stored image must match within `--tolerance` levels of mean
absolute difference, and every label must be the class the manifest names.

Needs Pillow, h5py and numpy (pip install pillow h5py numpy, in a venv outside the repo).
Prints one line per failing row and a summary; exits 1 on any mismatch.
"""
import argparse
import csv
import os
import sys

import h5py
import numpy as np
from PIL import Image, ImageOps

SPLITS = {"train": "train", "training": "train", "validation": "validation", "val": "validation",
          "valid": "validation", "test": "test", "testing": "test"}
RESERVED = {"path", "image", "file", "filename", "split", "x1", "y1", "x2", "y2"}


def prepare(path, box, size, fit):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        im = white
    if im.mode.startswith("I;16"):
        im = im.point(lambda v: v / 256).convert("L")
    im = im.convert("RGB")
    w, h = im.size
    x1, y1, x2, y2 = box if box else (0, 0, w, h)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    bw, bh = x2 - x1, y2 - y1
    out = Image.new("RGB", (size, size), (0, 0, 0))
    if fit == "pad":
        scale = size / max(bw, bh)
        cw = max(1, min(size, int(round(bw * scale))))
        ch = max(1, min(size, int(round(bh * scale))))
        part = im.resize((cw, ch), Image.BOX, box=(x1, y1, x2, y2))
        out.paste(part, ((size - cw) // 2, (size - ch) // 2))
    else:
        side = min(bw, bh)
        x0, y0 = x1 + (bw - side) / 2, y1 + (bh - side) / 2
        out = im.resize((size, size), Image.BOX, box=(x0, y0, x0 + side, y0 + side))
    return np.asarray(out, dtype=np.int16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("dataset")
    ap.add_argument("--root")
    ap.add_argument("--classes")
    ap.add_argument("--tolerance", type=float, default=1.0)
    a = ap.parse_args()
    root = a.root or os.path.dirname(a.manifest) or "."
    with open(a.manifest, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0].keys())
    path_col = next(c for c in ("path", "image", "file", "filename") if c in header)
    attributes = [c for c in header if c not in RESERVED]
    given = {}
    if a.classes:
        import yaml
        given = {k: [str(v) for v in vs] for k, vs in yaml.safe_load(open(a.classes)).items()}
    ds = h5py.File(a.dataset, "r")
    prep = dict(kv.split("=") for kv in ds.attrs["image_preprocessing"].split())
    size, fit = int(prep["size"]), prep["fit"]
    position = {}
    failures, diffs, labels_checked = 0, [], 0
    for n, row in enumerate(rows, start=2):
        split = SPLITS[row["split"].strip().lower()]
        i = position.get(split, 0)
        position[split] = i + 1
        box = None
        if all(row.get(c, "").strip() for c in ("x1", "y1", "x2", "y2")):
            box = tuple(int(round(float(row[c]))) for c in ("x1", "y1", "x2", "y2"))
        ours = ds[f"{split}/images"][i].astype(np.int16)
        theirs = prepare(os.path.join(root, row[path_col].strip()), box, size, fit)
        mad = float(np.abs(ours - theirs).mean())
        diffs.append(mad)
        if mad > a.tolerance:
            failures += 1
            print(f"{a.manifest}:{n}: {row[path_col]}: mean absolute difference {mad:.3f} levels (max {np.abs(ours - theirs).max()})")
        for attr in attributes:
            value = row[attr].strip()
            names = [s.decode() if isinstance(s, bytes) else str(s) for s in ds[f"attributes/{attr}"].attrs["class_names"]]
            expected = -1 if value in ("", "-1") else names.index(value)
            if attr in given and value not in ("", "-1"):
                expected = given[attr].index(value)
            stored = int(ds[f"{split}/labels/{attr}"][i])
            labels_checked += 1
            if stored != expected:
                failures += 1
                print(f"{a.manifest}:{n}: {attr} stored {stored}, the manifest says {value!r} ({expected})")
    print(f"pillow_check: {len(rows)} images, mean absolute difference per image: mean {np.mean(diffs):.3f}, "
          f"max {np.max(diffs):.3f} levels; {labels_checked} labels; {failures} mismatches")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

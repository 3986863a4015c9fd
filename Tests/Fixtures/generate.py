#!/usr/bin/env python3
"""Regenerate or check the PyTorch reference fixtures in Tests/Fixtures.

    python Tests/Fixtures/generate.py [--out DIR]        write the six .h5 files (default: this folder)
    python Tests/Fixtures/generate.py --check DIR        recompute every stored output from the stored
                                                         inputs and compare (exit 1 on a mismatch)
    python Tests/Fixtures/generate.py --only blocks.h5 --seed 7 --out DIR
                                                         only blocks.h5, other weights and batches
    python Tests/Fixtures/generate.py --compare-layout A B
                                                         same groups, datasets, shapes, dtypes and
                                                         attributes in the two folders' files?

Optional tooling: needs torch, numpy and h5py; CI never runs it and the Swift build does not
depend on it. The generator and --check share one compute function per case (inputs in,
outputs out), so a passing --check shows that these functions produce what the files hold.
"""

import argparse
import gzip
import os
import sys
import warnings

import h5py
import yaml
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"  # Debian package dataset-fashion-mnist
FILES = ["layers.h5", "optimizers.h5", "schedules.h5", "calibration.h5", "reference_cnn.h5", "blocks.h5"]
MODELS = os.path.join(HERE, "..", "..", "configs", "models")

# Tolerance of --check: |got - stored| <= RTOL * |stored| + ATOL * max|stored| (per tensor).
# The scale-aware absolute part absorbs float32 sums taken in another order.
RTOL, ATOL = 1e-5, 1e-6


def tensor(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def numpy(t):
    return t.detach().cpu().numpy().copy()


def write(group, name, value):
    # np.asarray keeps 0-d scalars 0-d (num_batches_tracked); ascontiguousarray would make them (1,).
    group.create_dataset(name, data=np.asarray(value, order="C"))


# ---------------------------------------------------------------------------------------------
# layers.h5 /layers: one module, y = module(x), y.backward(dy)
# ---------------------------------------------------------------------------------------------

LAYERS_CONVENTIONS = ("NCHW activations; conv weight [out,in,kh,kw]; linear weight [out,in]; "
                      "y = module(x); dx, grad.* from y.backward(dy)")

# (case, module factory, input shape, note). The first ten are drawn in this order from one
# generator seeded with 0 (module init, then x, then dy), which reproduces the committed
# inputs bit for bit; the batch-norm cases draw their inputs in make_batchnorm_case.
PLAIN_LAYER_CASES = [
    ("conv3x3_pad1", lambda: nn.Conv2d(3, 8, 3, padding=1), (2, 3, 9, 9)),
    ("conv5x5_stride2", lambda: nn.Conv2d(4, 6, 5, stride=2, padding=2), (3, 4, 11, 10)),
    ("conv1x1_nobias", lambda: nn.Conv2d(5, 7, 1, bias=False), (2, 5, 6, 6)),
    ("conv3x3_valid", lambda: nn.Conv2d(2, 4, 3), (2, 2, 7, 8)),
    ("linear", lambda: nn.Linear(13, 7), (5, 13)),
    ("maxpool2", lambda: nn.MaxPool2d(2), (2, 3, 8, 8)),
    ("maxpool3_stride2_pad1", lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 9, 9)),
    ("avgpool2", lambda: nn.AvgPool2d(2), (2, 3, 8, 8)),
    ("global_avgpool", lambda: nn.AdaptiveAvgPool2d(1), (2, 5, 7, 7)),
    ("relu", lambda: nn.ReLU(), (4, 9)),
]

BATCHNORM_CASES = {
    # case: (factory, input shape, training mode, note)
    "batchnorm2d_train": (lambda: nn.BatchNorm2d(6), (4, 6, 5, 5), True,
                          "training mode; buffer_after = running stats after this one batch from mean 0 var 1"),
    "batchnorm1d_train": (lambda: nn.BatchNorm1d(10), (8, 10), True, ""),
    "batchnorm2d_eval": (lambda: nn.BatchNorm2d(6), (3, 6, 4, 4), False,
                         "eval mode with running stats in layers/batchnorm2d_eval_stats"),
}
EVAL_STATS = "batchnorm2d_eval_stats"


def layer_factory(case):
    for name, factory, _ in PLAIN_LAYER_CASES:
        if name == case:
            return factory, True
    factory, _, training, _ = BATCHNORM_CASES[case]
    return factory, training


def run_layer(module, x, dy, training):
    """The outputs stored for a layer case: y, dx, grad.<param>, buffer_after.<float buffer>."""
    module.train(training)
    x = x.clone().requires_grad_(True)
    y = module(x)
    y.backward(dy)
    out = {"y": numpy(y), "dx": numpy(x.grad)}
    for name, p in module.named_parameters():
        out["grad." + name] = numpy(p.grad)
    for name, b in module.named_buffers():
        if b.is_floating_point():  # running_mean/var; num_batches_tracked is an int64 counter
            out["buffer_after." + name] = numpy(b)
    return out


def layer_inputs(module, x, dy):
    out = {"x": numpy(x), "dy": numpy(dy)}
    for name, p in module.named_parameters():
        out["param." + name] = numpy(p)
    return out


def make_batchnorm_case(case):
    """Batch norm with non-trivial inputs: x off zero mean/unit variance so that the
    normalisation matters; affine parameters away from (1, 0) in the 2-D training case;
    eval mode reads running statistics that are not (0, 1)."""
    factory, shape, training, _ = BATCHNORM_CASES[case]
    module = factory()
    channels = shape[1]
    stats = None
    if case == "batchnorm2d_train":
        with torch.no_grad():
            module.weight.copy_(0.6 + 0.9 * torch.rand(channels))
            module.bias.copy_(0.8 * torch.rand(channels) - 0.4)
    if not training:
        stats = {"running_mean": 0.5 * torch.randn(channels), "running_var": 1.0 + torch.rand(channels)}
        with torch.no_grad():
            module.running_mean.copy_(stats["running_mean"])
            module.running_var.copy_(stats["running_var"])
    x = 1.5 * torch.randn(shape) + 0.5 * torch.randn(channels).view(1, channels, *([1] * (len(shape) - 2)))
    dy = torch.randn(shape)
    return module, x, dy, stats


# ---------------------------------------------------------------------------------------------
# layers.h5 /losses: loss(logits, target) averaged over the batch, and its gradient
# ---------------------------------------------------------------------------------------------

def softmax_focal(logits, target, gamma):
    # FL = -(1 - p_t)^gamma log p_t for the true class, averaged over the batch.
    log_pt = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    return (-(1 - log_pt.exp()) ** gamma * log_pt).mean()


def sigmoid_focal(logits, target, alpha, gamma):
    # torchvision.ops.sigmoid_focal_loss with reduction="mean", written out: the per-element
    # BCE scaled by (1 - p_t)^gamma, then by alpha for positives and 1 - alpha for negatives
    # (products in that order, which gives the committed values to the bit).
    p = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (bce * (1 - p_t) ** gamma * alpha_t).mean()


# case: (loss of (logits, target, extra inputs, attrs), names of extra inputs, attrs, kind of inputs)
LOSS_CASES = {
    "softmax_ce_mean": (lambda z, t, e, a: F.cross_entropy(z, t), [], {}, "softmax"),
    "weighted_ce_mean": (lambda z, t, e, a: F.cross_entropy(z, t, weight=e["class_weight"]), ["class_weight"],
                         {"note": "PyTorch weighted mean: sum(w[y]*nll)/sum(w[y])"}, "softmax"),
    "softmax_focal_gamma2_mean": (lambda z, t, e, a: softmax_focal(z, t, a["gamma"]), [],
                                  {"gamma": 2.0, "note": "FL = -(1-p_t)^gamma log p_t, mean over batch"}, "softmax"),
    "bce_logits_mean": (lambda z, t, e, a: F.binary_cross_entropy_with_logits(z, t), [], {}, "binary"),
    "bce_logits_posweight_mean": (lambda z, t, e, a: F.binary_cross_entropy_with_logits(z, t, pos_weight=e["pos_weight"]),
                                  ["pos_weight"], {}, "binary"),
    "sigmoid_focal_a025_g2_mean": (lambda z, t, e, a: sigmoid_focal(z, t, a["alpha"], a["gamma"]), [],
                                   {"alpha": 0.25, "gamma": 2.0, "note": "torchvision.ops.sigmoid_focal_loss"}, "binary"),
    "mse_mean": (lambda z, t, e, a: F.mse_loss(z, t), [], {}, "regression"),
}


def run_loss(case, logits, target, extra, attrs):
    fn = LOSS_CASES[case][0]
    z = logits.clone().requires_grad_(True)
    loss = fn(z, target, extra, attrs)
    loss.backward()
    return {"loss": numpy(loss).reshape(1), "dlogits": numpy(z.grad)}


def loss_inputs(gen):
    # Shared inputs, as in the committed file: one (logits, target) pair per kind of loss.
    softmax = (2.0 * torch.randn(16, 5, generator=gen), torch.randint(0, 5, (16,), generator=gen))
    binary = (2.0 * torch.randn(12, 6, generator=gen), (torch.rand(12, 6, generator=gen) < 0.4).float())
    regression = (torch.randn(7, 4, generator=gen), torch.randn(7, 4, generator=gen))
    extra = {"class_weight": torch.tensor([0.5, 1.0, 2.0, 4.0, 1.5]),
             "pos_weight": torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0, 1.0])}
    return {"softmax": softmax, "binary": binary, "regression": regression}, extra


def write_layers(path):
    with h5py.File(path, "w") as f:
        f.attrs["conventions"] = LAYERS_CONVENTIONS
        f.attrs["seed"] = 0
        f.attrs["torch_version"] = str(torch.__version__)
        layers = f.create_group("layers")
        torch.manual_seed(0)
        for name, factory, shape in PLAIN_LAYER_CASES:
            module = factory()
            x = torch.randn(shape)
            with torch.no_grad():
                dy = torch.randn(module(x).shape)
            store_layer(layers, name, module, x, dy, "", True)
        torch.manual_seed(1)
        for name, (_, _, training, note) in BATCHNORM_CASES.items():
            module, x, dy, stats = make_batchnorm_case(name)
            store_layer(layers, name, module, x, dy, note, training)
            if stats is not None:
                g = layers.create_group(EVAL_STATS)
                for k, v in stats.items():
                    write(g, k, numpy(v))
        losses = f.create_group("losses")
        gen = torch.Generator().manual_seed(2)
        inputs, extra = loss_inputs(gen)
        for name, (_, extra_names, attrs, kind) in LOSS_CASES.items():
            logits, target = inputs[kind]
            g = losses.create_group(name)
            for k, v in attrs.items():
                g.attrs[k] = v
            write(g, "logits", numpy(logits))
            write(g, "target", numpy(target))
            for k in extra_names:
                write(g, k, numpy(extra[k]))
            for k, v in run_loss(name, logits, target, {k: extra[k] for k in extra_names}, attrs).items():
                write(g, k, v)


def store_layer(parent, name, module, x, dy, note, training):
    g = parent.create_group(name)
    g.attrs["module"] = repr(module)
    g.attrs["note"] = note
    inputs = layer_inputs(module, x, dy)  # before the call: parameters as the module starts
    for k, v in {**inputs, **run_layer(module, x, dy, training)}.items():
        write(g, k, v)


def check_layers(path, report):
    with h5py.File(path, "r") as f:
        expected = [n for n, _, _ in PLAIN_LAYER_CASES] + list(BATCHNORM_CASES) + [EVAL_STATS]
        report.text("layers.h5 /layers cases", sorted(f["layers"]), sorted(expected))
        report.text("layers.h5 /losses cases", sorted(f["losses"]), sorted(LOSS_CASES))
        for name, g in f["layers"].items():
            if name == EVAL_STATS:
                continue
            factory, training = layer_factory(name)
            module = factory()
            report.text(f"layers.h5 /layers/{name} module", g.attrs["module"], repr(module))
            with torch.no_grad():
                for pname, p in module.named_parameters():
                    p.copy_(tensor(g["param." + pname][()]))
                if not training:  # eval mode reads the stored running statistics
                    stats = f["layers"][EVAL_STATS]
                    module.running_mean.copy_(tensor(stats["running_mean"][()]))
                    module.running_var.copy_(tensor(stats["running_var"][()]))
            out = run_layer(module, tensor(g["x"][()]), tensor(g["dy"][()]), training)
            report.compare(f"layers.h5 /layers/{name}", g, out)
        for name, g in f["losses"].items():
            _, extra_names, _, _ = LOSS_CASES[name]
            attrs = {k: g.attrs[k] for k in g.attrs if k != "note"}
            extra = {k: tensor(g[k][()]) for k in extra_names}
            out = run_loss(name, tensor(g["logits"][()]), tensor(g["target"][()]), extra, attrs)
            report.compare(f"layers.h5 /losses/{name}", g, out)


# ---------------------------------------------------------------------------------------------
# optimizers.h5: six steps from w0 with the stored gradients
# ---------------------------------------------------------------------------------------------

OPTIMIZER_CASES = {
    "sgd_momentum0.9_wd1e-4_lr0.01": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=1e-4),
    "sgd_nesterov_momentum0.9_lr0.05": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam_lr1e-2": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adamw_lr1e-3_wd1e-2": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2),
    "adamw_lr3e-3_b0.8_0.99_eps1e-6_wd0.1":
        lambda p: torch.optim.AdamW(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
}


def run_optimizer(case, w0, grads):
    """Weights after each step, and the optimizer's defaults (the `hyper` attribute)."""
    w = nn.Parameter(w0.clone())
    opt = OPTIMIZER_CASES[case]([w])
    after = []
    for g in grads:
        w.grad = g.clone()  # gradients are given, not computed: the step alone is tested
        opt.step()
        after.append(numpy(w))
    return {"weights_after_each_step": np.stack(after)}, str(opt.defaults)


def write_optimizers(path):
    gen = torch.Generator().manual_seed(3)
    w0, grads = torch.randn(20, generator=gen), torch.randn(6, 20, generator=gen)
    with h5py.File(path, "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        for name in OPTIMIZER_CASES:
            out, hyper = run_optimizer(name, w0, grads)
            g = f.create_group(name)
            g.attrs["hyper"] = hyper
            write(g, "w0", numpy(w0))
            write(g, "grads", numpy(grads))
            write(g, "weights_after_each_step", out["weights_after_each_step"])


def check_optimizers(path, report):
    with h5py.File(path, "r") as f:
        report.text("optimizers.h5 cases", sorted(f), sorted(OPTIMIZER_CASES))
        for name, g in f.items():
            out, hyper = run_optimizer(name, tensor(g["w0"][()]), tensor(g["grads"][()]))
            report.text(f"optimizers.h5 /{name} hyper", g.attrs["hyper"], hyper)
            report.compare(f"optimizers.h5 /{name}", g, out)


# ---------------------------------------------------------------------------------------------
# schedules.h5: CosineAnnealingWarmRestarts, the learning rate used at each step
# ---------------------------------------------------------------------------------------------

SCHEDULES_NOTE = "lr[i] is the learning rate used for step i; scheduler.step() called after each optimizer step"
SGDR_NOTE = ("T_0 and T_mult count units; with steps_per_unit>1 the scheduler is stepped with "
             "fractional epochs (i+1)/steps_per_unit")
# (T_0, T_mult, eta_min, base_lr, steps_per_unit, steps)
SCHEDULE_CASES = [(10, 1, 0.0, 0.1, 1, 60), (10, 2, 0.001, 0.1, 1, 150),
                  (3, 3, 0.0, 0.1, 5, 200), (1000, 3, 0.0, 0.01, 1, 5000)]


def schedule_name(t0, t_mult, eta_min, spu):
    return f"sgdr_T0_{t0}_Tmult_{t_mult}_etamin_{eta_min}_stepsPerUnit_{spu}"


def run_schedule(t0, t_mult, eta_min, base_lr, spu, steps):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=t0, T_mult=t_mult, eta_min=eta_min)
    lr = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # passing an epoch to step() is deprecated but is the point here
        for i in range(steps):
            lr.append(opt.param_groups[0]["lr"])
            opt.step()
            if spu == 1:
                sched.step()
            else:
                sched.step((i + 1) / spu)
    return {"lr": np.array(lr, dtype=np.float64)}


def write_schedules(path):
    with h5py.File(path, "w") as f:
        f.attrs["note"] = SCHEDULES_NOTE
        f.attrs["torch_version"] = str(torch.__version__)
        for t0, t_mult, eta_min, base_lr, spu, steps in SCHEDULE_CASES:
            g = f.create_group(schedule_name(t0, t_mult, eta_min, spu))
            for k, v in (("T_0", t0), ("T_mult", t_mult), ("eta_min", eta_min), ("base_lr", base_lr),
                         ("steps_per_unit", spu), ("note", SGDR_NOTE)):
                g.attrs[k] = v
            write(g, "lr", run_schedule(t0, t_mult, eta_min, base_lr, spu, steps)["lr"])


def check_schedules(path, report):
    with h5py.File(path, "r") as f:
        report.text("schedules.h5 cases", sorted(f), sorted(schedule_name(c[0], c[1], c[2], c[4]) for c in SCHEDULE_CASES))
        for name, g in f.items():
            a = g.attrs
            out = run_schedule(int(a["T_0"]), int(a["T_mult"]), float(a["eta_min"]), float(a["base_lr"]),
                               int(a["steps_per_unit"]), g["lr"].shape[0])
            report.compare(f"schedules.h5 /{name}", g, out)


# ---------------------------------------------------------------------------------------------
# calibration.h5: temperature scaling of an over-confident model
# ---------------------------------------------------------------------------------------------

CALIBRATION_NOTE = ("temperature minimises mean NLL of softmax(logits/T); ECE with 15 equal-width bins (lo, hi], "
                    "|mean conf - accuracy| weighted by bin share")


def ece(logits, labels, bins=15):
    conf, pred = F.softmax(logits, dim=1).max(dim=1)
    correct = (pred == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    total = torch.zeros(())
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            share = inside.float().mean()
            total += (conf[inside].mean() - correct[inside].mean()).abs() * share
    return total.item()


def run_calibration(logits, labels):
    # Fit log T (so T stays positive) with L-BFGS and a strong-Wolfe line search from T = 1.
    log_t = nn.Parameter(torch.zeros(1))
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        t = log_t.exp()
        return {"temperature": t.item(),
                "nll_before": F.cross_entropy(logits, labels).item(),
                "nll_after": F.cross_entropy(logits / t, labels).item(),
                "ece15_before": ece(logits, labels),
                "ece15_after": ece(logits / t, labels)}


def write_calibration(path):
    # A model that is calibrated at T = 1 on `scores` (labels are drawn from softmax(scores)),
    # then made over-confident by doubling its logits: the fit should land near T = 2.
    gen = torch.Generator().manual_seed(4)
    scores = 1.5 * torch.randn(2000, 6, generator=gen)
    labels = torch.multinomial(F.softmax(scores, dim=1), 1, generator=gen).squeeze(1)
    logits = 2.0 * scores
    with h5py.File(path, "w") as f:
        f.attrs["note"] = CALIBRATION_NOTE
        for k, v in run_calibration(logits, labels).items():
            f.attrs[k] = v
        write(f, "logits", numpy(logits))
        write(f, "labels", numpy(labels))


def check_calibration(path, report):
    with h5py.File(path, "r") as f:
        out = run_calibration(tensor(f["logits"][()]), tensor(f["labels"][()]))
        for k, v in out.items():
            report.values(f"calibration.h5 @{k}", np.array([f.attrs[k]]), np.array([v]))


# ---------------------------------------------------------------------------------------------
# reference_cnn.h5: the reference CNN on 32 Fashion-MNIST training images
# ---------------------------------------------------------------------------------------------

CNN_MODEL = ("conv3x3(1->32,pad1) BN ReLU maxpool2 conv3x3(32->64,pad1) BN ReLU maxpool2 flatten "
             "dense(3136->128) ReLU dense(128->10)")
CNN_NOTE = ("x = train images[sample_indices] / 255 from Fashion-MNIST train split; training-mode BN; "
            "loss = mean softmax CE; names follow PyTorch state_dict")
CNN_OPTIMIZER = ("SGD lr=0.05 momentum=0.9 weight_decay=1e-4, 5 steps on the same batch, "
                 "BN running stats updated each forward")
SAMPLE_INDICES = np.arange(1000, 1032, dtype=np.int64)


class ReferenceCNN(nn.Module):
    """configs/models/reference-cnn.yaml; attribute names give the state_dict names."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.c2, self.b2 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.f1, self.f2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)
        return self.f2(F.relu(self.f1(x.flatten(1))))


def read_idx(path):
    """An IDX file (gzip-compressed) as a uint8 array: magic 0x0000 08 nd, then nd big-endian sizes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    nd = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(shape)


def fashion_mnist_batch(folder, indices):
    images = read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))
    x = (images[indices].astype(np.float32) / 255.0)[:, None, :, :]
    return x, labels[indices].astype(np.int64)


def run_reference_cnn(init, x, y):
    """One training pass (logits, loss, gradients), continued to five SGD steps on that batch."""
    model = ReferenceCNN()
    model.load_state_dict({k: tensor(v) for k, v in init.items()})
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    out = {}
    for step in range(5):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if step == 0:
            out["logits"], out["loss"] = numpy(logits), numpy(loss).reshape(1)
            out.update({"grad/" + k: numpy(p.grad) for k, p in model.named_parameters()})
        opt.step()
    out.update({"after_5_sgd_steps/" + k: numpy(v) for k, v in model.state_dict().items()
                if not k.endswith("num_batches_tracked")})
    return out


def write_reference_cnn(path, fashion_mnist):
    torch.manual_seed(5)
    init = {k: numpy(v) for k, v in ReferenceCNN().state_dict().items()}
    x, y = fashion_mnist_batch(fashion_mnist, SAMPLE_INDICES)
    out = run_reference_cnn(init, tensor(x), tensor(y))
    with h5py.File(path, "w") as f:
        f.attrs["model"] = CNN_MODEL
        f.attrs["note"] = CNN_NOTE
        write(f, "sample_indices", SAMPLE_INDICES)
        write(f, "x", x)
        write(f, "y", y)
        for k, v in init.items():
            write(f.require_group("init"), k, v)
        f.require_group("grad")
        f.require_group("after_5_sgd_steps").attrs["optimizer"] = CNN_OPTIMIZER
        for k, v in out.items():
            write(f, k, v)


def check_reference_cnn(path, report, fashion_mnist):
    with h5py.File(path, "r") as f:
        x, y = f["x"][()], f["y"][()]
        if os.path.isdir(fashion_mnist):  # the stored batch is what the note says it is
            fx, fy = fashion_mnist_batch(fashion_mnist, f["sample_indices"][()])
            report.values("reference_cnn.h5 x = images[sample_indices]/255", x, fx)
            report.values("reference_cnn.h5 y = labels[sample_indices]", y, fy)
        init = {k: v[()] for k, v in f["init"].items()}
        out = run_reference_cnn(init, tensor(x), tensor(y))
        report.compare("reference_cnn.h5 pass", f, {k: v for k, v in out.items() if not k.startswith("after_")})
        report.compare("reference_cnn.h5 after_5_sgd_steps", f,
                       {k: v for k, v in out.items() if k.startswith("after_")})


# ---------------------------------------------------------------------------------------------
# blocks.h5: Loom model files (blocks and shipped models) and their PyTorch twins, one
# training-mode pass on one batch
# ---------------------------------------------------------------------------------------------

BLOCKS_NOTE = ("/<case>: attribute 'model' is a Loom model file (YAML); its PyTorch twin is built from "
               "torch.nn modules layer by layer (LoomTwin). init/<name>: parameters and buffers by Loom "
               "name (= state_dict name); x (N,C,H,W); dlogits (N,K) of the single head; logits; "
               "grad/<name>; batch_mean/<bn> and batch_var/<bn> (unbiased) of every batch norm. "
               "Training-mode batch norm; loss = sum(dlogits * logits). x is redrawn until every ReLU input "
               "is at least 1e-5 from 0 (no sign decided by rounding). model_resnet_18 (11.2 M parameters) "
               "stores no init/: its tensors are formula_init(seed = attribute formula_seed) in generate.py; "
               "grad/<name> holds every grad_stride-th element (all below grad_whole_below elements) and "
               "grad_sumsq/<name> each gradient's sum of squares; relu_margin is its batch's smallest |ReLU input|.")

# Small blocks, one behaviour each; the shipped models are read from configs/models.
BLOCK_CASES = {
    "residual_basic_downsample": """
input: [4, 8, 8]
layers:
  - kind: residual
    block:
      - {kind: conv2d, name: l1.conv1, out: 8, kernel: 3, stride: 2, padding: 1, bias: false}
      - {kind: batchnorm2d, name: l1.bn1}
      - {kind: relu}
      - {kind: conv2d, name: l1.conv2, out: 8, kernel: 3, stride: 1, padding: 1, bias: false}
      - {kind: batchnorm2d, name: l1.bn2}
    shortcut:
      - {kind: conv2d, name: l1.down.0, out: 8, kernel: 1, stride: 2, bias: false}
      - {kind: batchnorm2d, name: l1.down.1}
  - {kind: relu}
  - {kind: globalavgpool}
  - {kind: flatten}
heads:
  - {name: out, kind: softmax, classes: 3}
""",
    "residual_bottleneck_downsample": """
input: [8, 7, 7]
layers:
  - kind: residual
    block:
      - {kind: conv2d, name: b.conv1, out: 4, kernel: 1, bias: false}
      - {kind: batchnorm2d, name: b.bn1}
      - {kind: relu}
      - {kind: conv2d, name: b.conv2, out: 4, kernel: 3, stride: 2, padding: 1, bias: false}
      - {kind: batchnorm2d, name: b.bn2}
      - {kind: relu}
      - {kind: conv2d, name: b.conv3, out: 16, kernel: 1, bias: false}
      - {kind: batchnorm2d, name: b.bn3}
    shortcut:
      - {kind: conv2d, name: b.downsample.0, out: 16, kernel: 1, stride: 2, bias: false}
      - {kind: batchnorm2d, name: b.downsample.1}
  - {kind: relu}
  - {kind: globalavgpool}
  - {kind: flatten}
heads:
  - {name: out, kind: softmax, classes: 3}
""",
    "depthwise_pointwise_silu": """
input: [3, 9, 10]
layers:
  - {kind: depthwise2d, name: dw1, kernel: 3, stride: 1, padding: 1}
  - {kind: silu}
  - {kind: depthwise2d, name: dw2, kernel: 5, stride: 2, padding: 2, bias: false}
  - {kind: conv2d, name: pw, out: 6, kernel: 1}
  - {kind: depthwise2d, name: dw3, kernel: 3, stride: 2, padding: 0}
  - {kind: silu}
  - {kind: flatten}
heads:
  - {name: out, kind: softmax, classes: 4}
""",
    "mbconv_squeeze_excite": """
input: [4, 8, 8]
layers:
  - kind: residual
    block:
      - {kind: conv2d, name: m.expand, out: 16, kernel: 1, bias: false}
      - {kind: batchnorm2d, name: m.bn0}
      - {kind: silu}
      - {kind: depthwise2d, name: m.dw, kernel: 3, padding: 1, bias: false}
      - {kind: batchnorm2d, name: m.bn1}
      - {kind: silu}
      - {kind: squeeze_excite, name: m.se, squeeze: 2, activation: silu}
      - {kind: conv2d, name: m.project, out: 4, kernel: 1, bias: false}
      - {kind: batchnorm2d, name: m.bn2}
  - {kind: squeeze_excite, name: se2, squeeze: 3, activation: relu}
  - {kind: globalavgpool}
  - {kind: flatten}
heads:
  - {name: out, kind: softmax, classes: 3}
""",
    "inception_concat": """
input: [4, 6, 6]
layers:
  - {kind: conv2d, name: stem, out: 4, kernel: 3, padding: 1}
  - kind: concat
    branches:
      - [{kind: conv2d, name: b1, out: 3, kernel: 1}]
      - [{kind: conv2d, name: b2a, out: 2, kernel: 1}, {kind: relu}, {kind: conv2d, name: b2b, out: 5, kernel: 3, padding: 1}]
      - [{kind: maxpool2d, kernel: 3, stride: 1, padding: 1}, {kind: conv2d, name: b3, out: 2, kernel: 1}]
  - {kind: relu}
  - {kind: flatten}
heads:
  - {name: out, kind: softmax, classes: 3}
""",
}
# Shipped models: (file in configs/models, batch size).
MODEL_CASES = {"model_resnet_20": ("resnet-20.yaml", 2), "model_mobilenet_small": ("mobilenet-small.yaml", 2)}
# Shipped models too large to store whole (ResNet-18: 11.2 M parameters, 45 MB a copy): their
# weights come from `formula_init`, which the Swift test computes too, and only every
# GRAD_STRIDE-th element of a gradient is stored (all of one below GRAD_WHOLE elements), with
# each gradient's sum of squares. Logits and batch statistics are stored whole.
BIG_MODEL_CASES = {"model_resnet_18": ("resnet-18.yaml", 2)}
GRAD_STRIDE, GRAD_WHOLE = 61, 4096


def formula_uniform(seed, index, n):
    """n float32 values in [-1, 1), each an integer times 2^-23 (exact in float32): element i of
    tensor `index` (its place among the model's tensor names, sorted) under `seed`, from a
    32-bit integer hash. Loom's test computes the same bits (BlockFixtureTests.swift)."""
    m = np.uint32(0xFFFFFFFF)
    base = np.uint32((index * 0x85EBCA77 + seed * 0xC2B2AE3D + 0x27D4EB2F) & 0xFFFFFFFF)
    with np.errstate(over="ignore"):
        x = np.arange(n, dtype=np.uint32) * np.uint32(0x9E3779B1) + base
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x2C1B3C6D)
        x ^= x >> np.uint32(12)
        x *= np.uint32(0x297A2D39)
        x ^= x >> np.uint32(15)
    del m
    return ((x >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -23) - np.float32(1)).astype(np.float32)


def formula_init(twin, seed):
    """Every tensor of `twin` from `formula_uniform`, each rounded once in float32: conv and
    linear weights u / sqrt(fan_in); batch-norm scales and running variances 1 + u/2; biases
    and running means u/5."""
    out = {}
    for index, name in enumerate(sorted(twin.tensors)):
        t = twin.tensors[name]
        u = formula_uniform(seed, index, t.numel())
        if name.endswith(".weight") and t.dim() >= 2:
            fan_in = int(np.prod(t.shape[1:]))
            v = u * (np.float32(1) / np.sqrt(np.float32(fan_in)))
        elif name.endswith((".weight", ".running_var")):
            v = np.float32(1) + np.float32(0.5) * u
        else:
            v = np.float32(0.2) * u
        out[name] = v.astype(np.float32).reshape(tuple(t.shape))
    return out


def sampled_gradients(outputs):
    """run_block's outputs with each gradient cut to every GRAD_STRIDE-th element (whole below
    GRAD_WHOLE), and its float64 sum of squares beside it."""
    out = {}
    for k, v in outputs.items():
        if not k.startswith("grad/"):
            out[k] = v
            continue
        flat = v.reshape(-1)
        out[k] = flat if flat.size < GRAD_WHOLE else flat[::GRAD_STRIDE].copy()
        out["grad_sumsq/" + k[5:]] = np.float64((flat.astype(np.float64) ** 2).sum())
    return out


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation (same state_dict names fc1, fc2), written out so
    that the script needs no torchvision."""

    def __init__(self, channels, squeeze, activation):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()

    def forward(self, x):
        gate = torch.sigmoid(self.fc2(self.activation(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
        return x * gate


class MarginReLU(nn.ReLU):
    """nn.ReLU that remembers the smallest |input| of its last call: an input within float32
    rounding of 0 may take the other side in a sum taken in another order."""

    def forward(self, x):
        self.margin = float(x.detach().abs().min())
        return super().forward(x)


# The batch of a case is redrawn until every ReLU input is at least this far from 0.
RELU_MARGIN = 1e-5


class LoomTwin(nn.Module):
    """A Loom model file built from torch.nn modules, layer for layer. `tensors` maps each
    Loom name (the state_dict name) to its parameter or buffer."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.mods = nn.ModuleList()
        self.tensors = {}
        self.norms = []
        self.relus = []
        shape = list(spec["input"])
        self.trunk, shape = self.build(spec["layers"], shape)
        head = spec["heads"][0]
        features = int(np.prod(shape))
        name = head.get("layer", "head." + head["name"])
        self.head = self.add(name, nn.Linear(features, head["classes"]))

    def add(self, name, module):
        self.mods.append(module)
        for k, v in list(module.named_parameters()) + list(module.named_buffers()):
            if not k.endswith("num_batches_tracked"):
                self.tensors[f"{name}.{k}"] = v
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            self.norms.append((name, module))
        return module

    def build(self, layers, shape):
        ops = []
        for l in layers:
            op, shape = self.layer(l, shape)
            ops.append(op)
        return ops, shape

    def layer(self, l, shape):
        kind, name = l["kind"], l.get("name", "")
        if kind == "conv2d":
            c, h, w = shape
            k, s, p = l.get("kernel", 3), l.get("stride", 1), l.get("padding", 0)
            m = self.add(name, nn.Conv2d(c, l["out"], k, s, p, bias=l.get("bias", True)))
            return m, [l["out"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1]
        if kind == "depthwise2d":
            c, h, w = shape
            k, s, p = l.get("kernel", 3), l.get("stride", 1), l.get("padding", 0)
            m = self.add(name, nn.Conv2d(c, c, k, s, p, groups=c, bias=l.get("bias", True)))
            return m, [c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1]
        if kind == "linear":
            m = self.add(name, nn.Linear(shape[0], l["out"], bias=l.get("bias", True)))
            return m, [l["out"]]
        if kind in ("batchnorm2d", "batchnorm1d"):
            cls = nn.BatchNorm2d if kind == "batchnorm2d" else nn.BatchNorm1d
            m = self.add(name, cls(shape[0], eps=l.get("eps", 1e-5), momentum=l.get("momentum", 0.1)))
            return m, shape
        if kind == "relu":
            relu = MarginReLU()
            self.relus.append(relu)
            return relu, shape
        if kind == "silu":
            return nn.SiLU(), shape
        if kind in ("maxpool2d", "avgpool2d"):
            c, h, w = shape
            k = l.get("kernel", 2)
            s, p = l.get("stride", k), l.get("padding", 0)
            m = nn.MaxPool2d(k, s, p) if kind == "maxpool2d" else nn.AvgPool2d(k, s, p)
            return m, [c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1]
        if kind == "globalavgpool":
            return nn.AdaptiveAvgPool2d(1), [shape[0], 1, 1]
        if kind == "flatten":
            return nn.Flatten(), [int(np.prod(shape))]
        if kind == "squeeze_excite":
            c = shape[0]
            act = nn.SiLU if l.get("activation", "relu") == "silu" else nn.ReLU
            return self.add(name, SqueezeExcitation(c, l["squeeze"], act)), shape
        if kind == "residual":
            body, out = self.build(l["block"], shape)
            short, short_out = self.build(l.get("shortcut", []), shape)
            assert out == short_out, (out, short_out)
            return ("residual", body, short), out
        if kind == "concat":
            branches, outs = [], []
            for b in l["branches"]:
                ops, out = self.build(b, shape)
                branches.append(ops)
                outs.append(out)
            if len(outs[0]) == 1:
                return ("concat", branches), [sum(o[0] for o in outs)]
            return ("concat", branches), [sum(o[0] for o in outs)] + outs[0][1:]
        raise ValueError(f"unknown layer kind {kind}")

    def run(self, ops, x):
        for op in ops:
            if isinstance(op, tuple) and op[0] == "residual":
                x = self.run(op[1], x) + self.run(op[2], x)
            elif isinstance(op, tuple):
                x = torch.cat([self.run(b, x) for b in op[1]], dim=1)
            else:
                x = op(x)
        return x

    def forward(self, x):
        return self.head(self.run(self.trunk, x))


def block_init(twin, seed):
    """PyTorch's default initialisation, then batch-norm affine parameters and running
    statistics drawn away from 1 and 0 so that a mix-up of them shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in twin.tensors.items():
            if any(name.endswith(s) for s in (".running_mean", ".running_var")) or \
                    (name.rsplit(".", 1)[0] in dict(twin.norms)):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen) if not name.endswith(("bias", "mean"))
                        else 0.2 * torch.randn(t.shape, generator=gen))
    return {k: numpy(v) for k, v in twin.tensors.items()}


def run_block(model_text, init, x, dlogits):
    spec = yaml.safe_load(model_text)
    twin = LoomTwin(spec)
    with torch.no_grad():
        for k, v in init.items():
            twin.tensors[k].copy_(tensor(v))
    twin.train()
    stats = {}
    hooks = []
    for name, m in twin.norms:
        def hook(module, inputs, output, name=name):
            dims = [0, 2, 3] if inputs[0].dim() == 4 else [0]
            stats["batch_mean/" + name] = numpy(inputs[0].mean(dims))
            stats["batch_var/" + name] = numpy(inputs[0].var(dims, unbiased=True))
        hooks.append(m.register_forward_hook(hook))
    logits = twin(tensor(x))
    logits.backward(tensor(dlogits))
    out = {"logits": numpy(logits), **stats}
    for k, v in twin.tensors.items():
        if isinstance(v, nn.Parameter):
            out["grad/" + k] = numpy(v.grad)
    return out


def block_cases():
    cases = dict(BLOCK_CASES)
    for name, (file, _) in MODEL_CASES.items():
        with open(os.path.join(MODELS, file)) as f:
            cases[name] = f.read()
    return cases


def big_model_cases():
    cases = {}
    for name, (file, _) in BIG_MODEL_CASES.items():
        with open(os.path.join(MODELS, file)) as f:
            cases[name] = f.read()
    return cases


def write_big_model(f, name, seed, draw_seed):
    """A BIG_MODEL_CASES case: the model file, the formula's seed, a batch and its outputs
    (gradients sampled). The batch is drawn until every ReLU input is RELU_MARGIN from 0, or
    the best of 20 draws (a network this size rarely gets there; its smallest margin is kept
    in the attribute `relu_margin`, and the test's tolerance covers a flip below it)."""
    text = big_model_cases()[name]
    spec = yaml.safe_load(text)
    twin = LoomTwin(spec)
    init = formula_init(twin, seed)
    with torch.no_grad():
        for k, v in init.items():
            twin.tensors[k].copy_(tensor(v))
    batch = BIG_MODEL_CASES[name][1]
    torch.manual_seed(draw_seed)
    best = None
    for _ in range(20):
        x = torch.randn([batch] + list(spec["input"]))
        with torch.no_grad():
            twin.train()(x)
        margin = min(r.margin for r in twin.relus)
        if best is None or margin > best[0]:
            best = (margin, x)
        if margin >= RELU_MARGIN:
            break
    margin, x = best
    dlogits = torch.randn(batch, spec["heads"][0]["classes"])
    g = f.create_group(name)
    g.attrs["model"] = text
    g.attrs["formula_seed"] = np.int64(seed)
    g.attrs["grad_stride"] = np.int64(GRAD_STRIDE)
    g.attrs["grad_whole_below"] = np.int64(GRAD_WHOLE)
    g.attrs["relu_margin"] = np.float64(margin)
    write(g, "x", numpy(x))
    write(g, "dlogits", numpy(dlogits))
    for k, v in sampled_gradients(run_block(text, init, numpy(x), numpy(dlogits))).items():
        write(g, k, v)


def write_blocks(path, seed=0):
    """seed 0 writes the committed file; another seed draws other weights and batches, the
    same cases and layout (a reviewer's own fixtures, --seed)."""
    with h5py.File(path, "w") as f:
        f.attrs["note"] = BLOCKS_NOTE
        f.attrs["torch_version"] = str(torch.__version__)
        for i, name in enumerate(sorted(BIG_MODEL_CASES)):
            write_big_model(f, name, seed, 500 + i + 1000 * seed)
        for i, (name, text) in enumerate(sorted(block_cases().items())):
            torch.manual_seed(100 + i + 1000 * seed)
            spec = yaml.safe_load(text)
            twin = LoomTwin(spec)
            init = block_init(twin, 200 + i + 1000 * seed)
            batch = MODEL_CASES.get(name, (None, 4))[1]
            while True:
                x = torch.randn([batch] + list(spec["input"]))
                with torch.no_grad():
                    twin.train()(x)
                if all(r.margin >= RELU_MARGIN for r in twin.relus):
                    break
            dlogits = torch.randn(batch, spec["heads"][0]["classes"])
            g = f.create_group(name)
            g.attrs["model"] = text
            for k, v in init.items():
                write(g.require_group("init"), k, v)
            write(g, "x", numpy(x))
            write(g, "dlogits", numpy(dlogits))
            for k, v in run_block(text, init, numpy(x), numpy(dlogits)).items():
                write(g, k, v)


def check_blocks(path, report):
    with h5py.File(path, "r") as f:
        report.text("blocks.h5 cases", sorted(f), sorted(list(block_cases()) + list(BIG_MODEL_CASES)))
        for name, g in f.items():
            if name in BIG_MODEL_CASES:
                text = g.attrs["model"]
                report.text(f"blocks.h5 /{name} model", text, big_model_cases()[name])
                init = formula_init(LoomTwin(yaml.safe_load(text)), int(g.attrs["formula_seed"]))
                out = sampled_gradients(run_block(text, init, g["x"][()], g["dlogits"][()]))
                report.compare(f"blocks.h5 /{name}", g, out)
                continue
            report.text(f"blocks.h5 /{name} model", g.attrs["model"], block_cases().get(name))
            init = {k: v[()] for k, v in g["init"].items()}
            out = run_block(g.attrs["model"], init, g["x"][()], g["dlogits"][()])
            report.compare(f"blocks.h5 /{name}", g, out)


# ---------------------------------------------------------------------------------------------
# Comparison and reporting
# ---------------------------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.failures = self.lines = self.exact = 0

    def values(self, label, stored, got):
        stored, got = np.asarray(stored), np.asarray(got)
        if stored.shape != got.shape:
            return self._line(label, False, f"shape {got.shape} != stored {stored.shape}")
        e, g = stored.astype(np.float64), got.astype(np.float64)
        diff = np.abs(g - e)
        scale = np.abs(e).max() if e.size else 0.0
        ok = bool(np.all(diff <= RTOL * np.abs(e) + ATOL * scale))
        max_diff = diff.max() if diff.size else 0.0
        self.exact += int(max_diff == 0)
        rel = max_diff / scale if scale > 0 else max_diff
        return self._line(label, ok, f"max |diff| {max_diff:.3g}, relative to max |stored| {rel:.3g}")

    def compare(self, label, group, outputs):
        """Every output against the dataset of the same name in `group`; one line per case."""
        worst, ok, exact, detail = 0.0, True, True, []
        for name, got in outputs.items():
            stored = group[name][()]
            e, g = np.asarray(stored, np.float64), np.asarray(got, np.float64)
            if e.shape != g.shape:
                ok = False
                detail.append(f"{name}: shape {g.shape} != {e.shape}")
                continue
            diff = np.abs(g - e)
            scale = np.abs(e).max() if e.size else 0.0
            bad = ~(diff <= RTOL * np.abs(e) + ATOL * scale)
            rel = (diff.max() / scale if scale > 0 else diff.max()) if diff.size else 0.0
            worst = max(worst, rel)
            exact = exact and rel == 0
            if bad.any():
                ok = False
                detail.append(f"{name}: {int(bad.sum())} of {e.size} outside, max rel {rel:.3g}")
        self.exact += int(ok and exact)
        self._line(label, ok, f"{len(outputs)} outputs, max |diff|/max|stored| {worst:.3g}"
                   + ("" if ok else "; " + "; ".join(detail)))

    def text(self, label, stored, got):
        self.exact += int(stored == got)
        self._line(label, stored == got, "identical" if stored == got else f"{got!r} != stored {stored!r}")

    def _line(self, label, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {detail}")
        self.lines += 1
        self.failures += 0 if ok else 1


def layout(path):
    """Everything but the numbers: paths, kinds, shapes, dtypes, attribute names and dtypes,
    and the text of string attributes (notes, module reprs, hyper-parameters)."""
    entries = {}

    def attrs(obj):
        out = {}
        for k, v in obj.attrs.items():
            out[k] = v if isinstance(v, str) else str(np.asarray(v).dtype)
        return out

    with h5py.File(path, "r") as f:
        entries["/"] = ("group", attrs(f))

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                entries["/" + name] = ("dataset", obj.shape, str(obj.dtype), obj.chunks, obj.compression, attrs(obj))
            else:
                entries["/" + name] = ("group", attrs(obj))

        f.visititems(visit)
    return entries


def compare_layout(a_dir, b_dir):
    differences = 0
    for name in FILES:
        a, b = layout(os.path.join(a_dir, name)), layout(os.path.join(b_dir, name))
        diffs = [f"{p}: only in {a_dir if p in a else b_dir}" for p in sorted(set(a) ^ set(b))]
        diffs += [f"{p}: {a[p]} != {b[p]}" for p in sorted(set(a) & set(b)) if a[p] != b[p]]
        print(f"{'ok  ' if not diffs else 'FAIL'} {name}: {len(a)} objects" + "".join("\n     " + d for d in diffs))
        differences += len(diffs)
    return differences


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=HERE, help="folder to write the six files to (default: %(default)s)")
    parser.add_argument("--check", metavar="DIR", help="recompute the outputs stored in DIR's files and compare")
    parser.add_argument("--compare-layout", nargs=2, metavar=("A", "B"), help="compare the structure of two folders")
    parser.add_argument("--fashion-mnist", default=FASHION_MNIST, help="folder of the IDX files (default: %(default)s)")
    parser.add_argument("--only", choices=FILES, action="append",
                        help="with --out or --check: only this file (repeatable; default: all six)")
    parser.add_argument("--seed", type=int, default=0,
                        help="with --out: draw blocks.h5's weights and batches from another seed "
                             "(default 0: the committed file)")
    args = parser.parse_args()
    # One thread: sums are taken in one order, so reruns on one machine give the same bits.
    torch.set_num_threads(1)

    if args.compare_layout:
        sys.exit(1 if compare_layout(*args.compare_layout) else 0)
    if args.check:
        report = Report()
        print(f"torch {torch.__version__}; tolerance |diff| <= {RTOL:g}*|stored| + {ATOL:g}*max|stored|")
        checkers = {
            "layers.h5": check_layers, "optimizers.h5": check_optimizers, "schedules.h5": check_schedules,
            "calibration.h5": check_calibration,
            "reference_cnn.h5": lambda path, r: check_reference_cnn(path, r, args.fashion_mnist),
            "blocks.h5": check_blocks,
        }
        for name in args.only or FILES:
            checkers[name](os.path.join(args.check, name), report)
        print(f"{report.lines} checks, {report.failures} mismatches, {report.exact} bit for bit")
        sys.exit(1 if report.failures else 0)

    os.makedirs(args.out, exist_ok=True)
    writers = {
        "layers.h5": write_layers, "optimizers.h5": write_optimizers, "schedules.h5": write_schedules,
        "calibration.h5": write_calibration,
        "reference_cnn.h5": lambda path: write_reference_cnn(path, args.fashion_mnist),
        "blocks.h5": lambda path: write_blocks(path, args.seed),
    }
    chosen = args.only or FILES
    for name in chosen:
        writers[name](os.path.join(args.out, name))
    print(f"wrote {', '.join(chosen)} to {args.out} with torch {torch.__version__}"
          + (f", blocks.h5 from seed {args.seed}" if args.seed and "blocks.h5" in chosen else ""))


if __name__ == "__main__":
    main()

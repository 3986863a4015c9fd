#!/usr/bin/env python3
"""Training speed of the reference CNN in PyTorch on this CPU, as a yardstick for `loom bench`.

    python deploy/bench/pytorch_reference.py [--batch 128] [--seconds 3] [--threads 1] [--ddp N] [--json]

The model is configs/models/reference-cnn.yaml layer for layer; the loss and optimizer are
the ones Loom trains it with (mean softmax cross-entropy, SGD lr 0.01 momentum 0.9 weight
decay 5e-4). Each timed step is a whole training step: zero_grad, forward in train mode,
loss, backward, optimizer step. Data are synthetic and made once, so the figure is compute
(and, with --ddp, gradient all-reduce), not data loading.

--ddp N runs N processes (DistributedDataParallel over gloo on 127.0.0.1), each with one
thread and batch/N samples per step, and reports the global samples/s.
Needs torch only; nothing in Loom's build or CI runs it.
"""

import argparse
import json
import socket
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WARMUP_STEPS = 3      # first steps allocate buffers and pick kernels: not timed
CALIBRATION_STEPS = 3  # timed roughly, to turn --seconds into a step count


def reference_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def measure(model, batch, seconds, seed, sync=None):
    """Whole training steps on one synthetic batch; returns (steps, elapsed seconds)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    model.train()

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()  # with DDP, backward also all-reduces the gradients
        opt.step()

    for _ in range(WARMUP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(CALIBRATION_STEPS):
        step()
    per_step = (time.perf_counter() - start) / CALIBRATION_STEPS
    steps = torch.tensor([max(5, round(seconds / per_step))])
    # Every DDP process must run the same number of steps (each backward is a collective),
    # so rank 0's count is the one used; `sync` broadcasts it and lines up the start and end.
    if sync:
        sync.broadcast(steps, src=0)
        sync.barrier()
    start = time.perf_counter()
    for _ in range(int(steps)):
        step()
    if sync:
        sync.barrier()
    return int(steps), time.perf_counter() - start


def ddp_worker(rank, world, port, args):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    # One thread per process: N processes share the N cores, as Loom's workers do.
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.manual_seed(0)  # same initial weights everywhere (DDP also broadcasts rank 0's)
    model = DistributedDataParallel(reference_cnn())
    steps, elapsed = measure(model, args.batch // world, args.seconds, seed=rank, sync=dist)
    if rank == 0:
        report(args, steps, elapsed, batch=(args.batch // world) * world, threads=1, processes=world)
    dist.destroy_process_group()


def report(args, steps, elapsed, batch, threads, processes):
    rate = steps * batch / elapsed
    print(f"reference CNN, PyTorch {torch.__version__}: {rate:.0f} samples/s "
          f"(batch {batch}, {processes} process(es) x {threads} thread(s), {steps} steps in {elapsed:.2f} s)",
          flush=True)
    if args.json:
        print(json.dumps({"samples_per_s": round(rate, 1), "batch": batch, "threads": threads,
                          "ddp_processes": processes, "torch_version": str(torch.__version__),
                          "seconds": round(elapsed, 3), "steps": steps, "warmup_steps": WARMUP_STEPS}),
              flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128, help="global samples per step (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time to measure, after warm-up (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads without --ddp (default: %(default)s)")
    parser.add_argument("--ddp", type=int, default=0, metavar="N", help="N DistributedDataParallel processes, 1 thread each")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()

    if args.ddp:
        if args.batch < args.ddp:
            parser.error("--batch must be at least --ddp")
        import torch.multiprocessing as mp
        mp.spawn(ddp_worker, args=(args.ddp, free_port(), args), nprocs=args.ddp)
        return
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(0)
    steps, elapsed = measure(reference_cnn(), args.batch, args.seconds, seed=0)
    report(args, steps, elapsed, batch=args.batch, threads=args.threads, processes=1)


if __name__ == "__main__":
    main()

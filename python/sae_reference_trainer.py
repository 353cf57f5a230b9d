#!/usr/bin/env python3
"""A PyTorch trainer of the standard ReLU SAE, the reference `npm run bench` races.

It trains the SAE the TypeScript trainer trains, with the same loss, batch and
optimiser:

    input = x - b_dec,  f = ReLU(input W_enc + b_enc),  x_hat = f W_dec + b_dec
    L = (1/B) sum_b ||x_b - x_hat_b||^2 + lambda (1/B) sum_b sum_i f_bi ||W_dec,i||

with Adam (PyTorch's defaults: betas 0.9, 0.999, eps 1e-8), the learning rate and
lambda set every step (their schedules), and the same per-step bookkeeping: the
loss, L0 and the steps since each latent last fired.

Two ways of taking a step, both timed, since the reference should be the fastest
fair PyTorch:
  autograd  loss.backward() and torch.optim.Adam (foreach), the natural PyTorch code
  manual    the hand-derived backward pass of the TypeScript graph and Adam, written
            as in-place torch ops with no autograd graph

Usage:
  sae_reference_trainer.py --d-in 512 --d-sae 4096 --batch 1024 [--steps 16] [--mode autograd]
      times one run and prints {"steps_per_s": ..., ...} as JSON
  sae_reference_trainer.py --serve
      reads one JSON request per line ({"d_in", "d_sae", "batch", "steps", "mode"},
      or {"matmul": n, "seconds": s}) and answers each with one JSON line, so a benchmark can
      interleave its own runs with these without paying for Python's start each time
  sae_reference_trainer.py --check params.json
      trains from given parameters on a given batch with both steps and prints the
      losses and final parameters (the unit tests compare them with the TypeScript
      training graph: the race is between implementations of the same training)
  sae_reference_trainer.py --matmul 1024
      times float32 [n x n] x [n x n] products with torch and with numpy for half a
      second each: the best product's GFLOP/s and the mean over the half second

Threads: torch.set_num_threads(--threads, default the environment's
OMP_NUM_THREADS or 2). Run with OMP_WAIT_POLICY=PASSIVE on a machine with few
cores: OpenMP's spinning waiters otherwise steal the cores the work needs.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

BETAS = (0.9, 0.999)
EPS = 1e-8
LEARNING_RATE = 3e-4
L1_COEFFICIENT = 5.0
DATA_BATCHES = 4


class Sae:
    """Parameters as the TypeScript trainer starts them: decoder rows of norm 0.1, the encoder their transpose."""

    def __init__(self, d_in: int, d_sae: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        w_dec = torch.randn(d_sae, d_in, generator=g)
        w_dec *= 0.1 / w_dec.norm(dim=1, keepdim=True)
        self.W_enc = w_dec.t().contiguous().requires_grad_()
        self.b_enc = torch.zeros(d_sae, requires_grad=True)
        self.W_dec = w_dec.requires_grad_()
        self.b_dec = torch.zeros(d_in, requires_grad=True)
        self.params = [self.W_enc, self.b_enc, self.W_dec, self.b_dec]
        self.steps_since_fired = torch.zeros(d_sae)


def bookkeeping(sae: Sae, f: torch.Tensor, batch: int) -> torch.Tensor:
    """L0 of the batch, and the dead-latent counters the TypeScript graph also updates."""
    active = f > 0
    fired = active.any(0)
    sae.steps_since_fired.add_(1).masked_fill_(fired, 0)
    return active.sum() / batch


def autograd_trainer(sae: Sae):
    opt = torch.optim.Adam(sae.params, lr=LEARNING_RATE, betas=BETAS, eps=EPS, foreach=True)

    def step(x: torch.Tensor, lr: float, lam: float):
        batch = x.shape[0]
        pre = torch.addmm(sae.b_enc, x - sae.b_dec, sae.W_enc)
        f = torch.relu(pre)
        x_hat = torch.addmm(sae.b_dec, f, sae.W_dec)
        mse = (x_hat - x).pow(2).sum() / batch
        l1 = (f.sum(0) * sae.W_dec.norm(dim=1)).sum() / batch
        loss = mse + lam * l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        with torch.no_grad():
            l0 = bookkeeping(sae, f, batch)
        return loss.detach(), l0

    return step


def manual_trainer(sae: Sae):
    """The TypeScript graph's backward pass (src/core/sae/architectures/standard.ts) and Adam, in place."""
    params = [p.detach() for p in sae.params]
    w_enc, b_enc, w_dec, b_dec = params
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    t = 0

    @torch.no_grad()
    def step(x: torch.Tensor, lr: float, lam: float):
        nonlocal t
        batch = x.shape[0]
        inp = x - b_dec
        pre = torch.addmm(b_enc, inp, w_enc)
        f = torch.relu(pre)
        err = torch.addmm(b_dec, f, w_dec).sub_(x)
        row_norms = w_dec.norm(dim=1)
        act_sums = f.sum(0)
        mse = err.pow(2).sum() / batch
        l1 = (act_sums * row_norms).sum() / batch
        loss = mse + lam * l1
        g = err.mul_(2 / batch)
        grad_w_dec = torch.addmm(w_dec, f.t(), g, beta=0).add_(w_dec * (act_sums * (lam / batch) / row_norms).unsqueeze(1))
        grad_b_dec = g.sum(0)
        grad_pre = torch.addmm(row_norms * (lam / batch), g, w_dec.t()).mul_(pre > 0)
        grad_w_enc = inp.t() @ grad_pre
        grad_b_enc = grad_pre.sum(0)
        grad_b_dec -= w_enc @ grad_b_enc
        grads = [grad_w_enc, grad_b_enc, grad_w_dec, grad_b_dec]
        t += 1
        bc1 = 1 - BETAS[0] ** t
        bc2_root = math.sqrt(1 - BETAS[1] ** t)
        torch._foreach_mul_(m, BETAS[0])
        torch._foreach_add_(m, grads, alpha=1 - BETAS[0])
        torch._foreach_mul_(v, BETAS[1])
        torch._foreach_addcmul_(v, grads, grads, value=1 - BETAS[1])
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, EPS * bc2_root)
        torch._foreach_addcdiv_(params, m, denom, value=-lr * bc2_root / bc1)
        return loss, bookkeeping(sae, f, batch)

    return step


TRAINERS = {"autograd": autograd_trainer, "manual": manual_trainer}


class Run:
    """One SAE being trained on a few batches of Gaussian data, used in turn."""

    def __init__(self, d_in: int, d_sae: int, batch: int, mode: str, seed: int):
        g = torch.Generator().manual_seed(seed + 1)
        self.data = torch.randn(DATA_BATCHES, batch, d_in, generator=g)
        self.step = TRAINERS[mode](Sae(d_in, d_sae, seed))
        self.done = 0
        self.advance(2)  # warm-up: first calls allocate

    def advance(self, steps: int) -> float:
        """Runs `steps` steps and returns the final loss."""
        losses = []
        for _ in range(steps):
            loss, _ = self.step(self.data[self.done % DATA_BATCHES], LEARNING_RATE, L1_COEFFICIENT)
            losses.append(loss)
            self.done += 1
        final = float(losses[-1]) if losses else 0.0
        if not math.isfinite(final):
            raise RuntimeError(f"the loss became {final}")
        return final


# Runs by (d_in, d_sae, batch, mode, seed), kept between a server's requests, so
# that each request times steps of an SAE already warm.
RUNS: dict[tuple, Run] = {}


def time_training(d_in: int, d_sae: int, batch: int, steps: int, mode: str, seed: int = 0) -> dict:
    """Steps per second over `steps` steps of a warm run."""
    key = (d_in, d_sae, batch, mode, seed)
    if key not in RUNS:
        RUNS[key] = Run(d_in, d_sae, batch, mode, seed)
    run = RUNS[key]
    t0 = time.perf_counter()
    final = run.advance(steps)
    seconds = time.perf_counter() - t0
    return {
        "d_in": d_in,
        "d_sae": d_sae,
        "batch": batch,
        "mode": mode,
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "final_loss": final,
        "threads": torch.get_num_threads(),
    }


def time_matmul(n: int, seconds: float = 0.5) -> dict:
    """GFLOP/s (2 n^3 per product) of float32 [n x n] x [n x n] products with torch and with numpy,
    repeated for about `seconds` each: the best single product, and the mean over the window."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.empty(n, n)

    def rates(f) -> tuple[float, float]:
        f()
        times = []
        start = time.perf_counter()
        while not times or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        flops = 2 * n**3
        return flops / min(times) / 1e9, flops * len(times) / sum(times) / 1e9

    torch_best, torch_mean = rates(lambda: torch.mm(ta, tb, out=tout))
    numpy_best, numpy_mean = rates(lambda: np.matmul(a, b, out=out))
    return {
        "n": n,
        "torch_gflops": torch_best,
        "torch_mean_gflops": torch_mean,
        "numpy_gflops": numpy_best,
        "numpy_mean_gflops": numpy_mean,
        "threads": torch.get_num_threads(),
    }


def check(path: str) -> dict:
    """Trains from the parameters in a JSON file ({"W_enc", "b_enc", "W_dec", "b_dec" as flat
    lists, "d_in", "d_sae", "x" a flat [batch, d_in] batch used at every step, "lr",
    "l1_coefficient", "steps"}) with both steps, and returns the losses and final parameters
    of each, for comparison with the TypeScript trainer."""
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    d_in, d_sae = spec["d_in"], spec["d_sae"]
    shapes = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    x = torch.tensor(spec["x"], dtype=torch.float32).reshape(-1, d_in)
    out = {}
    for mode, trainer in TRAINERS.items():
        sae = Sae(d_in, d_sae, 0)
        with torch.no_grad():
            for p, name in zip(sae.params, shapes):
                p.copy_(torch.tensor(spec[name], dtype=torch.float32).reshape(shapes[name]))
        step = trainer(sae)
        losses = [float(step(x, spec["lr"], spec["l1_coefficient"])[0]) for _ in range(spec["steps"])]
        out[mode] = {"losses": losses, **{name: p.detach().flatten().tolist() for p, name in zip(sae.params, shapes)}}
    return out


def answer(request: dict) -> dict:
    if "matmul" in request:
        return time_matmul(int(request["matmul"]), float(request.get("seconds", 0.5)))
    mode = request.get("mode", "autograd")
    if mode not in TRAINERS:
        raise ValueError(f"mode must be one of {sorted(TRAINERS)}, got {mode!r}")
    return time_training(int(request["d_in"]), int(request["d_sae"]), int(request["batch"]), int(request.get("steps", 16)), mode, int(request.get("seed", 0)))


def serve() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = answer(json.loads(line))
        except Exception as err:  # the benchmark reads the error instead of waiting forever
            reply = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(reply), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--check", metavar="JSON")
    parser.add_argument("--matmul", type=int)
    parser.add_argument("--d-in", type=int)
    parser.add_argument("--d-sae", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--mode", choices=sorted(TRAINERS), default="autograd")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.serve:
        serve()
    elif args.check:
        print(json.dumps(check(args.check)))
    elif args.matmul:
        print(json.dumps(time_matmul(args.matmul)))
    elif args.d_in and args.d_sae and args.batch:
        print(json.dumps(time_training(args.d_in, args.d_sae, args.batch, args.steps, args.mode)))
    else:
        parser.error("give --serve, --check JSON, --matmul N, or --d-in, --d-sae and --batch")


if __name__ == "__main__":
    main()

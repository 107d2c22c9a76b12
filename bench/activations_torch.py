"""Baseline for native/test/activation_bench.cc: PyTorch's CPU activation kernels.

Times forward (F.<act>(x)) and backward (torch.autograd.grad of the output
with a fixed upstream gradient) on the same 128×512 batch, one thread, and
prints Melem/s (best of 200) in the harness's layout. Run with Debian's
python3 (torch 1.13):

    /usr/bin/python3 bench/activations_torch.py [rows] [cols]
"""
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 128
COLS = int(sys.argv[2]) if len(sys.argv) > 2 else 512

CASES = [
    ("identity", lambda x: x * 1),  # x itself has no kernel: a copy is its cost
    ("relu", F.relu),
    ("leaky-relu", lambda x: F.leaky_relu(x, 0.01)),
    ("sigmoid", torch.sigmoid),
    ("tanh", torch.tanh),
    ("elu", F.elu),
    ("selu", F.selu),
    ("softplus", F.softplus),
    ("gelu", F.gelu),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh")),
    ("silu", F.silu),
    ("swish", lambda x: x * torch.sigmoid(x)),  # no fused kernel in torch
    ("softmax", lambda x: torch.softmax(x, dim=1)),
    ("log-softmax", lambda x: torch.log_softmax(x, dim=1)),
]


def best(fn, reps=200):
    fn()
    t = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main():
    n = ROWS * COLS
    print(f"torch {torch.__version__} activation {ROWS}x{COLS}, Melem/s (best of 200, 1 thread)")
    print(f"{'':12s} {'f32 fwd':>10s} {'f32 bwd':>10s} {'f64 fwd':>10s} {'f64 bwd':>10s}")
    for name, fn in CASES:
        cells = []
        for dtype in (torch.float32, torch.float64):
            g = torch.Generator().manual_seed(3)
            x = (torch.rand(ROWS, COLS, generator=g, dtype=dtype) * 12 - 6).requires_grad_(True)
            dy = torch.rand(ROWS, COLS, generator=g, dtype=dtype) * 2 - 1
            with torch.no_grad():
                fwd = best(lambda: fn(x))
            y = fn(x)

            def backward():
                torch.autograd.grad(y, x, dy, retain_graph=True)

            bwd = best(backward)
            cells += [n / fwd / 1e6, n / bwd / 1e6]
        print(f"{name:12s} " + " ".join(f"{c:10.0f}" for c in cells))


if __name__ == "__main__":
    main()

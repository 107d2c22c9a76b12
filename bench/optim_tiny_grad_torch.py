# Not part of the benchmark suite: PyTorch 1.13 step time of Adam, RMSprop and
# Adagrad when a share of the gradients is tiny but nonzero (|g| = 1e-20 in
# float32, 1e-160 in float64), so that g² is subnormal on every step (the
# README Optimizers paragraph on tiny gradients; the native figures come from
# native/test/optim_bench.cc tiny=P). 5.8 M parameters, 1 thread, medians.
# Run: /usr/bin/python3 bench/optim_tiny_grad_torch.py
import time, torch
torch.set_num_threads(1)
n = 5_800_000

def gradients(dtype, percent):
    i = torch.arange(n, dtype=torch.int64)
    g = ((i % 97) - 48).to(dtype) * 1e-3
    tiny = 1e-20 if dtype == torch.float32 else 1e-160
    # Evenly spread, as optim_bench: element i is tiny when (i·P)/100 steps.
    mask = (i * percent) // 100 != ((i + 1) * percent) // 100
    signs = torch.where(i % 2 == 1, 1.0, -1.0).to(dtype)
    return torch.where(mask, signs * tiny, g)

def run(make, dtype, percent, reps=11):
    p = torch.nn.Parameter(torch.full((n,), 0.5, dtype=dtype))
    opt = make([p])
    p.grad = gradients(dtype, percent)
    opt.step()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); opt.step(); ts.append(time.perf_counter() - t)
    ts.sort(); return ts[len(ts) // 2] * 1e3

optimizers = {
    'adam': lambda ps: torch.optim.Adam(ps, lr=1e-3),
    'rmsprop': lambda ps: torch.optim.RMSprop(ps, lr=1e-2),
    'adagrad': lambda ps: torch.optim.Adagrad(ps, lr=1e-2),
}
for dtype in (torch.float32, torch.float64):
    for name, make in optimizers.items():
        cells = [f"{p}% {run(make, dtype, p):7.2f}" for p in (0, 10, 100)]
        print(f"{str(dtype):14} {name:8} ms/step, tiny share: " + "  ".join(cells), flush=True)
print(torch.__version__)

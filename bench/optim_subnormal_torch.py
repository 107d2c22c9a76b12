# Not part of the benchmark suite: PyTorch 1.13 Adam step time with v normal vs subnormal
# (the README Optimizers paragraph on subnormal state). Run: /usr/bin/python3 bench/optim_subnormal_torch.py
import time, torch
torch.set_num_threads(1)
n = 5_800_000
def run(v0, reps=15):
    p = torch.nn.Parameter(torch.full((n,), 0.5))
    opt = torch.optim.Adam([p], lr=1e-3)
    p.grad = torch.zeros(n)
    opt.step()
    st = opt.state[p]
    st['exp_avg'].fill_(0.0); st['exp_avg_sq'].fill_(v0)
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); opt.step(); ts.append(time.perf_counter() - t)
    ts.sort(); return ts[len(ts)//2] * 1e3, st['exp_avg_sq'][0].item()
for i in range(3):
    for v0 in (1e-30, 1e-39):
        ms, v = run(v0)
        print(f"v0={v0:g}: median {ms:.2f} ms/step, v after {v:g}", flush=True)
print(torch.__version__)

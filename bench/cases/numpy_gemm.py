"""BLAS baseline: float32 C = op(A)·op(B) through numpy's matmul, which calls
the sgemm of the BLAS numpy was built with (OpenBLAS in the PyPI wheels).
Transposes are views, which numpy hands to sgemm as transpose flags, and the
product goes into one reused output (out=), as the fastmlp side reuses its
ops.matmul output with { out }. Threads come from
OPENBLAS_NUM_THREADS, which bench/run.mjs sets before numpy loads.
Args: {"m", "n", "k", "transA", "transB", "minTime"}."""
from harness import measure, median, run_case


def gemm(args):
    import numpy as np
    m, n, k = args['m'], args['n'], args['k']
    ta, tb = args.get('transA', False), args.get('transB', False)
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    op_a = a.T if ta else a
    op_b = b.T if tb else b
    # Validate before timing, like the fastmlp cases.
    exact = op_a.astype(np.float64) @ op_b.astype(np.float64)
    scale = np.abs(op_a).astype(np.float64) @ np.abs(op_b).astype(np.float64)
    max_error = float(np.max(np.abs(op_a @ op_b - exact) / scale))
    if not max_error <= 1e-4:
        raise ValueError(f'wrong result: relative error {max_error:.2e}')
    out = np.empty((m, n), dtype=np.float32)
    samples, reps = measure(lambda: np.matmul(op_a, op_b, out=out), args.get('minTime', 0.5))
    gflop = 2 * m * n * k / 1e9
    return {'gflops': gflop / median(samples), 'gflopsBest': gflop / min(samples),
            'samples': len(samples), 'repsPerSample': reps, 'maxError': max_error}


run_case(gemm)

// One gemm case: C = op(A)·op(B) in float32 through the public ops.matmul, as
// a user calls it, the result written into one reused Matrix ({ out }), as the
// OpenBLAS baselines write into their caller's C.
// Args: { engine, threads, m, n, k, transA, transB, minTime }.
import { timeMatmul } from './gemm_operands.mjs';
import { runCase } from './harness.mjs';

runCase(({ minTime = 0.5, ...args }) => timeMatmul({ ...args, minTime }));

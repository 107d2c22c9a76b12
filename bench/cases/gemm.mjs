// One gemm case: C = op(A)·op(B) in float32 through the public ops.matmul, as
// a user calls it (the output Matrix is allocated per call, as numpy's `a @ b`
// does in the OpenBLAS baseline).
// Args: { engine, threads, m, n, k, transA, transB, minTime }.
import { timeMatmul } from './gemm_operands.mjs';
import { runCase } from './harness.mjs';

runCase(({ minTime = 0.5, ...args }) => timeMatmul({ ...args, minTime }));

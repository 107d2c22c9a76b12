import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Native addons and worker_threads are safest in separate processes (STYLE.md §12).
// vitest's default is one process fewer than the CPUs, i.e. one on a 2-core
// machine, where the suite then took ~11 min; much of it waits on child
// processes, timers and worker threads, so two processes there took ~6 min
// with every test passing.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // A failed toEqual on a large array (a model's weights, a batch's outputs)
    // printed its diff for over 5 minutes (400,000 numbers differing in every
    // third: still running at 300 s); diffing the first 1,000 lines of each
    // side took 11 s in all, with the failure and its first differences shown.
    diff: { truncateThreshold: 1000 },
  },
});

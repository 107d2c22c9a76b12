import { defineConfig } from 'vitest/config';

// Native addons and worker_threads are safest in separate processes (STYLE.md §12).
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});

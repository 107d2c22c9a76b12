/* BLAS baseline in C: float32 C = op(A)·op(B) through cblas_sgemm of the
 * OpenBLAS installed on this machine. bench/run.mjs compiles it on the fly
 * (only when a cblas.h is found) and sets OPENBLAS_NUM_THREADS; C is
 * preallocated, so this is the kernel alone. Same timing loop as harness.mjs.
 * Usage: cblas_gemm m n k transA transB minTime  (transX: 0 or 1)
 * Prints one JSON line.
 * cblas_gemm --serve: reads lines "m n k transA transB minTime threads" from
 * stdin and answers each with one JSON line, so bench/gemm.mjs can interleave
 * OpenBLAS with fastmlp round by round in one run (threads through
 * openblas_set_num_threads). */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_SEC 0.01
#define MIN_SAMPLES 3
#define MAX_SAMPLES 100000
#define CHECKS 64

char *openblas_get_config(void); /* OpenBLAS extensions: version and kernel, */
void openblas_set_num_threads(int n); /* thread count */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int m, n, k, ta, tb;
static float *a, *b, *c;

static void gemm(void) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
}

static int cmp(const void *x, const void *y) {
  double d = *(const double *)x - *(const double *)y;
  return (d > 0) - (d < 0);
}

/* Validates, then times the product m, n, k, ta, tb (already set) for
 * min_time seconds and prints one JSON line. Returns an exit status. */
static int run_case(double min_time) {
  a = malloc(sizeof(float) * m * k), b = malloc(sizeof(float) * k * n), c = malloc(sizeof(float) * m * n);
  double *samples = malloc(sizeof(double) * MAX_SAMPLES);
  if (!a || !b || !c || !samples) return 3;
  unsigned s = 1; /* the same LCG as harness.mjs */
  for (long i = 0; i < (long)m * k; i++) s = s * 1664525u + 1013904223u, a[i] = -1 + 2 * (s / 4294967296.0);
  for (long i = 0; i < (long)k * n; i++) s = s * 1664525u + 1013904223u, b[i] = -1 + 2 * (s / 4294967296.0);

  gemm(); /* validate before timing */
  double max_error = 0;
  for (int t = 0; t < CHECKS; t++) {
    int i = (t * 7919) % m, j = (int)((t * 104729L) % n);
    double sum = 0, mag = 0;
    for (int p = 0; p < k; p++) {
      double prod = (double)(ta ? a[(long)p * m + i] : a[(long)i * k + p]) *
                    (tb ? b[(long)j * k + p] : b[(long)p * n + j]);
      sum += prod, mag += fabs(prod);
    }
    double e = fabs(c[(long)i * n + j] - sum) / (mag > 0 ? mag : 1);
    if (!(e <= max_error)) max_error = e; /* NaN sticks */
  }
  if (!(max_error <= 1e-4)) {
    printf("{\"error\":\"wrong result: relative error %.2e\"}\n", max_error);
    free(a), free(b), free(c), free(samples);
    return 1;
  }

  double warm_until = now() + (min_time / 5 > 0.05 ? min_time / 5 : 0.05), w0 = now();
  long calls = 0;
  do gemm(), calls++; while (calls < 2 || now() < warm_until);
  long reps = lround(SAMPLE_SEC / ((now() - w0) / calls));
  if (reps < 1) reps = 1;
  int count = 0;
  for (double spent = 0; (spent < min_time || count < MIN_SAMPLES) && count < MAX_SAMPLES;) {
    double t0 = now();
    for (long r = 0; r < reps; r++) gemm();
    double dt = now() - t0;
    samples[count++] = dt / reps, spent += dt;
  }
  qsort(samples, count, sizeof(double), cmp);
  double med = count % 2 ? samples[count / 2] : (samples[count / 2 - 1] + samples[count / 2]) / 2;
  double gflop = 2.0 * m * n * k / 1e9;
  printf("{\"gflops\":%.6g,\"gflopsBest\":%.6g,\"samples\":%d,\"repsPerSample\":%ld,\"maxError\":%.3g,"
         "\"config\":\"%s\"}\n", gflop / med, gflop / samples[0], count, reps, max_error, openblas_get_config());
  fflush(stdout);
  free(a), free(b), free(c), free(samples);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--serve") == 0) {
    double min_time;
    int threads;
    while (scanf("%d %d %d %d %d %lf %d", &m, &n, &k, &ta, &tb, &min_time, &threads) == 7) {
      openblas_set_num_threads(threads);
      run_case(min_time);
    }
    return 0;
  }
  if (argc != 7) {
    fprintf(stderr, "usage: %s m n k transA transB minTime | --serve\n", argv[0]);
    return 2;
  }
  m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]);
  ta = atoi(argv[4]), tb = atoi(argv[5]);
  return run_case(atof(argv[6]));
}

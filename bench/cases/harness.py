"""Shared by the Python baseline cases: the same one-JSON-line protocol and
timing loop as harness.mjs, so baseline figures are measured the same way."""
import json
import sys
import time

SAMPLE_SEC = 0.01
MIN_SAMPLES = 3


def run_case(body):
    """Calls body(args) with the JSON argument and prints its result as one JSON
    line; a failure prints {"error": ...} and exits 1."""
    try:
        result = body(json.loads(sys.argv[1] if len(sys.argv) > 1 else '{}'))
        print(json.dumps(result), flush=True)
    except Exception as e:  # any failure becomes a row in the runner's table
        print(json.dumps({'error': f'{type(e).__name__}: {e}'}), flush=True)
        sys.exit(1)


def median(values):
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def measure(fn, min_time):
    """Warm-up, then samples of about SAMPLE_SEC each until min_time seconds
    have been timed; returns (seconds per call for each sample, calls per sample)."""
    warm_until = time.perf_counter() + max(0.05, min_time / 5)
    calls = 0
    w0 = time.perf_counter()
    while calls < 2 or time.perf_counter() < warm_until:
        fn()
        calls += 1
    reps = max(1, round(SAMPLE_SEC / ((time.perf_counter() - w0) / calls)))
    samples = []
    spent = 0.0
    while spent < min_time or len(samples) < MIN_SAMPLES:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = time.perf_counter() - t0
        samples.append(dt / reps)
        spent += dt
    return samples, reps

"""Shared by the PyTorch training cases (torch_mlp.py, torch_cnn.py): the plain
training loop a PyTorch user writes (shuffled mini-batches by indexing a tensor,
which is faster than a DataLoader), timed like the Node cases: one untimed
warm-up epoch that also sizes the timed run to about minTime seconds, then
samples/s from the median epoch."""
import time

from harness import median


def time_training(torch, model, optimizer, x, y, args):
    """Trains model on (x, y) with cross-entropy; returns the timing fields of a
    case's result. args: batchSize, minTime, maxEpochs."""
    rows = x.shape[0]
    batch = args.get('batchSize', 128)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        total = torch.zeros(())
        for idx in torch.randperm(rows).split(batch):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)   # mean epoch loss, as fastmlp's fit reports
        return float(total) / rows

    w0 = time.perf_counter()
    epoch()   # warm-up, not timed
    warmup = time.perf_counter() - w0
    epochs = max(1, min(args.get('maxEpochs', 20), -(-args.get('minTime', 2) // warmup)))
    times = []
    for _ in range(int(epochs)):
        t0 = time.perf_counter()
        loss = epoch()
        times.append(time.perf_counter() - t0)
    return {'samplesPerSec': rows / median(times), 'samplesPerSecMean': rows * len(times) / sum(times),
            'epochs': len(times), 'rows': rows, 'warmupSec': warmup, 'loss': loss}


def thread_facts(torch):
    """Confirms the thread settings took effect: torch's threads, the BLAS's, and the cores in use."""
    blas = blas_threads()
    return {'opThreads': torch.get_num_threads(), 'blasThreads': blas,
            'threadsInUse': max(torch.get_num_threads(), blas or 0)}


def blas_threads():
    """OpenBLAS's thread count in this process (torch links it as libblas.so.3 on Debian),
    or None for another BLAS."""
    import ctypes
    try:
        return ctypes.CDLL('libopenblas.so.0').openblas_get_num_threads()
    except (OSError, AttributeError):
        return None

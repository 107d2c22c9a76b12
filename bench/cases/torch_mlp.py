"""PyTorch CPU baseline for the MLP case: 784-{hidden}-10 (ReLU), cross-entropy,
Adam (lr 1e-3), float32, shuffled mini-batches, written as the plain training
loop a PyTorch user writes (indexing a tensor is faster than a DataLoader).
Data are synthetic: values do not change the speed of dense layers.
Args: {"threads", "rows", "hidden", "batchSize", "minTime", "maxEpochs", "optimizer", "opThreads"};
optimizer is 'adam' by default, or another of fastmlp's names with torch's defaults (SGD: lr 0.01,
which fastmlp's 'sgd' also uses). opThreads (default: threads) is torch's own thread count
(torch.set_num_threads); the BLAS's thread count comes from the environment the runner sets."""
import time

from harness import median, run_case


def train(args):
    import torch
    threads, rows = args['threads'], args['rows']
    batch = args.get('batchSize', 128)
    torch.set_num_threads(args.get('opThreads', threads))
    torch.manual_seed(1)
    x = torch.rand(rows, 784)
    y = torch.randint(0, 10, (rows,))
    widths = [784] + list(args.get('hidden', [512, 256]))
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], 10))
    name = args.get('optimizer', 'adam')
    make = {'sgd': lambda p: torch.optim.SGD(p, lr=0.01), 'adagrad': torch.optim.Adagrad,
            'rmsprop': torch.optim.RMSprop, 'adam': lambda p: torch.optim.Adam(p, lr=1e-3),
            'adamw': torch.optim.AdamW}[name]
    optimizer = make(model.parameters())
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
            'epochs': len(times), 'rows': rows, 'dataset': 'synthetic', 'warmupSec': warmup,
            'loss': loss, 'version': torch.__version__,
            # confirm the settings took effect: torch's threads, the BLAS's, and the cores in use
            'opThreads': torch.get_num_threads(), 'blasThreads': blas_threads(),
            'threadsInUse': max(torch.get_num_threads(), blas_threads() or 0)}


def blas_threads():
    """OpenBLAS's thread count in this process (torch links it as libblas.so.3 on Debian),
    or None for another BLAS."""
    import ctypes
    try:
        return ctypes.CDLL('libopenblas.so.0').openblas_get_num_threads()
    except (OSError, AttributeError):
        return None


run_case(train)

"""PyTorch CPU baseline for the CNN case (cnn.mjs): Conv2d(1, 32, 3) → ReLU →
MaxPool2d(2) → Conv2d(32, 64, 3) → ReLU → MaxPool2d(2) → Flatten → Linear(1600,
128) → ReLU → Linear(128, 10), cross-entropy, Adam (lr 1e-3), float32, batch 64,
the plain training loop a PyTorch user writes (torch_training.py).
Data: the same rows as the Node cases when the runner wrote them to dataFile
(data.mjs saveTrainingData: rows × 784 float32, then rows int32 labels), else
uniform pixels and labels.
Args: {"threads", "rows", "batchSize", "minTime", "maxEpochs", "opThreads", "dataFile", "dataset"};
opThreads (default: threads) is torch's own thread count (torch.set_num_threads: its
convolutions run on oneDNN over it); the BLAS's thread count comes from the environment."""
from harness import run_case
from torch_training import thread_facts, time_training

PIXELS = 28 * 28


def load(torch, args):
    rows = args['rows']
    if 'dataFile' not in args:
        return torch.rand(rows, 1, 28, 28), torch.randint(0, 10, (rows,)), 'synthetic'
    with open(args['dataFile'], 'rb') as f:
        raw = bytearray(f.read())
    stored = len(raw) // (4 * (PIXELS + 1))
    if stored * 4 * (PIXELS + 1) != len(raw):
        raise ValueError(f"{args['dataFile']}: {len(raw)} bytes is not a whole number of rows")
    rows = min(rows, stored)
    x = torch.frombuffer(raw, dtype=torch.float32, count=stored * PIXELS)
    y = torch.frombuffer(raw, dtype=torch.int32, offset=4 * stored * PIXELS, count=stored)
    # Copies: contiguous rows of their own, labels as the int64 CrossEntropyLoss takes.
    return x[:rows * PIXELS].reshape(rows, 1, 28, 28).clone(), y[:rows].long(), args.get('dataset', 'file')


def train(args):
    import torch
    torch.set_num_threads(args.get('opThreads', args['threads']))
    torch.manual_seed(1)
    x, y, dataset = load(torch, args)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    timing = time_training(torch, model, optimizer, x, y, {'batchSize': 64, **args})
    return {**timing, 'dataset': dataset, 'version': torch.__version__, **thread_facts(torch)}


run_case(train)

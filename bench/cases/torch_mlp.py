"""PyTorch CPU baseline for the MLP case: 784-{hidden}-10 (ReLU), cross-entropy,
Adam (lr 1e-3), float32, shuffled mini-batches, written as the plain training
loop a PyTorch user writes (torch_training.py).
Data are synthetic: values do not change the speed of dense layers.
Args: {"threads", "rows", "hidden", "batchSize", "minTime", "maxEpochs", "optimizer", "opThreads"};
optimizer is 'adam' by default, or another of fastmlp's names with torch's defaults (SGD: lr 0.01,
which fastmlp's 'sgd' also uses). opThreads (default: threads) is torch's own thread count
(torch.set_num_threads); the BLAS's thread count comes from the environment the runner sets."""
from harness import run_case
from torch_training import thread_facts, time_training


def train(args):
    import torch
    threads, rows = args['threads'], args['rows']
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
    timing = time_training(torch, model, make(model.parameters()), x, y, args)
    return {**timing, 'dataset': 'synthetic', 'version': torch.__version__, **thread_facts(torch)}


run_case(train)

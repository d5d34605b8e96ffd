"""tcc under DistributedDataParallel: 2 processes (gloo, CPU) equal one process.

Each rank trains the zoo MLP on its half of every batch for STEPS SGD steps, the model
compiled with tcc's torch.compile backend, in two arrangements: `torch.compile(DDP(m))`
and `DDP(torch.compile(m))`. In both, Dynamo's DDP optimizer splits the graph at
gradient-bucket boundaries (the buckets are made a few KB so that it does), so
activations flowing between the compiled pieces need gradients too. DDP all-reduces
(averages) the gradients tcc's backward leaves in `.grad`, so both ranks must end with
the parameters of a single eager process trained on the whole batches (within 1e-5). This file is also the worker:
`python test_ddp.py RANK WORLD PORT OUT`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

STEPS = 3
BATCH = 8
WORLD = 2
LR = 0.1
TOL = 1e-5
ARRANGEMENTS = ("compile-ddp", "ddp-compile")


def _model() -> nn.Module:
    from test_vjp import zoo_model
    net, _ = zoo_model("mlp.py")
    return net.train()


def _batches():
    """STEPS full batches (input, labels) of the MLP's input shape, fixed seed."""
    generator = torch.Generator().manual_seed(3)
    return [(torch.randn(BATCH, 1, 8, 8, generator=generator),
             torch.randint(0, 10, (BATCH,), generator=generator)) for _ in range(STEPS)]


def _train(model: nn.Module, parameters, batches, rank: int = 0, world: int = 1) -> None:
    optimizer = torch.optim.SGD(parameters, lr=LR)
    shard = BATCH // world
    for x, y in batches:
        xs, ys = x[rank * shard:(rank + 1) * shard], y[rank * shard:(rank + 1) * shard]
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xs), ys).backward()
        optimizer.step()


def worker(rank: int, world: int, port: int, out: Path) -> None:
    """One rank: trains both arrangements and saves the final parameters."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from tcc.compiler.frontends.dynamo import TccFallbackWarning, tcc_backend
    import warnings
    warnings.simplefilter("error", TccFallbackWarning)
    # Buckets of a few KB (the MLP has 10 KB of parameters), so that Dynamo's DDP
    # optimizer splits the graph; its first bucket must not be larger than the others.
    dist._DEFAULT_FIRST_BUCKET_BYTES = 2048
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        results = {}
        for arrangement in ARRANGEMENTS:
            torch._dynamo.reset()
            net = _model()
            graphs = []

            def backend(gm, example_inputs):
                graphs.append(gm)
                return tcc_backend(gm, example_inputs)

            if arrangement == "compile-ddp":
                model = torch.compile(DDP(net, bucket_cap_mb=0.004), backend=backend)
            else:
                model = DDP(torch.compile(net, backend=backend))
            _train(model, net.parameters(), _batches(), rank, world)
            for name, p in net.named_parameters():
                results[f"{arrangement}/{name}"] = p.detach().numpy()
            results[f"{arrangement}/graphs"] = np.array(len(graphs))
        np.savez(out / f"rank{rank}.npz", **results)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_ranks_match_one_process(tmp_path):
    env = dict(os.environ, TCC_CACHE_DIR=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    port = _free_port()
    here = Path(__file__).resolve()
    procs = [subprocess.Popen([sys.executable, str(here), str(rank), str(WORLD), str(port),
                               str(tmp_path)], cwd=here.parent, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in range(WORLD)]
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=240)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("a DDP rank did not finish in 240 s")
    for rank, (proc, output) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f"rank {rank} failed:\n{output[-4000:]}"

    reference = _model()
    _train(reference, reference.parameters(), _batches())
    initial = dict(_model().named_parameters())
    ranks = [np.load(tmp_path / f"rank{rank}.npz") for rank in range(WORLD)]
    # Dynamo's DDP optimizer split the graph at bucket boundaries in both arrangements.
    assert all(arrays[f"{a}/graphs"] >= 2 for arrays in ranks for a in ARRANGEMENTS)
    for arrangement in ARRANGEMENTS:
        for name, expected in reference.named_parameters():
            expected = expected.detach().numpy()
            assert not np.array_equal(expected, initial[name].detach().numpy())
            for rank, arrays in enumerate(ranks):
                actual = arrays[f"{arrangement}/{name}"]
                error = np.abs(actual - expected).max() / np.abs(expected).max()
                assert error <= TOL, (arrangement, rank, name, error)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))

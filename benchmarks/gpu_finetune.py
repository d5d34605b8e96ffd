"""Fine-tuning steps on a GPU: tcc's GPU target vs eager PyTorch vs torch.compile
(inductor), on the same device in one run.

For each zoo model, update scheme (full, bias-only, last-k = the last two conv/linear
layers) and batch size (32, 128): the time of one SGD step (forward, cross-entropy,
backward, update) of each, and the ratios eager/tcc and inductor/tcc. Without a CUDA
device it prints "no CUDA device" and exits 0.

    python benchmarks/gpu_finetune.py [--models mlp.py,lenet.py] [--steps 20]

PyTorch runs the original module (eval-mode batch norms, as the importer folds them
into the convs for tcc); tcc runs its derived, pruned, planned step: one arena, fused
gradient + update kernels.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "examples" / "zoo"
SCHEMES = {
    "full": {"default": "full"},
    "bias-only": {"default": "bias"},
    "last-k": {"default": "frozen", "layers": {"conv:-1": "full", "conv:-2": "full"}},
}
LR = 0.01


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torch_trainable(net, scheme: str) -> list:
    """The parameters the scheme trains, on the torch module."""
    from torch import nn
    params = dict(net.named_parameters())
    if scheme == "full":
        names = list(params)
    elif scheme == "bias-only":
        names = [n for n in params if n.endswith(".bias")]
    else:
        layers = [n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        names = [n for n in params if n.rpartition(".")[0] in layers[-2:]]
    for name, p in params.items():
        p.requires_grad_(name in names)
    return [params[n] for n in names]


def _time(step, steps: int) -> float:
    import torch
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def _tcc_step(net, shape, scheme: str):
    """A closure running tcc's GPU training step, feeding back the updated state."""
    import numpy as np
    import torch
    from tcc._mlir import ir
    from tcc.compiler.frontends.pytorch import import_module
    from tcc.compiler.pipeline import run_pipeline
    from tcc.compiler.schemes import apply_scheme
    from tcc.compiler.source import find_function, new_context
    from tcc.compiler.targets import gpu
    from tcc.dialects import train
    imported = import_module(net, (torch.randn(shape),))
    module = ir.Module.parse(str(imported.module), context=new_context())
    with module.context, ir.Location.unknown():
        apply_scheme(find_function(module, "forward"), SCHEMES[scheme])
    run_pipeline(module, [f"train-autodiff{{lr={LR}}}", "train-prune"])
    executor = gpu.compile_functions(module, ["train_step"], device="cuda")
    step = find_function(module, "train_step")
    args = []
    for i, arg in enumerate(step.entry_block.arguments):
        dims = list(ir.RankedTensorType(arg.type).shape)
        name = train.arg_name(step, i)
        if name in imported.weights:
            args.append(torch.from_numpy(np.asarray(imported.weights[name])).cuda())
        elif i == len(step.entry_block.arguments) - 1:
            args.append(torch.randint(0, 10, dims, dtype=torch.int32, device="cuda"))
        else:
            args.append(torch.randn(dims, device="cuda"))
    updates = [(k, train.updated_arg(step, k)) for k in range(len(executor.programs[
        "train_step"].returned))]

    def run():
        results = executor.call("train_step", args)
        for k, target in updates:
            if target is not None:
                args[target] = results[k]
    return run


def _torch_step(net, shape, scheme: str, compiled: bool):
    import torch
    import torch.nn.functional as F
    x = torch.randn(shape, device="cuda")
    y = torch.randint(0, 10, (shape[0],), device="cuda")
    params = _torch_trainable(net, scheme)
    optimizer = torch.optim.SGD(params, lr=LR)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        return loss

    fn = torch.compile(step) if compiled else step
    return lambda: fn()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp.py,lenet.py,dscnn.py,resnet8.py")
    parser.add_argument("--batches", default="32,128")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        print("no CUDA device")
        return 0
    zoo = _load(ZOO / "__init__.py", "zoo_index").MODELS
    print(f"device: {torch.cuda.get_device_name()}, {args.steps} timed steps each")
    print(f"{'model':<14}{'scheme':<11}{'batch':>6}{'tcc ms':>10}{'eager ms':>10}"
          f"{'inductor ms':>13}{'eager/tcc':>11}{'ind/tcc':>9}")
    for file in args.models.split(","):
        source = _load(ZOO / file, f"zoo_{Path(file).stem}")
        for batch in (int(b) for b in args.batches.split(",")):
            shape = (batch, *source.INPUT_SHAPE[1:])
            for scheme in SCHEMES:
                torch.manual_seed(0)
                net = getattr(source, zoo[file])().eval()
                tcc_ms = _time(_tcc_step(net, shape, scheme), args.steps) * 1e3
                times = []
                for compiled in (False, True):
                    torch.manual_seed(0)
                    model = getattr(source, zoo[file])().eval().cuda()
                    times.append(_time(_torch_step(model, shape, scheme, compiled),
                                       args.steps) * 1e3)
                eager, inductor = times
                print(f"{file[:-3]:<14}{scheme:<11}{batch:>6}{tcc_ms:>10.3f}{eager:>10.3f}"
                      f"{inductor:>13.3f}{eager / tcc_ms:>11.2f}{inductor / tcc_ms:>9.2f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

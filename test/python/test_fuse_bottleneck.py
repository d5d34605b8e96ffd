"""--train-fuse-bottleneck and train.qbottleneck: fusion changes no result bit.

- seeded random inverted bottlenecks (expansion or not, kernel 3/5/7, stride 1/2,
  padding, a residual qadd or not, both roundings, narrowed storage ranges; and
  stems, a first conv 3x3/5x5 of stride 1/2 as the expansion) written
  as @forward modules of frozen int8 convs: the pass fuses each chain into one op,
  the interpreter gives the unfused module's output bit for bit, and the C kernel
  (tcc_q_bottleneck_s8_inline, host build; a subset in qemu) gives the interpreter's;
- chains the pass must leave alone (a trainable weight, an intermediate read twice);
- the memory model: the fused op's scratch is live during the op only and is planned;
- the TTE models (../shared/models/tte, skipped when absent): fused @forward and a
  train_step of a paper scheme equal the unfused ones bit for bit; MCUNet's fused
  int8 forward built for the host equals the interpreter.
"""

from __future__ import annotations

import shutil
import subprocess
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

import tcc
from tcc.compiler import liveness
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function, new_context, parse_module
from tcc.compiler.targets import cortex_m
from tcc.runtime import cortex_m_runner as runner
from tcc.runtime.interpreter import run_function

SEED = 5150
COUNT = 24
STEMS = 6
CHAINS = 9
QEMU_EVERY = 4
TTE_DIR = Path(tcc.__file__).resolve().parent / ".." / "shared" / "models" / "tte"

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@dataclass
class Block:
    """One random inverted bottleneck."""

    index: int
    c: int
    e: int | None          # expanded channels, None: no expansion
    o: int
    k: int
    stride: int
    pad: int
    h: int
    w: int
    residual: bool
    rounding: str
    seed: int
    stem: tuple[int, int, int] | None = None   # a KxK expansion: (kernel, stride, pad)

    @property
    def name(self) -> str:
        return f"b{self.index}"

    @property
    def mid(self) -> int:
        return self.e if self.e is not None else self.c

    @property
    def mid_hw(self) -> tuple[int, int]:
        """The depthwise input's height and width (the stem's output)."""
        if self.stem is None:
            return self.h, self.w
        k, s, p = self.stem
        return tuple((n + 2 * p - k) // s + 1 for n in (self.h, self.w))

    @property
    def out_hw(self) -> tuple[int, int]:
        return tuple((n + 2 * self.pad - self.k) // self.stride + 1 for n in self.mid_hw)


def make_blocks() -> list[Block]:
    rng = np.random.default_rng(SEED)
    blocks = []
    for i in range(COUNT):
        k = (3, 5, 7)[i % 3]
        stride = 1 + (i // 3) % 2
        c = int(rng.integers(2, 10))
        e = None if i % 4 == 3 else int(c * rng.integers(2, 5))
        residual = stride == 1 and i % 2 == 0
        o = c if residual else int(rng.integers(2, 12))
        h, w = (int(v) for v in rng.integers(k, k + 9, size=2))
        pad = k // 2 if residual else int(rng.integers(0, k // 2 + 1))
        blocks.append(Block(i, c, e, o, k, stride, pad, h, w, residual, ("float_scale", "multiplier_shift")[i % 2],
                            int(rng.integers(1 << 30))))
    # Stems: a first conv (3 input channels, 3x3 or 5x5, stride 1 or 2) as the
    # expansion of a block without a residual.
    for i in range(COUNT, COUNT + STEMS):
        k, stride = (3, 5, 7)[i % 3], 1 + i % 2
        stem = ((3, 5)[i % 2], 1 + (i // 2) % 2, int(rng.integers(0, 3)))
        h, w = (int(v) for v in rng.integers(k + 6, k + 20, size=2))
        blocks.append(Block(i, 3, int(rng.integers(4, 17)), int(rng.integers(2, 12)), k,
                            stride, k // 2, h, w, False,
                            ("float_scale", "multiplier_shift")[i % 2],
                            int(rng.integers(1 << 30)), stem))
    return blocks


def _act(rng, narrow: bool = False) -> str:
    scale = float(np.float32(rng.uniform(0.005, 0.1)))
    zp = int(rng.integers(-128, 100))
    storage = "i8<-128:100>" if narrow else "i8"
    return f"!quant.uniform<{storage}:f32, {scale!r}:{zp}>"


def _weight_type(rng, shape) -> str:
    scales = ", ".join(repr(float(np.float32(s))) for s in rng.uniform(0.002, 0.05, shape[0]))
    return f"tensor<{'x'.join(map(str, shape))}x!quant.uniform<i8:f32:0, {{{scales}}}>>"


def _tensor(shape, element: str) -> str:
    return f"tensor<{'x'.join(map(str, shape))}x{element}>"


def block_module(b: Block) -> tuple[str, list[np.ndarray]]:
    """The block as MLIR text of a @forward of frozen qconv2d ops, and its arguments."""
    return chain_module([b])


def chain_module(chain: list[Block]) -> tuple[str, list[np.ndarray]]:
    """Blocks one after the other (each reading the one before; the first one's seed
    draws the data) as MLIR text of a @forward of frozen qconv2d ops, and its
    arguments. Names: we/bd/... for the first block, we1/bd1/... for the second."""
    b = chain[0]
    rng = np.random.default_rng(b.seed)
    x_t = _act(rng)
    args = [("x", _tensor([1, b.c, b.h, b.w], x_t), rng.integers(-128, 128, (1, b.c, b.h, b.w)))]
    ops, value, value_t, hw = [], "%x", x_t, (b.h, b.w)

    def conv(name, shape, y_t, out_hw, attrs=""):
        nonlocal value, value_t, hw
        w = rng.integers(-127, 128, shape)
        bias = rng.integers(-3000, 3000, shape[0])
        args.append((f"w{name}", _weight_type(rng, shape), w))
        args.append((f"b{name}", _tensor([shape[0]], "i32"), bias))
        in_t = _tensor([1, shape[1] if "groups" not in attrs else shape[0], *hw], value_t)
        out_t = _tensor([1, shape[0], *out_hw], y_t)
        ops.append(f"  %{name} = train.qconv2d {value}, %w{name}, %b{name} {attrs} rounding "
                   f"{b.rounding} : ({in_t}, {args[-2][1]}, {args[-1][1]}) -> {out_t}")
        value, value_t, hw = f"%{name}", y_t, out_hw

    for k, block in enumerate(chain):
        tag = str(k) if k else ""
        assert (block.c, block.h, block.w) == ((b.c, b.h, b.w) if not k else
                                               (chain[k - 1].o, *chain[k - 1].out_hw))
        oh, ow = block.out_hw
        if block.stem is not None:
            kernel, stride, pad = block.stem
            conv("e" + tag, [block.e, block.c, kernel, kernel], _act(rng), block.mid_hw,
                 f"stride [{stride}, {stride}] padding [{pad}, {pad}]")
        elif block.e is not None:
            conv("e" + tag, [block.e, block.c, 1, 1], _act(rng, narrow=block.index % 5 == 0),
                 (block.h, block.w))
        conv("d" + tag, [block.mid, 1, block.k, block.k],
             _act(rng, narrow=block.index % 3 == 0), (oh, ow),
             f"stride [{block.stride}, {block.stride}] padding [{block.pad}, {block.pad}] "
             f"groups {block.mid}")
        conv("p" + tag, [block.o, block.mid, 1, 1], _act(rng), (oh, ow))
    b = chain[-1]
    oh, ow = b.out_hw
    result_t = _tensor([1, b.o, oh, ow], value_t)
    if b.residual:
        assert len(chain) == 1
        y_t = _act(rng)
        ops.append(f"  %r = train.qadd %x, {value} rounding {b.rounding} : "
                   f"({args[0][1]}, {result_t}) -> {_tensor([1, b.o, oh, ow], y_t)}")
        value, result_t = "%r", _tensor([1, b.o, oh, ow], y_t)
    params = ",\n    ".join(
        f"%{n}: {t} {{train.name = \"{n}\""
        + (", train.role = #train.role<frozen>}" if n != "x" else "}") for n, t, _ in args)
    text = (f"func.func @forward({params}) -> {result_t} {{\n" + "\n".join(ops) +
            f"\n  return {value} : {result_t}\n}}\n")
    arrays = [a.astype(np.int8 if n == "x" or n.startswith("w") else np.int32)
              for n, _, a in args]
    return text, arrays


def _parse(text: str, name: str):
    return parse_module(text, f"{name}.mlir", new_context())


@pytest.fixture(scope="module")
def blocks():
    return make_blocks()


def test_random_blocks_fuse_and_match_the_unfused_interpreter(blocks):
    assert {b.k for b in blocks} == {3, 5, 7} and {b.stride for b in blocks} == {1, 2}
    assert any(b.residual for b in blocks) and any(b.e is None for b in blocks) and \
        any(b.stem is not None for b in blocks)
    for b in blocks:
        text, args = block_module(b)
        plain, fused = _parse(text, b.name), _parse(text, b.name)
        run_pipeline(fused, ["train-fuse-bottleneck"], b.name)
        names = [op.name for op in find_function(fused, "forward").entry_block.operations]
        assert names.count("train.qbottleneck") == 1 and "train.qconv2d" not in names, names
        (want,) = run_function(plain, "forward", args)
        (got,) = run_function(fused, "forward", args)
        assert got.dtype == want.dtype and np.array_equal(got, want), b


def test_chains_with_trainable_weights_or_shared_intermediates_stay(blocks):
    b = next(b for b in blocks if b.e is not None and not b.residual)
    text, _ = block_module(b)
    trainable = text.replace('"wd", train.role = #train.role<frozen>',
                             '"wd", train.role = #train.role<trainable>')
    module = _parse(trainable, b.name)
    run_pipeline(module, ["train-fuse-bottleneck"], b.name)
    assert "train.qbottleneck" not in str(module)
    # The expanded tensor also returned: the depthwise and projection still fuse, the
    # expansion stays a conv of its own.
    shared = text.replace("  return %p : ", "  return %p, %e : ")
    result_t = shared.split(") -> ", 1)[1].split(" {", 1)[0]
    e_t = shared.split("%e = train.qconv2d", 1)[1].split(" -> ", 1)[1].split("\n", 1)[0]
    shared = shared.replace(f") -> {result_t} {{", f") -> ({result_t}, {e_t}) {{", 1)
    shared = shared.replace(f"  return %p, %e : {result_t}", f"  return %p, %e : {result_t}, {e_t}")
    module = _parse(shared, b.name)
    run_pipeline(module, ["train-fuse-bottleneck"], b.name)
    ops = [op for op in find_function(module, "forward").entry_block.operations]
    fused = [op for op in ops if op.name == "train.qbottleneck"]
    assert len(fused) == 1 and "expand_type" not in fused[0].attributes
    assert [op.name for op in ops].count("train.qconv2d") == 1


def test_scratch_is_live_during_the_op_only_and_planned(blocks):
    from tcc.dialects import train
    b = next(b for b in blocks if b.e is not None)
    text, _ = block_module(b)
    module = _parse(text, b.name)
    run_pipeline(module, ["train-fuse-bottleneck"], b.name)
    forward = find_function(module, "forward")
    ops = list(forward.entry_block.operations)
    position = [op.name for op in ops].index("train.qbottleneck")
    scratch = b.e * b.k * b.w + b.e * min(b.out_hw[1], train.BOTTLENECK_SPAN)
    assert train.BottleneckGeometry.of(ops[position]).scratch_bytes == scratch
    live = liveness.live_bytes(forward, inplace=False)
    lives = liveness.lifetimes(forward, inplace=False)
    for t in (position, position + 1):
        values = sum(l.size for l in lives if l.in_arena and l.lower <= t < l.upper)
        assert live[t] == values + (scratch if t == position else 0), t
    run_pipeline(module, ["plan-memory{function=forward}"], b.name)
    op = list(find_function(module, "forward").entry_block.operations)[position]
    offset = op.attributes["train.scratch_offset"].value
    arena = module.operation.attributes["train.arena_size"].value
    assert 0 <= offset and offset + scratch <= arena
    # the scratch overlaps neither the block's input nor its output
    offsets = {"in": train.arg_attribute(forward, 0, "train.offset").value,
               "out": list(op.attributes["train.offsets"])[0]}
    sizes = {"in": b.c * b.h * b.w, "out": b.o * b.out_hw[0] * b.out_hw[1]}
    for key in offsets:
        assert offsets[key] + sizes[key] <= offset or offset + scratch <= offsets[key], key


def make_chains() -> list[list[Block]]:
    """Seeded random chains of two or three blocks whose later blocks have a 1x1
    expansion (so each can stream into the next): the first a stem, an expanding block
    or one without expansion; kernels 3/5/7, strides 1/2, odd sizes. Every third is
    shaped like a network's first blocks (a wide image, a stride-2 reader with a small
    3x3 ring), where streaming pays."""
    rng = np.random.default_rng(SEED + 1)
    chains = []
    for i in range(CHAINS):
        length = 2 + i % 2
        wide = i % 3 == 0
        k, stride = (3, 5, 7)[i % 3], 1 + (i // 3) % 2
        low = 24 if wide else k + 6
        h, w = (int(v) for v in rng.integers(low, low + 10, size=2))
        c = 3 if wide or i % 3 == 2 else int(rng.integers(2, 8))
        stem = ((3, 5)[i % 2], 1 + i % 2, int(rng.integers(0, 2))) if c == 3 else None
        e = int(rng.integers(4, 12)) if stem or i % 3 == 1 else None
        o = int(rng.integers(8, 13)) if wide else int(rng.integers(2, 9))
        first = Block(100 + 10 * i, c, e, o, k, stride, k // 2, h, w, False,
                      ("float_scale", "multiplier_shift")[i % 2],
                      int(rng.integers(1 << 30)), stem)
        chain = [first]
        for j in range(1, length):
            before = chain[-1]
            k = 3 if wide else (3, 5, 7)[(i + j) % 3]
            oh, ow = before.out_hw
            stride = 2 if j == 1 and min(oh, ow) >= k + 2 and (wide or i % 2) else 1
            e = int(before.o * (1 if wide else rng.integers(2, 4)))
            chain.append(Block(first.index + j, before.o, e, int(rng.integers(2, 9)), k,
                               stride, k // 2, oh, ow, False, first.rounding, first.seed))
        chains.append(chain)
    return chains


@pytest.fixture(scope="module")
def chains():
    return make_chains()


def _streamed(module) -> int:
    return sum(op.name == "train.qbottleneck" and "train.streamed" in op.attributes
               for op in find_function(module, "forward").entry_block.operations)


def test_random_chains_stream_and_match_the_unfused_interpreter(chains):
    """Fused chains stream every block but the last into the next where that lowers
    the pair's need; the streamed module computes the unfused module's bits."""
    streamed = 0
    for chain in chains:
        text, args = chain_module(chain)
        plain, fused = _parse(text, "chain"), _parse(text, "chain")
        run_pipeline(fused, ["train-fuse-bottleneck"], "chain")
        ops = [op.name for op in find_function(fused, "forward").entry_block.operations]
        assert ops.count("train.qbottleneck") == len(chain) and "train.qconv2d" not in ops
        streamed += _streamed(fused)
        (want,) = run_function(plain, "forward", args)
        (got,) = run_function(fused, "forward", args)
        assert np.array_equal(got, want), chain
    assert streamed >= len(chains[::3])


def test_streamed_result_has_no_storage_and_the_reader_holds_the_chain(chains):
    """A streamed result is read through its op's input (no arena bytes; the input
    stays live until the reader); the reader's scratch is every stage's ring and
    depthwise span plus one handed-over row per streamed stage, and it is planned."""
    from tcc.dialects import train
    chain = next(c for c in chains if len(c) == 3)
    text, _ = chain_module(chain)
    module = _parse(text, "chain")
    run_pipeline(module, ["train-fuse-bottleneck"], "chain")
    forward = find_function(module, "forward")
    ops = [op for op in forward.entry_block.operations if op.name == "train.qbottleneck"]
    for op in ops:                  # force the whole chain to stream
        if op is not ops[-1]:
            op.attributes[train.STREAMED] = ir_unit(module)
    lives = {l.value: l for l in liveness.lifetimes(forward)}
    last = ops[-1]
    for op in ops[:-1]:
        assert not lives[op.results[0]].in_arena
    source = lives[forward.entry_block.arguments[0]]
    position = list(forward.entry_block.operations).index(last)
    assert source.upper == position + 1
    geometries = [train.BottleneckGeometry.of(op) for op in ops]
    want = sum(g.scratch_bytes for g in geometries) + \
        sum(g.o * g.ow for g in geometries[:-1])
    assert liveness.scratch_bytes(last) == want and liveness.scratch_bytes(ops[0]) == 0
    run_pipeline(module, ["plan-memory{function=forward}"], "chain")
    arena = module.operation.attributes["train.arena_size"].value
    offset = last.attributes["train.scratch_offset"].value
    assert offset + want <= arena
    assert list(ops[0].attributes["train.offsets"]) == [-1]


def test_streaming_needs_a_1x1_expansion_and_one_use(chains):
    from tcc.passes.train_fuse_bottleneck import stream_function
    chain = next(c for c in chains if len(c) == 2)
    text, _ = chain_module(chain)
    # the second block read twice (its input also returned): not streamed
    result_t = text.split(") -> ", 1)[1].split(" {", 1)[0]
    p_t = text.split("  %p = train.qconv2d", 1)[1].split(" -> ", 1)[1].split("\n", 1)[0]
    shared = text.replace(f") -> {result_t} {{", f") -> ({result_t}, {p_t}) {{", 1)
    shared = shared.replace(f"  return %p1 : {result_t}",
                            f"  return %p1, %p : {result_t}, {p_t}")
    module = _parse(shared, "chain")
    run_pipeline(module, ["train-fuse-bottleneck"], "chain")
    assert _streamed(module) == 0
    # a reader without expansion: none
    single = next(b for b in make_blocks() if b.e is None)
    module = _parse(block_module(single)[0], "single")
    run_pipeline(module, ["train-fuse-bottleneck"], "single")
    assert stream_function(find_function(module, "forward")) == 0


def ir_unit(module):
    from tcc._mlir import ir
    return ir.UnitAttr.get(module.context)


# ---------------------------------------------------------------------------- C


def _write_program(blocks_and_args, directory: Path) -> None:
    runtime = Path(tcc.__file__).parent / "runtime" / "cortex_m"
    kernels = Path(tcc.__file__).parent / "kernels" / "c"
    directory.mkdir(parents=True)
    for name in cortex_m.RUNTIME_FILES:
        shutil.copy(runtime / name, directory / name)
    shutil.copy(runtime / "Makefile.in", directory / "Makefile")
    for name in cortex_m.KERNEL_FILES:
        shutil.copy(kernels / name, directory / name)
    lines = ["#include <stdint.h>", "#include <stdio.h>", ""]
    largest = max(args[0].size for _, _, args, _ in blocks_and_args)
    out_largest = max(out.size for _, _, _, out in blocks_and_args)
    main = ["int main(void) {", '  FILE *in = fopen("inputs.bin", "rb");',
            '  FILE *o = fopen("outputs.bin", "wb");', "  if (!in || !o) return 2;"]
    with open(directory / "inputs.bin", "wb") as f:
        for b, module, args, out in blocks_and_args:
            parameters = {i: a for i, a in enumerate(args) if i > 0}
            files = cortex_m.CortexMRenderer(module, parameters, step=None,
                                             name=b.name).render()
            for name, text in files.items():
                (directory / name).write_text(text)
            lines += [f"void tcc_{b.name}_init(void);",
                      f"void tcc_{b.name}_infer(const int8_t *, int8_t *);"]
            main += [f"  if (fread(x, 1, {args[0].size}, in) != {args[0].size}) return 3;",
                     f"  tcc_{b.name}_init();", f"  tcc_{b.name}_infer(x, y);",
                     f"  if (fwrite(y, 1, {out.size}, o) != {out.size}) return 4;"]
            f.write(np.ascontiguousarray(args[0]).tobytes())
    lines += [f"static int8_t x[{largest}], y[{out_largest}];", ""]
    main += ["  fclose(in);", "  fclose(o);", "  return 0;", "}", ""]
    (directory / "main.c").write_text("\n".join(lines + main))


def _run_program(blocks_and_args, directory: Path, host: bool) -> list[np.ndarray]:
    _write_program(blocks_and_args, directory)
    if host:
        sources = sorted(p.name for p in directory.glob("*.c")
                         if p.name not in ("startup.c", "semihost.c"))
        subprocess.run(["gcc", "-std=c99", "-O1", "-ffp-contract=off", "-Wall", "-Wextra",
                        "-Werror", "-Wdouble-promotion", *sources, "-o", "app_host", "-lm"],
                       cwd=directory, check=True, capture_output=True, text=True,
                       timeout=600)
        result = runner.run_host(directory / "app_host", cwd=directory)
    else:
        result = runner.run_qemu(runner.build(directory, cpu="cortex-m7"), cwd=directory,
                                 timeout=120)
    assert result.exit_code == 0, result.stderr
    data = np.fromfile(directory / "outputs.bin", np.int8)
    outs, start = [], 0
    for _, _, _, out in blocks_and_args:
        outs.append(data[start:start + out.size].reshape(out.shape))
        start += out.size
    assert start == data.size
    return outs


def _fused_blocks(blocks):
    items = []
    for b in blocks:
        text, args = block_module(b)
        module = _parse(text, b.name)
        run_pipeline(module, ["train-fuse-bottleneck"], b.name)
        (want,) = run_function(module, "forward", args)
        items.append((b, module, args, np.asarray(want)))
    return items


def _fused_chains(chains):
    """Fused chains with every stage streamed (however the pass decides), as (first
    block, module, arguments, expected output) items."""
    from tcc._mlir import ir
    from tcc.dialects import train
    items = []
    for chain in chains:
        text, args = chain_module(chain)
        module = _parse(text, "chain")
        run_pipeline(module, ["train-fuse-bottleneck"], "chain")
        ops = [op for op in find_function(module, "forward").entry_block.operations
               if op.name == "train.qbottleneck"]
        for op in ops[:-1]:
            op.attributes[train.STREAMED] = ir.UnitAttr.get(module.context)
        (want,) = run_function(module, "forward", args)
        items.append((chain[0], module, args, np.asarray(want)))
    return items


@needs_gcc
def test_c_kernel_host_build_equals_interpreter(blocks, chains, tmp_path):
    """Fused blocks, and streamed chains (tcc_q_bottleneck_chain_s8), give the
    interpreter's bits."""
    items = _fused_blocks(blocks) + _fused_chains(chains)
    outputs = _run_program(items, tmp_path / "host", host=True)
    for (b, _, _, want), got in zip(items, outputs):
        assert np.array_equal(got, want), f"{b}: {np.count_nonzero(got != want)} differ"


needs_qemu = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None
    or shutil.which("make") is None, reason="needs arm-none-eabi-gcc, qemu-system-arm and make")


@needs_qemu
def test_c_kernel_in_qemu_equals_interpreter(blocks, chains, tmp_path):
    items = _fused_blocks(blocks[::QEMU_EVERY]) + _fused_chains(chains[::3])
    outputs = _run_program(items, tmp_path / "qemu", host=False)
    for (b, _, _, want), got in zip(items, outputs):
        assert np.array_equal(got, want), f"{b}: {np.count_nonzero(got != want)} differ"


# ------------------------------------------------------------------------- TTE models

requires_models = pytest.mark.skipif(
    not (TTE_DIR / "mcunet-5fps.json").is_file() or not (TTE_DIR / "schemes.json").is_file(),
    reason=f"the TTE models are not in {TTE_DIR}")


def _images(name: str, count: int, shape) -> np.ndarray:
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    return rng.integers(-128, 128, [count, *shape]).astype(np.int8)


@requires_models
@pytest.mark.parametrize("name", ["mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3"])
def test_tte_forward_fused_equals_unfused(name):
    from tcc.compiler.frontends.tte import import_tte
    from tcc.runtime.interpreter import bind_inputs
    from tcc.dialects import train
    imported = import_tte(TTE_DIR / f"{name}.json", num_classes=10)
    plain = imported.module
    fused = parse_module(plain.operation.get_asm(enable_debug_info=True), name,
                         plain.context)
    run_pipeline(fused, ["train-fuse-bottleneck"], name)
    ops = [op.name for op in find_function(fused, "forward").entry_block.operations]
    assert ops.count("train.qbottleneck") >= 5
    forward = find_function(plain, "forward")
    data = next(i for i in range(len(forward.entry_block.arguments))
                if train.arg_role(forward, i) is None)
    for image in _images(name, 2, [3, 128, 128]):
        results = []
        for module in (plain, fused):
            inputs = bind_inputs(find_function(module, "forward"),
                                 {**imported.weights, f"arg{data}": image[None]})
            results.append(run_function(module, "forward", inputs)[0])
        assert np.array_equal(results[0], results[1])


@requires_models
def test_tte_train_step_fused_equals_unfused():
    """MCUNet, the paper's 49 KB scheme: the reordered step with and without fusion
    gives the same loss and updated parameters bit for bit."""
    from tcc.compiler.analysis import StepOptions, derive_step
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.parameters import select_parameters
    from tcc.dialects import train
    name, path = "mcunet-5fps", TTE_DIR / "mcunet-5fps.json"
    imported = import_tte(path, num_classes=10)
    module = imported.module
    derive_step(module, StepOptions(scheme=f"{TTE_DIR / 'schemes.json'}#{name}/49kb"),
                str(path))
    text = module.operation.get_asm(enable_debug_info=True)
    plain, fused = (parse_module(text, name, module.context) for _ in range(2))
    run_pipeline(plain, ["train-reorder"], name)
    run_pipeline(fused, ["train-fuse-bottleneck{function=train_step}", "train-reorder"], name)
    step = find_function(fused, "train_step")
    assert [op.name for op in step.entry_block.operations].count("train.qbottleneck") >= 5
    step = find_function(plain, "train_step")
    parameters = select_parameters(find_function(plain, "forward"), imported.weights, name)
    arguments = []
    for i, arg in enumerate(step.entry_block.arguments):
        role = train.arg_role(step, i)
        if role is not None or train.momentum_of(step, i) is not None:
            key = train.arg_name(step, i)
            arguments.append(parameters.get(i, imported.weights.get(key)))
        elif ir_rank(arg) == 4:
            arguments.append(_images(name, 1, ir_shape(arg)[1:]))
        else:
            arguments.append(np.array([3] * ir_shape(arg)[0], np.int64))
    want = run_function(plain, "train_step", arguments)
    got = run_function(fused, "train_step", arguments)
    assert len(want) == len(got)
    for a, b in zip(want, got):
        assert np.array_equal(a, b)


def ir_shape(value) -> list[int]:
    return list(value.type.shape)


def ir_rank(value) -> int:
    return len(value.type.shape)


@needs_gcc
@requires_models
def test_mcunet_fused_forward_host_build_equals_interpreter(tmp_path):
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.parameters import select_parameters
    path = TTE_DIR / "mcunet-5fps.json"
    model = import_tte(path, rounding="multiplier_shift")
    run_pipeline(model.module, ["train-fuse-bottleneck"], str(path))
    forward = find_function(model.module, "forward")
    assert [op.name for op in forward.entry_block.operations].count("train.qbottleneck") >= 5
    parameters = select_parameters(forward, model.weights, str(path))
    renderer = cortex_m.CortexMRenderer(model.module, parameters, step=None)
    project = tmp_path / "mcunet"
    roomy = replace(cortex_m.TARGETS["cortex-m7"], ram_bytes=4 << 20)
    cortex_m.write_project(renderer, roomy, project)
    shape = [int(d) for d in renderer.input_value.type.shape]
    images = _images("mcunet-c", 2, shape[1:])
    images.tofile(project / "infer_input.bin")
    result = runner.run_host(runner.build(project, host=True), cwd=project)
    assert result.exit_code == 0, result.stderr
    logits = np.fromfile(project / "infer_output.bin", np.float32).reshape(2, -1)
    for image, got in zip(images, logits):
        inputs = [image[None] if i == renderer.input_index else parameters[i]
                  for i in range(len(forward.entry_block.arguments))]
        (want,) = run_function(model.module, "forward", inputs)
        assert np.array_equal(got, want.reshape(-1))


@requires_models
@pytest.mark.parametrize("name", ["mcunet-5fps", "mbv2-w0.35"])
def test_cortex_m_fuses_when_the_plan_does_not_fit_otherwise(name, tmp_path, monkeypatch):
    """`tcc --target=cortex-m7` fuses bottlenecks (fewer bytes, more instructions) only
    when the arena does not fit the part's SRAM otherwise (--fuse-bottlenecks auto): the
    frozen forward chains first, the trained backward ones (train.bottleneck_grad, the
    costlier) only if that is not enough; `always` takes the smallest arena, `never`
    fuses nothing."""
    from tcc.compiler import driver
    from tcc.compiler.frontends.tte import import_tte
    path = tmp_path / f"{name}.mlir"
    import_tte(TTE_DIR / f"{name}.json", num_classes=10).write(path)
    options = dict(scheme=f"{TTE_DIR / 'schemes.json'}#{name}/49kb", target="cortex-m7")

    def compiled(mode):
        model = driver.prepare(path, driver.TrainingOptions(**options, fuse_bottlenecks=mode))
        names = [op.name for op in find_function(model.module, "train_step").entry_block.operations]
        return (int(str(model.module.operation.attributes["train.arena_size"]).split()[0]),
                "train.qbottleneck" in names, "train.bottleneck_grad" in names)

    never, always, auto = compiled("never"), compiled("always"), compiled("auto")
    assert never[1:] == (False, False) and always[1:] == (True, True)
    assert always[0] < never[0]
    assert cortex_m.fits_ram(never[0], cortex_m.TARGETS["cortex-m7"])
    assert auto == never

    def part(ram):      # a part with `ram` bytes of SRAM for the arena
        return replace(cortex_m.TARGETS["cortex-m7"], ram_bytes=ram + cortex_m.RUNTIME_RAM_BYTES)

    # One byte short of the unfused plan: auto fuses the forward, which fits.
    monkeypatch.setitem(cortex_m.TARGETS, "cortex-m7", part(never[0] - 1))
    forward = compiled("auto")
    assert forward[1:] == (True, False) and always[0] < forward[0] < never[0]
    # One byte short of that too: auto fuses the backward as well.
    monkeypatch.setitem(cortex_m.TARGETS, "cortex-m7", part(forward[0] - 1))
    assert compiled("auto") == always

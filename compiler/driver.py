"""The compiler driver: the whole job behind `tcc`, as functions.

load → derive the training step (if the model has none) → reorder it and plan
its memory → render a target project (and its memory report) → optionally
build and train on the device, checking the losses against the reference
interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._mlir import ir
from .._mlir.dialects import quant
from ..dialects import train
from ..runtime import cortex_m_runner, interpreter
from .errors import BuildError, InputError, RunError, UnsupportedError
from .example_data import digits_batches, load_training_data
from . import memory_report
from .analysis import StepOptions, derive_step
from .frontends.model_file import weights_file
from .parameters import (default_parameters, load_parameters, parameter_indices, read_weights,
                         select_parameters)
from .pipeline import run_pipeline
from .source import find_function, load_module, new_context
from .targets import cortex_m


@dataclass
class TrainingOptions:
    """How the training step is derived and initialised."""

    lr: float = 0.05
    weight_decay: float = 0.0
    weights: Path | None = None
    seed: int = 0
    scheme: str | None = None          # FILE or FILE#KEY; its optimizer entries win
    budget: int | None = None          # bytes: pick a scheme whose arena fits
    optimizer: str = "sgd"
    momentum: float = 0.9
    qas: bool = True
    forward: str = "forward"
    step: str = "train_step"
    alignment: int = 16                # of the memory plan's offsets (bytes)
    plan_time_limit: float = 2.0       # seconds for planning each function
    target: str | None = None          # Cortex-M targets also fuse frozen bottlenecks
    fuse_bottlenecks: str = "auto"     # "auto" (when the arena does not fit otherwise),
                                       # "always" (when it lowers the arena), "never"
    gradients: str | None = None       # "float" or "int16" (Cortex-M, int8 models);
                                       # None: the target's default
    calibration_data: Path | None = None  # .npz batches calibrating int16 gradients
    calibration_samples: int = 4


@dataclass
class TrainableModel:
    """A module holding forward and train_step, plus initial parameter values."""

    module: ir.Module
    parameters: dict[int, np.ndarray]
    options: TrainingOptions
    context: ir.Context = field(repr=False, default=None)
    notes: list[str] = field(default_factory=list)  # what the compiler chose, for the user

    @property
    def forward(self):
        return find_function(self.module, self.options.forward)

    def _input_type(self) -> ir.RankedTensorType:
        """The type of the forward function's data input (its first non-parameter)."""
        arguments = self.forward.entry_block.arguments
        data = next(i for i in range(len(arguments)) if i not in self.parameters)
        return ir.RankedTensorType(arguments[data].type)

    def input_shape(self) -> list[int]:
        return list(self._input_type().shape)

    def input_dtype(self) -> np.dtype:
        """int8 for a model taking quantized inputs, else float32."""
        quantized = isinstance(self._input_type().element_type, quant.QuantizedType)
        return np.dtype(np.int8 if quantized else np.float32)

    def num_classes(self) -> int:
        ops = self.forward.entry_block.operations
        return list(ir.RankedTensorType(ops[len(ops) - 1].operands[0].type).shape)[-1]


def import_model(kind: str, model: str, output: Path, **options):
    """`tcc import-KIND`: imports a model and writes OUTPUT.mlir + OUTPUT.npz.

    Returns the two paths written and the ImportedModel. The input file is never
    overwritten.
    """
    source = Path(model.rsplit(":", 1)[0] if kind == "torch" else model)
    if not source.exists():
        raise InputError("no such file", str(source))
    if kind == "torch":
        from .frontends import pytorch
        imported = pytorch.import_torch_file(model, options["input_shape"])
    elif kind == "tte":
        from .frontends import tte
        imported = tte.import_tte(source, num_classes=options.get("num_classes"),
                                  seed=options.get("seed", 0),
                                  rounding=options.get("rounding", "float_scale"))
    elif kind == "tosa":
        from .frontends import tosa
        imported = tosa.import_tosa(source)
    else:
        raise InputError(f"unknown model kind '{kind}' (expected torch, tte or tosa)")
    if kind == "tte" and source.suffix == ".json":
        protect = (source, source.with_suffix(".npz"))
    else:
        protect = (source,)
    mlir, weights = imported.write(output, protect=protect)
    return mlir, weights, imported


def _ops(module: ir.Module):
    """Every op of the module's functions, in order."""
    for function in module.body.operations:
        for region in function.regions:
            for block in region.blocks:
                yield from block.operations


def prepare(path: str | Path, options: TrainingOptions) -> TrainableModel:
    """Loads a model and derives its training step unless it already has one."""
    context = new_context()
    module = load_module(path, context)
    imported_weights = None
    notes: list[str] = []
    if any(op.name.startswith("tosa.") for op in _ops(module)):
        from .frontends import tosa
        imported = tosa.import_tosa(module)
        module, imported_weights = imported.module, imported.weights
    step = StepOptions(scheme=options.scheme, optimizer=options.optimizer, lr=options.lr,
                       momentum=options.momentum if options.optimizer == "momentum" else None,
                       weight_decay=options.weight_decay, qas=options.qas,
                       forward=options.forward, step=options.step)
    if options.budget is not None:
        if options.scheme:
            raise InputError("give either --scheme or --budget, not both")
        from .budget import choose_scheme
        # Candidates are measured as the target will compile them.
        measured = replace(step, memory_passes=_memory_passes(options, module))
        choice = choose_scheme(module, options.budget, forward=options.forward, options=measured,
                               final_time_limit=options.plan_time_limit, filename=str(path))
        notes.append(choice.describe())
        step = replace(step, scheme=choice.scheme)
    derive_step(module, step, str(path))
    forward = find_function(module, options.forward)
    stored = weights_file(module, path)
    if options.weights:
        parameters = load_parameters(forward, options.weights)
    elif imported_weights is not None:
        parameters = select_parameters(forward, imported_weights, str(path))
    elif stored is not None:
        parameters = load_parameters(forward, stored)
    else:
        parameters = default_parameters(forward, options.seed)
    model = TrainableModel(module, parameters, options, context, notes)
    schedule_and_plan(module, options, str(path), calibrate=lambda m: _calibrate(model))
    return model


def _calibrate(model: TrainableModel) -> None:
    """Writes the gradient ranges of the float step on `calibration_samples` batches
    with the initial parameters: of --data, else of the bundled digits where the
    model takes them, else seeded random inputs and labels."""
    from .calibration import annotate_gradient_ranges, step_arguments
    options = model.options
    count, shape = options.calibration_samples, model.input_shape()
    if options.calibration_data:
        inputs, labels = load_training_data(options.calibration_data, shape, shape[0], count,
                                            model.input_dtype(), at_most=True)
    else:
        try:
            inputs, labels = digits_batches(shape, model.num_classes(), count, options.seed)
        except InputError:
            inputs, labels = random_batches(model, count)
    samples = step_arguments(model.module, options.step, model.parameters, inputs, labels)
    annotate_gradient_ranges(model.module, options.step, samples)


def _memory_passes(options: TrainingOptions, module: ir.Module) -> tuple[str, ...]:
    """What a Cortex-M target may run on the step before reordering, the smallest
    plan the --budget search measures: 1-bit masks, fused bottlenecks unless fusion is
    off (schedule_and_plan fuses then only if the unfused arena exceeds the budget)."""
    if options.target not in cortex_m.TARGETS:
        return ()
    int16 = gradient_format(options, module) == "int16"
    return _cortex_m_passes(options) + \
        (_fusion_passes(options, int16) if options.fuse_bottlenecks != "never" else ())


def _fusion_passes(options: TrainingOptions, int16: bool) -> tuple[str, ...]:
    """Bottleneck fusion: frozen forward chains, and with f32 gradients the backward of
    trained ones, a few channels at a time (its C kernel is f32)."""
    return ("train-fuse-bottleneck",) + \
        (() if int16 else (f"train-fuse-bottleneck-grad{{function={options.step}}}",))


def _cortex_m_passes(options: TrainingOptions) -> tuple[str, ...]:
    """What every Cortex-M step runs before reordering: 1-bit masks, fused int8 weight
    updates (no f32 weight gradient), depthwise input gradients in place."""
    return _gradient_passes(options) + (f"train-mark-inplace{{function={options.step}}}",)


def _gradient_passes(options: TrainingOptions) -> tuple[str, ...]:
    """The Cortex-M passes that shape the backward pass before its number format."""
    return (f"train-save-masks{{function={options.step}}}",
            f"train-fuse-update{{function={options.step}}}")


def gradient_format(options: TrainingOptions, module: ir.Module) -> str:
    """"int16" or "float": --gradients, else the target's default (int16 for an int8
    model on a part without an FPU); int16 needs a Cortex-M target and an int8 model."""
    target = cortex_m.TARGETS.get(options.target)
    quantized = _quantized(module, options.forward)
    default = "int16" if target is not None and not target.fpu and quantized else "float"
    chosen = options.gradients or default
    if chosen not in ("float", "int16"):
        raise InputError(f"unknown gradient format '{chosen}' (expected float or int16)")
    if chosen == "int16" and target is None:
        raise InputError("--gradients int16 is for Cortex-M targets (the C kernels)")
    if chosen == "int16" and not quantized:
        raise InputError("--gradients int16 needs an int8 (quantized) model; "
                         f"@{options.forward} has no quantized tensor")
    return chosen


def _quantized(module: ir.Module, forward: str) -> bool:
    function = find_function(module, forward)
    return any(isinstance(ir.RankedTensorType(a.type).element_type, quant.QuantizedType)
               for a in function.entry_block.arguments if isinstance(a.type, ir.RankedTensorType))


def schedule_and_plan(module: ir.Module, options: TrainingOptions,
                      filename: str | None = None, calibrate=None) -> None:
    """Orders the training step's ops to lower its peak (--train-reorder), then plans
    the arena of the step and of the forward function (--plan-memory): the offsets
    every code generator uses. For a Cortex-M target, the backward pass keeps 1-bit
    masks of the activations it only compares (--train-save-masks), int8 conv weights
    are updated as their gradient is computed (--train-fuse-update), stride-1
    depthwise input gradients overwrite their dy (--train-mark-inplace), and frozen int8
    inverted bottlenecks become row-band fused ops (--train-fuse-bottleneck) and, with
    f32 gradients, trained ones' backward a few channels at a time
    (--train-fuse-bottleneck-grad; only the C kernels run either) per
    `options.fuse_bottlenecks`: fusion saves memory but costs
    instructions, so by default only a plan that does not fit the part's SRAM fuses.
    With int16 gradients (`gradient_format`), `calibrate(module)` writes the gradient
    ranges of the float step, then --train-int16-gradients converts it."""
    plan = f"alignment={options.alignment} time-limit={options.plan_time_limit}"
    int16 = gradient_format(options, module) == "int16"
    passes = [f"train-reorder{{step={options.step}}}",
              f"plan-memory{{function={options.step} {plan}}}",
              f"plan-memory{{function={options.forward} {plan}}}"]
    if options.target in cortex_m.TARGETS:
        run_pipeline(module, list(_gradient_passes(options)), filename)
        if int16:
            if calibrate is None:
                raise InputError("int16 gradients need calibration (the `calibrate` "
                                 "callback of schedule_and_plan)")
            calibrate(module)
            run_pipeline(module, [f"train-int16-gradients{{function={options.step}}}"], filename)
        run_pipeline(module, [f"train-mark-inplace{{function={options.step}}}"], filename)
        passes = _fusion(module, passes, _fusion_passes(options, int16), options,
                         filename) + passes
    run_pipeline(module, passes, filename)


def _fusion(module: ir.Module, passes: list[str], fusion: tuple[str, ...],
            options: TrainingOptions, filename: str | None) -> list[str]:
    """The fusion passes to run: plans copies of the module unfused and with each
    prefix of `fusion` (frozen forward chains, then trained backward ones); "always"
    takes the smallest arena, "auto" the first that fits the --budget if one is
    given, else the target's SRAM (fusion costs instructions; the backward's most),
    or the smallest when none does. A fusion must lower the arena to be taken."""
    if options.fuse_bottlenecks not in ("auto", "always", "never"):
        raise InputError(f"unknown bottleneck fusion mode '{options.fuse_bottlenecks}' "
                         "(expected auto, always or never)")
    if options.fuse_bottlenecks == "never":
        return []
    text = module.operation.get_asm(enable_debug_info=True)
    target = cortex_m.TARGETS[options.target]
    arenas = []
    for k in range(len(fusion) + 1):
        trial = ir.Module.parse(text, context=module.context)
        run_pipeline(trial, list(fusion[:k]) + passes, filename)
        arena = ir.IntegerAttr(trial.operation.attributes["train.arena_size"]).value
        arenas.append(arena)
        fits = arena <= options.budget if options.budget is not None else \
            cortex_m.fits_ram(arena, target)
        if options.fuse_bottlenecks == "auto" and fits and arena <= min(arenas):
            return list(fusion[:k])
    smallest = min(range(len(arenas)), key=lambda k: (arenas[k], k))
    return list(fusion[:smallest])


def check_target(name: str) -> None:
    """Rejects an unknown `tcc --target` before any work is done."""
    known = sorted(cortex_m.TARGETS) + ["cpu", "gpu"]
    if name not in known:
        raise InputError(f"unknown target '{name}' (expected one of: {', '.join(known)})")


def compile_cortex_m(model: TrainableModel, target_name: str, out: Path,
                     report: Path | None = None, name: str = "") -> dict:
    """Writes the C project for a Cortex-M target, and the memory report into
    `report` too if given; returns the memory report."""
    if target_name not in cortex_m.TARGETS:
        raise InputError(f"unknown target '{target_name}' (expected one of: "
                         f"{', '.join(sorted(cortex_m.TARGETS))})")
    target = cortex_m.TARGETS[target_name]
    options = model.options
    # The report describes the plan, whatever the target supports: written first.
    data = cortex_m.memory_report(model.module, model.parameters, target, options.forward,
                                  options.step, name)
    if report is not None:
        memory_report.write(data, report)
    renderer = cortex_m.CortexMRenderer(model.module, model.parameters, options.forward,
                                        options.step)
    return cortex_m.write_project(renderer, target, out, data)


def compile_cpu(model: TrainableModel, out: Path, report: Path | None = None,
                name: str = "") -> dict:
    """`tcc --target=cpu -o OUT`: a shared library + `model.h` for the host (LLVM), built
    from the planned module, and the memory report; returns the report."""
    from .targets import cpu_library
    cortex_m.prepare_output_dir(out)
    options = model.options
    data = memory_report.report(model.module, (options.step, options.forward), model=name,
                                target="cpu")
    if report is not None:
        memory_report.write(data, report)
    cpu_library.require_cpu_target()
    files = cpu_library.write_trainable(model.module, model.parameters, out,
                                        forward=options.forward, step=options.step)
    memory_report.write(data, out)
    (out / cortex_m.PROJECT_MARKER).write_text("target cpu\n")
    return {**data, "library": str(files["library"])}


def compile_gpu(model: TrainableModel, out: Path, report: Path | None = None,
                name: str = "") -> dict:
    """`tcc --target=gpu -o OUT`: the planned module the GPU target launches (its Triton
    kernels compile when first run) and the memory report of its device arena."""
    cortex_m.prepare_output_dir(out)
    options = model.options
    data = memory_report.report(model.module, (options.step, options.forward), model=name,
                                target="gpu")
    if report is not None:
        memory_report.write(data, report)
    memory_report.write(data, out)
    (out / "model.mlir").write_text(model.module.operation.get_asm(enable_debug_info=True))
    np.savez(out / "parameters.npz", **{f"arg{i}": v for i, v in model.parameters.items()})
    (out / cortex_m.PROJECT_MARKER).write_text("target gpu\n")
    return data


def train_on_gpu(model: TrainableModel, inputs: np.ndarray, labels: np.ndarray) -> list[float]:
    """Trains with the GPU target's launch list over one device arena; its losses."""
    from .targets import gpu
    name = model.options.step
    executor = gpu.compile_functions(model.module, [name])
    return _train(model, inputs, labels,
                  lambda values: [r.cpu().numpy() for r in executor.call(name, values)])


def train_on_host_library(out: Path, inputs: np.ndarray, labels: np.ndarray) -> list[float]:
    """Trains with the C harness linked against OUT's library; its losses."""
    from .targets import cpu_library
    return cpu_library.run_harness(out, inputs, labels)


def training_batches(model: TrainableModel, steps: int,
                     data: Path | None) -> tuple[np.ndarray, np.ndarray]:
    shape = model.input_shape()
    if data:
        return load_training_data(data, shape, shape[0], steps, model.input_dtype())
    return digits_batches(shape, model.num_classes(), steps, model.options.seed)


def random_batches(model: TrainableModel, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """`steps` seeded random batches for the model's input (calibration.random_batches)."""
    from .calibration import random_batches as batches
    return batches(model.input_shape(), model.num_classes(), steps, model.options.seed,
                   model.input_dtype() == np.int8)


def reference_losses(model: TrainableModel, inputs: np.ndarray, labels: np.ndarray) -> list[float]:
    """Losses of the same training run in the reference interpreter."""
    return _train(model, inputs, labels,
                  lambda values: interpreter.run_function(model.module, model.options.step,
                                                          values))


def _train(model: TrainableModel, inputs: np.ndarray, labels: np.ndarray, run_step) -> list[float]:
    """Runs the training step over the batches with `run_step(arguments) -> results`,
    feeding each step's updated parameters (and momentum buffers) to the next."""
    step = find_function(model.module, model.options.step)
    args = step.entry_block.arguments
    state = dict(model.parameters)
    for index, arg in enumerate(args):
        if train.momentum_of(step, index) is not None:  # momentum buffers start at zero
            state[index] = np.zeros(train.shape_of(arg), dtype=np.float32)
    data_index = next(i for i in range(len(args) - 1) if i not in state)
    losses = []
    for x, y in zip(inputs, labels):
        values = [state.get(i) for i in range(len(args))]
        values[data_index], values[-1] = x, y
        results = run_step(values)
        losses.append(float(results[0]))
        for index, result in enumerate(results[1:], start=1):
            target = train.updated_arg(step, index)
            if target is not None:
                state[target] = result
    return losses


def build_and_run(project: Path, target_name: str, *, host: bool = False):
    """Builds a Cortex-M project and runs it in qemu (or on this machine with `host`);
    returns the RunResult of a run that exited with code 0."""
    cpu = cortex_m.TARGETS[target_name].cpu
    try:
        program = cortex_m_runner.build(project, host=host, cpu=cpu)
    except cortex_m_runner.BuildError as error:
        overflow = cortex_m.link_overflow(error.output, cortex_m.TARGETS[target_name])
        if overflow is not None:
            raise overflow from None
        raise BuildError("the generated project did not build", str(project),
                         output=error.output) from None
    except cortex_m_runner.ToolchainError as error:
        raise UnsupportedError(str(error)) from None
    if host:
        result = cortex_m_runner.run_host(program, cwd=project)
    else:
        result = cortex_m_runner.run_qemu(program, cwd=project, cpu=cpu)
    if result.exit_code != 0:
        detail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RunError(f"the program exited with code {result.exit_code} "
                       f"({result.describe_exit()}): {detail[0]}", str(program))
    return result


def train_on_device(project: Path, target_name: str, inputs: np.ndarray, labels: np.ndarray,
                    *, host: bool = False) -> list[float]:
    """Builds the project, runs it (qemu or host) on the batches, returns its losses."""
    cortex_m_runner.write_train_data(project / "train_data.bin", inputs, labels,
                                     dtype=np.int8 if inputs.dtype == np.int8 else np.float32)
    result = build_and_run(project, target_name, host=host)
    losses = cortex_m_runner.parse_losses(result.stdout)
    if len(losses) != len(inputs):
        raise RunError(f"expected {len(inputs)} losses, the program printed {len(losses)}",
                       str(project))
    return losses


def run_on_cortex_m(module: ir.Module, function: str, arrays: list, target_name: str, *,
                    forward: str = "forward", step: str = "train_step",
                    host: bool = False) -> list[np.ndarray]:
    """`tcc run --target=cortex-m7`: renders `function` (the forward alone, or the
    training step) as a C project with the given parameters compiled in, runs it once
    in qemu and returns its results as the reference interpreter would."""
    import tempfile
    target = cortex_m.TARGETS[target_name]
    is_step = function == step
    called = find_function(module, function)
    model = find_function(module, forward if is_step else function)
    args = called.entry_block.arguments
    parameters = {i: np.asarray(arrays[i]) for i in range(len(model.entry_block.arguments))
                  if train.arg_role(model, i) is not None}
    for index in range(len(args)):
        if train.momentum_of(called, index) is not None and np.any(arrays[index]):
            raise UnsupportedError("tcc run --target=cortex-m starts momentum buffers at "
                                   f"zero; argument #{index} is not zero")
    count = len(ir.FunctionType(called.function_type.value).results)
    renderer = cortex_m.CortexMRenderer(module, parameters, model.sym_name.value,
                                        function if is_step else None)
    if not is_step and (len(renderer.data_indices) != 1 or count != 1):
        raise UnsupportedError(f"tcc run --target={target_name} runs a function with one "
                               f"data input and one result; @{function} has "
                               f"{len(renderer.data_indices)} and {count}")
    with tempfile.TemporaryDirectory(prefix="tcc-run-") as tmp:
        project = Path(tmp)
        cortex_m.write_project(renderer, target, project, harness="step" if is_step else "infer")
        if not is_step:
            cortex_m.write_infer_input(project / "infer_input.bin", renderer,
                                       arrays[renderer.input_index])
            build_and_run(project, target_name, host=host)
            return [cortex_m.read_infer_output(project / "infer_output.bin", renderer)]
        cortex_m.write_step_input(project / "step_input.bin", renderer,
                                  arrays[renderer.input_index], arrays[len(args) - 1])
        build_and_run(project, target_name, host=host)
        loss, updated = cortex_m.read_step_output(project / "step_output.bin", renderer)
    returned = list(called.entry_block.operations)[-1].operands
    results = [np.asarray(loss, dtype=np.float32).reshape(train.shape_of(returned[0]))]
    for position in range(1, count):
        index = train.updated_arg(called, position)
        name = train.arg_name(model, index) if index is not None else None
        if name not in updated:
            raise UnsupportedError(f"result #{position} of @{function} is not a trainable "
                                   "parameter's update; the Cortex-M harness returns only "
                                   "the loss and the parameters")
        kind = cortex_m.element_kind(returned[position])
        # A partial-channel parameter comes back as its trained channels.
        shape = cortex_m.stored_shape(renderer, index)
        full = np.array(arrays[index], dtype=cortex_m.NUMPY_TYPES[kind], copy=True)
        full[tuple(slice(0, n) for n in shape)] = np.frombuffer(
            updated[name], dtype=cortex_m.NUMPY_TYPES[kind]).reshape(shape)
        results.append(full)
    return results


RUN_TARGETS = ("reference", "cpu", "gpu", *sorted(cortex_m.TARGETS))


def run_function(module: ir.Module, function: str, arrays: list, target: str, *,
                 forward: str = "forward", step: str = "train_step") -> list:
    """Runs one function on `target`: the reference interpreter, the LLVM-compiled CPU
    code (through the cache), the GPU target, or a Cortex-M target in qemu."""
    if target == "reference":
        return interpreter.run_function(module, function, arrays)
    if target == "cpu":
        from .api import compile_functions
        return compile_functions(module, [function]).call(function, arrays)
    if target == "gpu":
        from .targets import gpu
        return gpu.run_function(module, function, arrays)
    if target in cortex_m.TARGETS:
        return run_on_cortex_m(module, function, arrays, target, forward=forward, step=step)
    raise InputError(f"unknown target '{target}' for tcc run (expected one of: "
                     f"{', '.join(RUN_TARGETS)})")


def run_function_file(path: Path, function: str, inputs: Path, output: Path,
                      options: TrainingOptions, target_name: str = "reference") -> list[str]:
    """`tcc run`: executes one function on a target (default: the reference
    interpreter); returns the result names."""
    if target_name not in RUN_TARGETS:
        raise InputError(f"unknown target '{target_name}' for tcc run (expected one of: "
                         f"{', '.join(RUN_TARGETS)})")
    model = prepare(path, options) if function == options.step else None
    module = model.module if model else load_module(path, new_context())
    target = find_function(module, function)
    # Parameters come from the model's weights file unless the inputs name them.
    stored = weights_file(module, path)
    arrays = read_weights(stored) if stored is not None and not options.weights else {}
    if options.weights:
        arrays.update(read_weights(options.weights))
    arrays.update(read_weights(inputs))
    bound = interpreter.bind_inputs(target, arrays)
    results = run_function(module, function, bound, target_name, forward=options.forward,
                           step=options.step)
    names = interpreter.result_names(module, function)
    np.savez(output, **dict(zip(names, results)))
    return names

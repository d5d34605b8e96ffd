// Behaviour of the tcc-opt tool itself.

// An unknown pass flag is one error line, exit code 1, no traceback.
// RUN: not tcc-opt %s --bogus-pass 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: error: bad pass pipeline 'bogus-pass': 'bogus-pass' does not refer to a registered pass or pass pipeline
// UNKNOWN-NOT: Traceback

// An unknown option of a tcc pass lists the known ones.
// RUN: not tcc-opt %s --train-autodiff="bogus=1" 2>&1 | FileCheck %s --check-prefix=OPTION
// OPTION: error: pass 'train-autodiff' has no option 'bogus' (options: forward, loss, lr, momentum, optimizer, qas, scheme, step, weight-decay)
// OPTION-NOT: Traceback

// A malformed pipeline.
// RUN: not tcc-opt %s --pass-pipeline='builtin.module(cse' 2>&1 | FileCheck %s --check-prefix=UNBALANCED
// UNBALANCED: error: unbalanced '(' or '{' in pass pipeline 'builtin.module(cse'
// UNBALANCED-NOT: Traceback

// A missing input file.
// RUN: not tcc-opt %t.missing 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: {{.*}}.missing: error: no such file
// MISSING-NOT: Traceback

// Malformed MLIR: `file:line:col: error: message` and exit code 1.
// RUN: echo 'func.func @f( {' > %t.bad.mlir
// RUN: not tcc-opt %t.bad.mlir 2>&1 | FileCheck %s --check-prefix=MALFORMED
// RUN: %PYTHON -c "import subprocess, sys; sys.exit(subprocess.run(['tcc-opt', sys.argv[1]], capture_output=True).returncode != 1)" %t.bad.mlir
// MALFORMED: {{.*}}.bad.mlir:1:14: error: expected non-function type
// MALFORMED-NOT: Traceback

// Upstream passes mix with tcc's in one pipeline, in order: the duplicated
// relu is merged and the dead one erased, in both functions.
// RUN: tcc-opt %s --pass-pipeline='builtin.module(train-autodiff{lr=0.05},canonicalize,cse)' | FileCheck %s --check-prefix=PIPELINE
// RUN: tcc-opt %s --cse --train-autodiff="lr=0.05" --canonicalize | FileCheck %s --check-prefix=PIPELINE
// PIPELINE-LABEL: func.func @forward(
// PIPELINE: %[[A:.*]] = train.relu
// PIPELINE-NOT: train.relu
// PIPELINE: train.add %[[A]], %[[A]]
// PIPELINE-NOT: train.relu
// PIPELINE: train.linear
// PIPELINE-LABEL: func.func @train_step(
// PIPELINE: %[[A2:.*]] = train.relu
// PIPELINE-NOT: train.relu
// PIPELINE: train.add %[[A2]], %[[A2]]
// PIPELINE-NOT: train.relu
// PIPELINE: train.linear
// PIPELINE: train.sgd {{.*}} lr 5.000000e-02

// -o writes the output to a file and nothing to stdout; `-` reads stdin.
// RUN: tcc-opt %s -o %t.out > %t.stdout
// RUN: FileCheck %s --check-prefix=OUTPUT --input-file %t.out
// RUN: %PYTHON -c "import os, sys; sys.exit(os.path.getsize(sys.argv[1]) != 0)" %t.stdout
// RUN: tcc-opt - < %s | FileCheck %s --check-prefix=OUTPUT
// OUTPUT-LABEL: func.func @forward(
// OUTPUT-COUNT-2: train.relu
// OUTPUT: train.add
// OUTPUT-NOT: @train_step

func.func @forward(%x: tensor<4x16xf32>,
                   %w: tensor<10x16xf32> {train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %a = train.relu %x : tensor<4x16xf32>
  %b = train.relu %x : tensor<4x16xf32>
  %s = train.add %a, %b : tensor<4x16xf32>
  %dead = train.relu %s : tensor<4x16xf32>
  %y = train.linear %s, %w : (tensor<4x16xf32>, tensor<10x16xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}

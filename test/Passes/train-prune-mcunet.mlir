// The five sparse-update schemes the TTE paper ships for MCUNet-5FPS, applied by
// --train-autodiff and pruned by --train-prune: weight gradients exist exactly for the
// layers a scheme trains, bias gradients only where it updates biases, and nothing is
// computed below the earliest trained layer. Ops carry their layer's name as location.
// REQUIRES: tte-models
// RUN: tcc import-tte %tte_models/mcunet-5fps.json --num-classes 10 -o %t.mlir

// RUN: tcc-opt %t.mlir --train-autodiff="scheme=%tte_models/schemes.json#mcunet-5fps/49kb" --train-prune --mlir-print-debuginfo --mlir-print-local-scope > %t.49kb
// RUN: FileCheck %s --input-file %t.49kb --check-prefix=S49
// RUN: FileCheck %s --input-file %t.49kb --check-prefix=S49-NONE
// S49-LABEL: func.func @train_step
// S49-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.10.pointwise1")
// S49-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.8.pointwise1")
// S49-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.9.pointwise1")
// S49-DAG: train.conv2d_grad_weight {{.*}} loc("classifier")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.10.depthwise")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise1")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise2")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.11.depthwise")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise1")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise2")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.12.depthwise")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise1")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise2")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.13.depthwise")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise1")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise2")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.7.depthwise")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise2")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.8.depthwise")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise1")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise2")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.9.depthwise")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise1")
// S49-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise2")
// S49-DAG: train.bias_grad {{.*}} loc("classifier")
// S49-NONE-LABEL: func.func @train_step
// S49-NONE-NOT: _grad {{.*}} loc("{{first_conv|blocks\.[0-5]\.}}
// S49-NONE-NOT: train.conv2d_grad_weight {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.10\.depthwise|blocks\.10\.pointwise2|blocks\.11\.depthwise|blocks\.11\.pointwise1|blocks\.11\.pointwise2|blocks\.12\.depthwise|blocks\.12\.pointwise1|blocks\.12\.pointwise2|blocks\.13\.depthwise|blocks\.13\.pointwise1|blocks\.13\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1|blocks\.6\.pointwise2|blocks\.7\.depthwise|blocks\.7\.pointwise1|blocks\.7\.pointwise2|blocks\.8\.depthwise|blocks\.8\.pointwise2|blocks\.9\.depthwise|blocks\.9\.pointwise2}}")
// S49-NONE-NOT: train.bias_grad {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1|blocks\.6\.pointwise2|blocks\.7\.pointwise1}}")
// S49-NONE: return

// RUN: tcc-opt %t.mlir --train-autodiff="scheme=%tte_models/schemes.json#mcunet-5fps/74kb" --train-prune --mlir-print-debuginfo --mlir-print-local-scope > %t.74kb
// RUN: FileCheck %s --input-file %t.74kb --check-prefix=S74
// RUN: FileCheck %s --input-file %t.74kb --check-prefix=S74-NONE
// S74-LABEL: func.func @train_step
// S74-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.10.pointwise1")
// S74-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.7.pointwise1")
// S74-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.8.pointwise1")
// S74-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.9.pointwise1")
// S74-DAG: train.conv2d_grad_weight {{.*}} loc("classifier")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.10.depthwise")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise1")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise2")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.11.depthwise")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise1")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise2")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.12.depthwise")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise1")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise2")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.13.depthwise")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise1")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise2")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.7.depthwise")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise1")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise2")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.8.depthwise")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise1")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise2")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.9.depthwise")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise1")
// S74-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise2")
// S74-DAG: train.bias_grad {{.*}} loc("classifier")
// S74-NONE-LABEL: func.func @train_step
// S74-NONE-NOT: _grad {{.*}} loc("{{first_conv|blocks\.[0-5]\.}}
// S74-NONE-NOT: train.conv2d_grad_weight {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.10\.depthwise|blocks\.10\.pointwise2|blocks\.11\.depthwise|blocks\.11\.pointwise1|blocks\.11\.pointwise2|blocks\.12\.depthwise|blocks\.12\.pointwise1|blocks\.12\.pointwise2|blocks\.13\.depthwise|blocks\.13\.pointwise1|blocks\.13\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1|blocks\.6\.pointwise2|blocks\.7\.depthwise|blocks\.7\.pointwise2|blocks\.8\.depthwise|blocks\.8\.pointwise2|blocks\.9\.depthwise|blocks\.9\.pointwise2}}")
// S74-NONE-NOT: train.bias_grad {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1|blocks\.6\.pointwise2}}")
// S74-NONE: return

// RUN: tcc-opt %t.mlir --train-autodiff="scheme=%tte_models/schemes.json#mcunet-5fps/99kb" --train-prune --mlir-print-debuginfo --mlir-print-local-scope > %t.99kb
// RUN: FileCheck %s --input-file %t.99kb --check-prefix=S99
// RUN: FileCheck %s --input-file %t.99kb --check-prefix=S99-NONE
// S99-LABEL: func.func @train_step
// S99-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.10.pointwise1")
// S99-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.12.pointwise1")
// S99-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.13.pointwise1")
// S99-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.7.pointwise1")
// S99-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.8.pointwise1")
// S99-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.9.pointwise1")
// S99-DAG: train.conv2d_grad_weight {{.*}} loc("classifier")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.10.depthwise")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise1")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.11.depthwise")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise1")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.12.depthwise")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise1")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.13.depthwise")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise1")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.6.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.7.depthwise")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise1")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.8.depthwise")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise1")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.9.depthwise")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise1")
// S99-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise2")
// S99-DAG: train.bias_grad {{.*}} loc("classifier")
// S99-NONE-LABEL: func.func @train_step
// S99-NONE-NOT: _grad {{.*}} loc("{{first_conv|blocks\.[0-5]\.}}
// S99-NONE-NOT: train.conv2d_grad_weight {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.10\.depthwise|blocks\.10\.pointwise2|blocks\.11\.depthwise|blocks\.11\.pointwise1|blocks\.11\.pointwise2|blocks\.12\.depthwise|blocks\.12\.pointwise2|blocks\.13\.depthwise|blocks\.13\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1|blocks\.6\.pointwise2|blocks\.7\.depthwise|blocks\.7\.pointwise2|blocks\.8\.depthwise|blocks\.8\.pointwise2|blocks\.9\.depthwise|blocks\.9\.pointwise2}}")
// S99-NONE-NOT: train.bias_grad {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1}}")
// S99-NONE: return

// RUN: tcc-opt %t.mlir --train-autodiff="scheme=%tte_models/schemes.json#mcunet-5fps/124kb" --train-prune --mlir-print-debuginfo --mlir-print-local-scope > %t.124kb
// RUN: FileCheck %s --input-file %t.124kb --check-prefix=S124
// RUN: FileCheck %s --input-file %t.124kb --check-prefix=S124-NONE
// S124-LABEL: func.func @train_step
// S124-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.10.pointwise1")
// S124-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.11.pointwise1")
// S124-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.13.pointwise1")
// S124-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.7.pointwise1")
// S124-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.8.pointwise1")
// S124-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.9.pointwise1")
// S124-DAG: train.conv2d_grad_weight {{.*}} loc("classifier")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.10.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.11.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.12.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.13.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.6.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.6.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.6.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.7.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.8.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.9.depthwise")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise1")
// S124-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise2")
// S124-DAG: train.bias_grad {{.*}} loc("classifier")
// S124-NONE-LABEL: func.func @train_step
// S124-NONE-NOT: _grad {{.*}} loc("{{first_conv|blocks\.[0-5]\.}}
// S124-NONE-NOT: train.conv2d_grad_weight {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.10\.depthwise|blocks\.10\.pointwise2|blocks\.11\.depthwise|blocks\.11\.pointwise2|blocks\.12\.depthwise|blocks\.12\.pointwise1|blocks\.12\.pointwise2|blocks\.13\.depthwise|blocks\.13\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1|blocks\.6\.pointwise2|blocks\.7\.depthwise|blocks\.7\.pointwise2|blocks\.8\.depthwise|blocks\.8\.pointwise2|blocks\.9\.depthwise|blocks\.9\.pointwise2}}")
// S124-NONE-NOT: train.bias_grad {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2}}")
// S124-NONE: return

// RUN: tcc-opt %t.mlir --train-autodiff="scheme=%tte_models/schemes.json#mcunet-5fps/148kb" --train-prune --mlir-print-debuginfo --mlir-print-local-scope > %t.148kb
// RUN: FileCheck %s --input-file %t.148kb --check-prefix=S148
// RUN: FileCheck %s --input-file %t.148kb --check-prefix=S148-NONE
// S148-LABEL: func.func @train_step
// S148-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.10.pointwise1")
// S148-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.12.pointwise1")
// S148-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.13.pointwise1")
// S148-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.7.pointwise1")
// S148-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.8.pointwise1")
// S148-DAG: train.conv2d_grad_weight {{.*}} loc("blocks.9.pointwise1")
// S148-DAG: train.conv2d_grad_weight {{.*}} loc("classifier")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.10.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise1")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.10.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.11.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise1")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.11.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.12.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise1")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.12.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.13.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise1")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.13.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.6.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.6.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.7.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise1")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.7.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.8.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise1")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.8.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.9.depthwise")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise1")
// S148-DAG: train.bias_grad {{.*}} loc("blocks.9.pointwise2")
// S148-DAG: train.bias_grad {{.*}} loc("classifier")
// S148-NONE-LABEL: func.func @train_step
// S148-NONE-NOT: _grad {{.*}} loc("{{first_conv|blocks\.[0-5]\.}}
// S148-NONE-NOT: train.conv2d_grad_weight {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.10\.depthwise|blocks\.10\.pointwise2|blocks\.11\.depthwise|blocks\.11\.pointwise1|blocks\.11\.pointwise2|blocks\.12\.depthwise|blocks\.12\.pointwise2|blocks\.13\.depthwise|blocks\.13\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.depthwise|blocks\.6\.pointwise1|blocks\.6\.pointwise2|blocks\.7\.depthwise|blocks\.7\.pointwise2|blocks\.8\.depthwise|blocks\.8\.pointwise2|blocks\.9\.depthwise|blocks\.9\.pointwise2}}")
// S148-NONE-NOT: train.bias_grad {{.*}} loc("{{blocks\.0\.depthwise|blocks\.0\.pointwise2|blocks\.1\.depthwise|blocks\.1\.pointwise1|blocks\.1\.pointwise2|blocks\.2\.depthwise|blocks\.2\.pointwise1|blocks\.2\.pointwise2|blocks\.3\.depthwise|blocks\.3\.pointwise1|blocks\.3\.pointwise2|blocks\.4\.depthwise|blocks\.4\.pointwise1|blocks\.4\.pointwise2|blocks\.5\.depthwise|blocks\.5\.pointwise1|blocks\.5\.pointwise2|blocks\.6\.pointwise1}}")
// S148-NONE: return

//===- TrainOps.td - train dialect operations ---------------*- tablegen -*-===//

#ifndef TCC_TRAIN_OPS
#define TCC_TRAIN_OPS

include "tcc/Dialect/Train/TrainDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/CommonAttrConstraints.td"

def Train_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Train_LabelTensor : RankedTensorOf<[AnySignlessInteger]>;
def Train_ScalarTensor : 0DTensorOf<[AnyFloat]>;

// Upstream `quant` element types of the int8 ops: per-tensor activations
// (`!quant.uniform<i8:f32, 0.02:-128>`, the storage range may be narrowed:
// `i8<-128:127>`) and per-channel weights (`!quant.uniform<i8:f32:0, {...}>`).
def Train_QInt8 : Type<
    CPred<"::llvm::isa<::mlir::quant::UniformQuantizedType>($_self) && "
          "::llvm::cast<::mlir::quant::UniformQuantizedType>($_self)"
          ".isSigned() && "
          "::llvm::cast<::mlir::quant::UniformQuantizedType>($_self)"
          ".getStorageTypeIntegralWidth() == 8">,
    "per-tensor int8 quantized type", "::mlir::quant::UniformQuantizedType">;
def Train_QInt8PerAxis : Type<
    CPred<"::llvm::isa<::mlir::quant::UniformQuantizedPerAxisType>($_self) && "
          "::llvm::cast<::mlir::quant::UniformQuantizedPerAxisType>($_self)"
          ".isSigned() && "
          "::llvm::cast<::mlir::quant::UniformQuantizedPerAxisType>($_self)"
          ".getStorageTypeIntegralWidth() == 8">,
    "per-axis int8 quantized type",
    "::mlir::quant::UniformQuantizedPerAxisType">;

// Fixed-point gradients (--train-int16-gradients): value = q · 2^e with q the
// int16 (a gradient) or int32 (a sum of gradients) storage, zero point 0.
def Train_QGrad16 : Type<CPred<"::mlir::train::isFixedPointGradient($_self, 16)">,
    "int16 fixed-point gradient type", "::mlir::quant::UniformQuantizedType">;
def Train_QGrad32 : Type<CPred<"::mlir::train::isFixedPointGradient($_self, 32)">,
    "int32 fixed-point gradient type", "::mlir::quant::UniformQuantizedType">;
// A gradient: float, or int16 fixed point.
def Train_GradTensor : RankedTensorOf<[AnyFloat, Train_QGrad16]>;

def Train_QTensor : RankedTensorOf<[Train_QInt8]>;
def Train_QWeightTensor : RankedTensorOf<[Train_QInt8PerAxis]>;
def Train_QBiasTensor : RankedTensorOf<[I32]>;
// Operands of the layout ops: they move or compare values only, so they take
// float tensors and per-tensor int8 quantized tensors alike (the verifiers
// require one element type across operands and result).
def Train_FloatOrQTensor : RankedTensorOf<[AnyFloat, Train_QInt8, Train_QGrad16]>;

// Convolution geometry shared by the forward op and its gradients.
defvar ConvGeometry = (ins
  DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$stride,
  DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0}">:$padding,
  DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilation,
  DefaultValuedAttr<I64Attr, "1">:$groups);

defvar ConvGeometryFormat =
  "(`stride` $stride^)? (`padding` $padding^)? (`dilation` $dilation^)? "
  "(`groups` $groups^)?";

// Pooling window shared by the pooling ops (PyTorch's floor mode).
defvar PoolGeometry = (ins
  DenseI64ArrayAttr:$kernel,
  DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$stride,
  DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0}">:$padding);

defvar PoolGeometryFormat =
  "`kernel` $kernel (`stride` $stride^)? (`padding` $padding^)?";

// Printed `rounding float_scale` (a bare keyword) by custom<Rounding>.
defvar RoundingArg = (ins Train_RoundingAttr:$rounding);

//===----------------------------------------------------------------------===//
// Forward ops
//===----------------------------------------------------------------------===//

def Train_LinearOp : Train_Op<"linear", [Pure]> {
  let summary = "fully connected layer: y = x · Wᵀ + b";
  let description = [{
    `input` is [N, K], `weight` is [M, K] and the optional `bias` is [M];
    the result is [N, M].

    ```mlir
    %y = train.linear %x, %w, %b
        : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<4x32xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$input, Train_FloatTensor:$weight,
                       Optional<Train_FloatTensor>:$bias);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_Conv2dOp : Train_Op<"conv2d", [Pure]> {
  let summary = "2-D convolution (NCHW input, OIHW weight), optionally grouped";
  let description = [{
    y[n, o, i, j] = b[o] + Σ_{c, ki, kj} x[n, g·C/G + c, i·s + ki·d - p, j·s + kj·d - p]
                                         · w[o, c, ki, kj]
    with zero padding, where g is the group of output channel o. `groups` equal
    to the input channel count gives a depthwise convolution.

    ```mlir
    %y = train.conv2d %x, %w, %b stride [2, 2] padding [1, 1]
        : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
    ```
  }];
  let arguments = !con((ins Train_FloatTensor:$input, Train_FloatTensor:$weight,
                            Optional<Train_FloatTensor>:$bias), ConvGeometry);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = !strconcat("$input `,` $weight (`,` $bias^)? ", ConvGeometryFormat,
      " attr-dict `:` functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_AddOp : Train_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "element-wise addition of two tensors of the same type";
  let arguments = (ins Train_GradTensor:$lhs, Train_GradTensor:$rhs);
  let results = (outs Train_GradTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Train_ReluOp : Train_Op<"relu", [Pure, SameOperandsAndResultType]> {
  let summary = "rectified linear unit: y = max(x, 0)";
  let arguments = (ins Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Train_ReshapeOp : Train_Op<"reshape", [Pure]> {
  let summary = "reinterpret a tensor with another static shape (row-major)";
  let description = [{
    Flattening is a reshape: `tensor<4x8x2x2xf32> -> tensor<4x32xf32>`.
  }];
  let arguments = (ins Train_FloatOrQTensor:$input);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Train_CrossEntropyOp : Train_Op<"cross_entropy", [Pure]> {
  let summary = "mean softmax cross-entropy of [N, C] logits against N labels";
  let description = [{
    loss = (1/N) Σ_n (logsumexp(x[n, :]) - x[n, label[n]]).
  }];
  let arguments = (ins Train_FloatTensor:$logits, Train_LabelTensor:$labels);
  let results = (outs Train_ScalarTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Train_MatmulOp : Train_Op<"matmul", [Pure]> {
  let summary = "batched matrix product: y[..., i, j] = Σ_k a[..., i, k] · b[..., k, j]";
  let description = [{
    Both operands and the result have the same rank (>= 2); the leading (batch)
    dimensions are equal.

    ```mlir
    %y = train.matmul %a, %b
        : (tensor<2x4x8xf32>, tensor<2x8x5xf32>) -> tensor<2x4x5xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$lhs, Train_FloatTensor:$rhs);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_MulOp : Train_Op<"mul", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "element-wise product of two tensors of the same type";
  let arguments = (ins Train_FloatTensor:$lhs, Train_FloatTensor:$rhs);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Train_BroadcastOp : Train_Op<"broadcast", [Pure]> {
  let summary = "numpy-style broadcast to a larger static shape";
  let description = [{
    The input's dimensions align with the result's trailing dimensions; each is
    1 or equal to the result's. Missing leading dimensions are broadcast too.

    ```mlir
    %y = train.broadcast %x : tensor<1x8x1x1xf32> -> tensor<4x8x5x5xf32>
    ```
  }];
  let arguments = (ins Train_FloatOrQTensor:$input);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Train_ClampOp : Train_Op<"clamp", [Pure, SameOperandsAndResultType]> {
  let summary = "y = min(max(x, min), max); relu6 is clamp 0..6";
  let description = [{
    On a quantized tensor the bounds are real values, applied to the stored
    integers as round_half_even(min / s) + z and round_half_even(max / s) + z.

    ```mlir
    %y = train.clamp %x min 0.000000e+00 max 6.000000e+00 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Train_FloatOrQTensor:$input, F32Attr:$min, F32Attr:$max);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = "$input `min` $min `max` $max attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Train_HardswishOp : Train_Op<"hardswish", [Pure, SameOperandsAndResultType]> {
  let summary = "y = x · clamp(x + 3, 0, 6) / 6";
  let arguments = (ins Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Train_SigmoidOp : Train_Op<"sigmoid", [Pure, SameOperandsAndResultType]> {
  let summary = "y = 1 / (1 + exp(-x))";
  let arguments = (ins Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Train_GeluOp : Train_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "Gaussian error linear unit, exact (erf) or its tanh approximation";
  let description = [{
    y = x · Φ(x) = x / 2 · (1 + erf(x / √2)); with `tanh`,
    y = x / 2 · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).

    ```mlir
    %y = train.gelu %x : tensor<4x8xf32>
    %z = train.gelu %x tanh : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$input, UnitAttr:$tanh);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$input (`tanh` $tanh^)? attr-dict `:` type($result)";
}

def Train_AvgPool2dOp : Train_Op<"avg_pool2d", [Pure]> {
  let summary = "2-D average pooling of an NCHW tensor";
  let description = [{
    Windows of `kernel` size every `stride` pixels over the input padded by
    `padding` on each side (floor mode). With `count_include_pad` the padded
    zeros count in each window's divisor (PyTorch's default), without it only
    the input pixels do (TOSA's).

    ```mlir
    %y = train.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad
        : (tensor<1x8x8x8xf32>) -> tensor<1x8x5x5xf32>
    ```
  }];
  let arguments = !con((ins Train_FloatTensor:$input), PoolGeometry,
                       (ins UnitAttr:$count_include_pad));
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = !strconcat("$input ", PoolGeometryFormat,
      " (`count_include_pad` $count_include_pad^)? attr-dict `:` "
      "functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_MaxPool2dOp : Train_Op<"max_pool2d", [Pure]> {
  let summary = "2-D max pooling of an NCHW tensor";
  let description = [{
    Padding is -inf (the storage minimum on quantized tensors), so it never wins.

    ```mlir
    %y = train.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1]
        : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4xf32>
    ```
  }];
  let arguments = !con((ins Train_FloatOrQTensor:$input), PoolGeometry);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = !strconcat("$input ", PoolGeometryFormat,
      " attr-dict `:` functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_GlobalAvgPoolOp : Train_Op<"global_avg_pool", [Pure]> {
  let summary = "mean over the spatial dimensions: NxCxHxW -> NxCx1x1";
  let arguments = (ins Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Train_ConcatOp : Train_Op<"concat", [Pure]> {
  let summary = "concatenation of one or more tensors along `axis`";
  let arguments = (ins Variadic<Train_FloatOrQTensor>:$inputs, I64Attr:$axis);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = [{
    $inputs `axis` $axis attr-dict `:` functional-type($inputs, results)
  }];
  let hasVerifier = 1;
}

def Train_TransposeOp : Train_Op<"transpose", [Pure]> {
  let summary = "permutes dimensions: result dim i is input dim permutation[i]";
  let arguments = (ins Train_FloatOrQTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = [{
    $input `permutation` $permutation attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Train_BatchNormOp : Train_Op<"batch_norm", [Pure]> {
  let summary = "inference batch normalization over axis 1";
  let description = [{
    y = (x - mean) / sqrt(var + epsilon) · gamma + beta, with gamma, beta,
    mean and var of shape [C], C = dim 1 of x.
  }];
  let arguments = (ins Train_FloatTensor:$input, Train_FloatTensor:$gamma,
                       Train_FloatTensor:$beta, Train_FloatTensor:$mean,
                       Train_FloatTensor:$var, F32Attr:$epsilon);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta `,` $mean `,` $var `epsilon` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_SoftmaxOp : Train_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax along `axis`";
  let arguments = (ins Train_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$input `axis` $axis attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Train_LayerNormOp : Train_Op<"layer_norm", [Pure]> {
  let summary = "layer normalization over the trailing rank(weight) dimensions";
  let description = [{
    Normalizes x over its trailing dimensions, those of `weight`'s shape, with
    the biased variance, then y = x̂ · weight + bias.
  }];
  let arguments = (ins Train_FloatTensor:$input, Train_FloatTensor:$weight,
                       Train_FloatTensor:$bias, F32Attr:$epsilon);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `epsilon` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_MSEOp : Train_Op<"mse", [Pure]> {
  let summary = "mean squared error: mean((pred - target)²), a 0-d tensor";
  let arguments = (ins Train_FloatTensor:$pred, Train_FloatTensor:$target);
  let results = (outs Train_ScalarTensor:$result);
  let assemblyFormat = [{
    $pred `,` $target attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantized (int8) ops
//===----------------------------------------------------------------------===//

def Train_QConv2dOp : Train_Op<"qconv2d", [Pure]> {
  let summary = "int8 convolution with per-channel weights and int32 bias";
  let description = [{
    acc[n, o, i, j] = b[o] + Σ (x - z_x) · w over the window of train.conv2d
    (padding with z_x), then y = clamp(requant(acc, s_x · s_w[o] / s_y) + z_y)
    to the storage range of the result type. `rounding` picks requant.

    ```mlir
    %y = train.qconv2d %x, %w, %b stride [2, 2] padding [1, 1] rounding float_scale
        : (tensor<1x3x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>,
           tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
           tensor<4xi32>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 5.000000e-02:-10>>
    ```
  }];
  let arguments = !con((ins Train_QTensor:$input, Train_QWeightTensor:$weight,
                            Optional<Train_QBiasTensor>:$bias),
                       ConvGeometry, RoundingArg);
  let results = (outs Train_QTensor:$result);
  let assemblyFormat = !strconcat("$input `,` $weight (`,` $bias^)? ", ConvGeometryFormat,
      " `rounding` custom<Rounding>($rounding) attr-dict `:` functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_QBottleneckOp : Train_Op<"qbottleneck",
                                   [Pure, AttrSizedOperandSegments]> {
  let summary = "fused int8 inverted bottleneck: [expand] -> depthwise -> 1x1 project";
  let description = [{
    Exactly the composition of train.qconv2d ops (same `rounding` for all):
    e = qconv2d(x, w_e, b_e) (to `expand_type`; a 1x1 expansion, or a dense
    KxK conv with `expand_stride` and `expand_padding` such as a network's first
    conv; absent without `expand`, then e = x),
    d = qconv2d(e, w_d, b_d) (depthwise, groups = channels of e,
    kernel from w_d, `stride`, `padding`, to `depthwise_type`), and
    y = qconv2d(d, w_p, b_p) (1x1, to the result type). e and d are never
    materialised: a kernel computes y row band by row band from a ring of the
    kernel-height rows of e that the depthwise reads (--train-fuse-bottleneck
    forms it from frozen chains whose intermediates nothing else reads).

    ```mlir
    %y = train.qbottleneck %x expand %we, %be to !quant.uniform<i8:f32, 0.02:-128>
        depthwise %wd, %bd stride [2, 2] padding [1, 1] to !quant.uniform<i8:f32, 0.02:-128>
        project %wp, %bp rounding float_scale : (...) -> tensor<...>
    ```
  }];
  let arguments = (ins Train_QTensor:$input,
                       Optional<Train_QWeightTensor>:$expand_weight,
                       Optional<Train_QBiasTensor>:$expand_bias,
                       Train_QWeightTensor:$depthwise_weight,
                       Train_QBiasTensor:$depthwise_bias,
                       Train_QWeightTensor:$project_weight,
                       Train_QBiasTensor:$project_bias,
                       OptionalAttr<TypeAttrOf<Train_QInt8>>:$expand_type,
                       TypeAttrOf<Train_QInt8>:$depthwise_type,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$expand_stride,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0}">:$expand_padding,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$stride,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0}">:$padding,
                       Train_RoundingAttr:$rounding);
  let results = (outs Train_QTensor:$result);
  let assemblyFormat = [{
    $input (`expand` $expand_weight^ `,` $expand_bias `to` $expand_type)?
    (`expand_stride` $expand_stride^)? (`expand_padding` $expand_padding^)?
    `depthwise` $depthwise_weight `,` $depthwise_bias (`stride` $stride^)?
    (`padding` $padding^)? `to` $depthwise_type
    `project` $project_weight `,` $project_bias
    `rounding` custom<Rounding>($rounding) attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_QLinearOp : Train_Op<"qlinear", [Pure]> {
  let summary = "int8 fully connected layer with per-channel weights and int32 bias";
  let description = [{
    acc[n, m] = b[m] + Σ_k (x[n, k] - z_x) · w[m, k], then requantized like
    train.qconv2d with eff[m] = s_x · s_w[m] / s_y.
  }];
  let arguments = !con((ins Train_QTensor:$input, Train_QWeightTensor:$weight,
                            Optional<Train_QBiasTensor>:$bias), RoundingArg);
  let results = (outs Train_QTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? `rounding` custom<Rounding>($rounding) attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_QAddOp : Train_Op<"qadd", [Pure]> {
  let summary = "int8 element-wise addition with rescaling";
  let description = [{
    y = clamp(requant((a - z_a) · s_a + (b - z_b) · s_b, 1 / s_y) + z_y); the
    operands and the result have the same shape and may have different scales
    and zero points.
  }];
  let arguments = !con((ins Train_QTensor:$lhs, Train_QTensor:$rhs), RoundingArg);
  let results = (outs Train_QTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs `rounding` custom<Rounding>($rounding) attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_QAvgPool2dOp : Train_Op<"qavg_pool2d", [Pure]> {
  let summary = "int8 average pooling (same quantized type in and out)";
  let arguments = !con((ins Train_QTensor:$input), PoolGeometry,
                       (ins UnitAttr:$count_include_pad), RoundingArg);
  let results = (outs Train_QTensor:$result);
  let assemblyFormat = !strconcat("$input ", PoolGeometryFormat,
      " (`count_include_pad` $count_include_pad^)? `rounding` custom<Rounding>($rounding) attr-dict `:` "
      "functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_QGlobalAvgPoolOp : Train_Op<"qglobal_avg_pool", [Pure]> {
  let summary = "int8 mean over the spatial dimensions (same quantized type in and out)";
  let arguments = !con((ins Train_QTensor:$input), RoundingArg);
  let results = (outs Train_QTensor:$result);
  let assemblyFormat = [{
    $input `rounding` custom<Rounding>($rounding) attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gradient ops (emitted by --train-autodiff)
//===----------------------------------------------------------------------===//

def Train_LinearGradInputOp : Train_Op<"linear_grad_input", [Pure]> {
  let summary = "input gradient of linear: dx = dy · W";
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$weight);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_LinearGradWeightOp : Train_Op<"linear_grad_weight", [Pure]> {
  let summary = "weight gradient of linear: dW = dyᵀ · x";
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_BiasGradOp : Train_Op<"bias_grad", [Pure]> {
  let summary = "bias gradient: sum of dy over every dimension but the channel (1)";
  let arguments = (ins Train_GradTensor:$grad_output);
  let results = (outs RankedTensorOf<[AnyFloat, Train_QGrad32]>:$result);
  let assemblyFormat = "$grad_output attr-dict `:` type($grad_output) `->` type($result)";
  let hasVerifier = 1;
}

def Train_Conv2dGradInputOp : Train_Op<"conv2d_grad_input", [Pure]> {
  let summary = "input gradient of conv2d (a transposed convolution of dy with W)";
  let description = [{
    dx[n, c, h, w] = Σ_{o, ki, kj : h = i·s + ki·d - p, w = j·s + kj·d - p}
                     dy[n, o, i, j] · w[o, c mod C/G, ki, kj].
    The result type gives the input shape.
  }];
  let arguments = !con((ins Train_GradTensor:$grad_output,
                            RankedTensorOf<[AnyFloat, Train_QInt8, Train_QInt8PerAxis]>:$weight),
                       ConvGeometry);
  let results = (outs Train_GradTensor:$result);
  let assemblyFormat = !strconcat("$grad_output `,` $weight ", ConvGeometryFormat,
      " attr-dict `:` functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_Conv2dGradWeightOp : Train_Op<"conv2d_grad_weight", [Pure]> {
  let summary = "weight gradient of conv2d (correlation of x with dy)";
  let description = [{
    dw[o, c, ki, kj] = Σ_{n, i, j} dy[n, o, i, j] · x[n, g·C/G + c, i·s + ki·d - p, j·s + kj·d - p].
    The result type gives the weight shape.
  }];
  let arguments = !con((ins Train_FloatTensor:$grad_output, Train_FloatTensor:$input),
                       ConvGeometry);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = !strconcat("$grad_output `,` $input ", ConvGeometryFormat,
      " attr-dict `:` functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_ReluGradOp : Train_Op<"relu_grad", [Pure, SameOperandsAndResultType]> {
  let summary = "gradient of relu: dx = dy where y > 0, else 0";
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$output);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$grad_output `,` $output attr-dict `:` type($result)";
}

def Train_CrossEntropyGradOp : Train_Op<"cross_entropy_grad", [Pure]> {
  let summary = "gradient of mean cross-entropy: (softmax(x) - onehot(label)) / N";
  let description = [{
    Of int8 logits, the gradient is int16 fixed point Q0.15 (runtime/fixed_point.py).
    With the optional result `shift` (a 0-d i32 tensor k >= 0) it is scaled by 2^k,
    k the largest (at most 15) that keeps it in int16: dynamic loss scaling, so that
    small gradients late in training keep their bits. The updates that read the
    backward pass (train.qsgd, train.conv2d_qsgd) take the same `shift` and divide by
    2^k.

    ```mlir
    %g, %k = train.cross_entropy_grad %x, %y : tensor<1x10x!quant.uniform<i8:f32, 0.1>>,
        tensor<1xi32> -> tensor<1x10x!quant.uniform<i16:f32, 3.0517578125E-5>>, tensor<i32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat, Train_QInt8]>:$logits, Train_LabelTensor:$labels);
  let results = (outs Train_GradTensor:$result, Optional<0DTensorOf<[I32]>>:$shift);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels) `->` type($result)
    (`,` type($shift)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gradient ops of the dialect's forward ops (issue 4)
//===----------------------------------------------------------------------===//

def Train_SumToOp : Train_Op<"sum_to", [Pure]> {
  let summary = "sums a tensor down to a shape it broadcasts from (adjoint of broadcast)";
  let description = [{
    The result's dimensions align with the input's trailing dimensions; each is
    1 (summed over) or equal to the input's. Missing leading dimensions are
    summed over too.

    ```mlir
    %dx = train.sum_to %dy : tensor<4x8x5x5xf32> -> tensor<1x8x1x1xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Train_SliceOp : Train_Op<"slice", [Pure]> {
  let summary = "static slice with stride 1: result = input[offsets : offsets + sizes]";
  let description = [{
    `offsets` and `sizes` have one value per dimension; `sizes` is the result
    shape. Partial-channel gradients slice their operands (x[:, :k]).

    ```mlir
    %s = train.slice %x offsets [0, 0, 0, 0] sizes [1, 4, 8, 8]
        : tensor<1x8x8x8xf32> -> tensor<1x4x8x8xf32>
    ```
  }];
  let arguments = (ins Train_FloatOrQTensor:$input, DenseI64ArrayAttr:$offsets,
                       DenseI64ArrayAttr:$sizes);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = [{
    $input `offsets` $offsets `sizes` $sizes attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Train_PadToOp : Train_Op<"pad_to", [Pure]> {
  let summary = "zero tensor of the result type with the input placed at `offsets` (adjoint of slice)";
  let description = [{
    ```mlir
    %y = train.pad_to %x offsets [0, 4, 0, 0]
        : tensor<1x4x8x8xf32> -> tensor<1x8x8x8xf32>
    ```
  }];
  let arguments = (ins Train_FloatOrQTensor:$input, DenseI64ArrayAttr:$offsets);
  let results = (outs Train_FloatOrQTensor:$result);
  let assemblyFormat = [{
    $input `offsets` $offsets attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Train_AvgPool2dGradOp : Train_Op<"avg_pool2d_grad", [Pure]> {
  let summary = "input gradient of avg_pool2d (the result type is the input's)";
  let description = [{
    Each dy[n, c, i, j] is spread evenly over its window, divided by the
    divisor of train.avg_pool2d with the same geometry and count_include_pad.

    ```mlir
    %dx = train.avg_pool2d_grad %dy kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad
        : (tensor<1x8x5x5xf32>) -> tensor<1x8x8x8xf32>
    ```
  }];
  let arguments = !con((ins Train_GradTensor:$grad_output), PoolGeometry,
                       (ins UnitAttr:$count_include_pad));
  let results = (outs Train_GradTensor:$result);
  let assemblyFormat = !strconcat("$grad_output ", PoolGeometryFormat,
      " (`count_include_pad` $count_include_pad^)? attr-dict `:` "
      "functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_MaxPool2dGradOp : Train_Op<"max_pool2d_grad", [Pure]> {
  let summary = "input gradient of max_pool2d: dy goes to the first maximum of each window";
  let description = [{
    The windows are recomputed from the forward input `input` (row-major
    first maximum, as PyTorch); the result has the input's type.

    ```mlir
    %dx = train.max_pool2d_grad %dy, %x kernel [3, 3] stride [2, 2] padding [1, 1]
        : (tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    ```
  }];
  let arguments = !con((ins Train_FloatTensor:$grad_output, Train_FloatTensor:$input),
                       PoolGeometry);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = !strconcat("$grad_output `,` $input ", PoolGeometryFormat,
      " attr-dict `:` functional-type(operands, results)");
  let hasVerifier = 1;
}

def Train_ClampGradOp : Train_Op<"clamp_grad", [Pure, SameOperandsAndResultType]> {
  let summary = "gradient of clamp: dx = dy where min < x < max, else 0";
  let description = [{
    PyTorch's hardtanh_backward: the gradient is 0 at the bounds themselves.

    ```mlir
    %dx = train.clamp_grad %dy, %x min 0.000000e+00 max 6.000000e+00 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$input,
                       F32Attr:$min, F32Attr:$max);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input `min` $min `max` $max attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Train_ClampMaskOp : Train_Op<"clamp_mask", [Pure]> {
  let summary = "1-bit mask [min < x < max] of a tensor, eight elements a byte";
  let description = [{
    Bit i % 8 (least significant first) of byte i / 8 is 1 exactly when
    min < x_i < max, with x_i the i-th element of `input` in row-major order
    (its real value s · (q - z) for an int8 tensor, rounded to f32 as
    `quant.dcast` rounds it). The result has ceil(numel / 8) bytes; the bits
    past numel are 0. What the backward pass keeps of an activation it reads
    only to mask a gradient (`train.mask_grad`): an eighth of an int8 tensor.

    ```mlir
    %m = train.clamp_mask %y min 0.000000e+00 max 6.000000e+00
        : tensor<1x8x4x4x!quant.uniform<i8:f32, 0.1:-128>> -> tensor<16xi8>
    ```
  }];
  let arguments = (ins Train_FloatOrQTensor:$input, F32Attr:$min, F32Attr:$max);
  let results = (outs 1DTensorOf<[I8]>:$result);
  let assemblyFormat = [{
    $input `min` $min `max` $max attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Train_MaskGradOp : Train_Op<"mask_grad",
    [Pure, AllTypesMatch<["grad_output", "result"]>]> {
  let summary = "dx = dy where the bit of a train.clamp_mask is 1, else 0";
  let description = [{
    `train.clamp_grad %dy, %x` with the comparison already made:
    mask_grad(dy, clamp_mask(x, min, max)) = clamp_grad(dy, x, min, max).

    ```mlir
    %dx = train.mask_grad %dy, %m : tensor<1x8x4x4xf32>, tensor<16xi8>
    ```
  }];
  let arguments = (ins Train_GradTensor:$grad_output, 1DTensorOf<[I8]>:$mask);
  let results = (outs Train_GradTensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $mask attr-dict `:` type($grad_output) `,` type($mask)
  }];
  let hasVerifier = 1;
}

def Train_SigmoidGradOp : Train_Op<"sigmoid_grad", [Pure, SameOperandsAndResultType]> {
  let summary = "gradient of sigmoid from its output: dx = dy · y · (1 - y)";
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$output);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$grad_output `,` $output attr-dict `:` type($result)";
}

def Train_HardswishGradOp : Train_Op<"hardswish_grad", [Pure, SameOperandsAndResultType]> {
  let summary = "gradient of hardswish (PyTorch's hardswish_backward)";
  let description = [{
    dx = 0 for x <= -3, dy · (2x + 3) / 6 for -3 < x < 3, dy for x >= 3 (as PyTorch).
  }];
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = "$grad_output `,` $input attr-dict `:` type($result)";
}

def Train_GeluGradOp : Train_Op<"gelu_grad", [Pure, SameOperandsAndResultType]> {
  let summary = "gradient of gelu, exact or of its tanh approximation";
  let description = [{
    Exact: dx = dy · (Φ(x) + x · φ(x)). With `tanh`, the derivative of
    x / 2 · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).

    ```mlir
    %dx = train.gelu_grad %dy, %x tanh : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$input,
                       UnitAttr:$tanh);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input (`tanh` $tanh^)? attr-dict `:` type($result)
  }];
}

def Train_SoftmaxGradOp : Train_Op<"softmax_grad", [Pure, SameOperandsAndResultType]> {
  let summary = "gradient of softmax from its output: dx = y · (dy - Σ_axis dy · y)";
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$output,
                       I64Attr:$axis);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $output `axis` $axis attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Train_LayerNormGradInputOp : Train_Op<"layer_norm_grad_input", [Pure]> {
  let summary = "input gradient of layer_norm";
  let description = [{
    With x̂ the normalized input over the trailing rank(weight) dimensions (M
    elements) and g = dy · weight:
    dx = (g - mean(g) - x̂ · mean(g · x̂)) / sqrt(var + epsilon).
    The weight and bias gradients are built from mul and sum_to.

    ```mlir
    %dx = train.layer_norm_grad_input %dy, %x, %w epsilon 1.000000e-05
        : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$grad_output, Train_FloatTensor:$input,
                       Train_FloatTensor:$weight, F32Attr:$epsilon);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $weight `epsilon` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_MSEGradOp : Train_Op<"mse_grad", [Pure]> {
  let summary = "gradient of mse with respect to the prediction: 2 (pred - target) / numel";
  let arguments = (ins Train_FloatTensor:$pred, Train_FloatTensor:$target);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $pred `,` $target attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Optimizer ops
//===----------------------------------------------------------------------===//

def Train_SGDOp : Train_Op<"sgd", [Pure, SameOperandsAndResultType]> {
  let summary = "plain SGD step: p' = p - lr · (g + weight_decay · p)";
  let arguments = (ins Train_FloatTensor:$param, Train_FloatTensor:$grad, F32Attr:$lr,
                       DefaultValuedAttr<F32Attr, "0.0f">:$weight_decay);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $param `,` $grad `lr` $lr (`weight_decay` $weight_decay^)? attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Train_SGDMomentumOp : Train_Op<"sgd_momentum", [Pure, SameOperandsAndResultType]> {
  let summary = "SGD step with momentum (PyTorch's: dampening 0, no Nesterov)";
  let description = [{
    m' = momentum · m + (g + weight_decay · p);  p' = p - lr · m'.
    Returns the updated parameter and the updated momentum buffer.

    ```mlir
    %p2, %m2 = train.sgd_momentum %p, %g, %m lr 1.000000e-01 momentum 0.899999976
        : tensor<8x4xf32>
    ```
  }];
  let arguments = (ins Train_FloatTensor:$param, Train_FloatTensor:$grad,
                       Train_FloatTensor:$momentum_buffer, F32Attr:$lr, F32Attr:$momentum,
                       DefaultValuedAttr<F32Attr, "0.0f">:$weight_decay);
  let results = (outs Train_FloatTensor:$new_param, Train_FloatTensor:$new_momentum_buffer);
  let assemblyFormat = [{
    $param `,` $grad `,` $momentum_buffer `lr` $lr `momentum` $momentum
    (`weight_decay` $weight_decay^)? attr-dict `:` type($new_param)
  }];
  let hasVerifier = 1;
}

def Train_QSGDParamTensor : RankedTensorOf<[Train_QInt8, Train_QInt8PerAxis, I32]>;

def Train_QSGDOp : Train_Op<"qsgd", [Pure]> {
  let summary = "SGD step on an int8 weight or an int32 bias, in the integer domain";
  let description = [{
    `param` is an int8 quantized weight (per-axis along axis 0, or per-tensor)
    or an int32 bias; `grad` is the float gradient of its real value, of the
    same shape. The update is rounded and saturated to the storage range. With
    `qas` (quantization-aware scaling) the gradient is scaled by s⁻² (s: the
    weight's scale of each output channel, or the bias scale). An int32 bias
    gives its scales explicitly: `scales` holds one bias scale s_x · s_w[c]
    per element. The exact arithmetic is in runtime/quantized_training.py.
    With int16 fixed-point gradients (--train-int16-gradients) `grad` is an int32
    fixed-point sum and the update integer arithmetic (runtime/fixed_point.py);
    `shift` is then the loss gradient's dynamic scale 2^k (train.cross_entropy_grad),
    which the update divides out.

    ```mlir
    %w2 = train.qsgd %w, %gw lr 0.00999999977 qas
        : (tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
           tensor<4x3x3x3xf32>)
        -> tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>
    %b2 = train.qsgd %b, %gb lr 0.00999999977 scales [2.0e-4, 4.0e-4, 6.0e-4, 8.0e-4] qas
        : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
    ```
  }];
  let arguments = (ins Train_QSGDParamTensor:$param, RankedTensorOf<[AnyFloat, Train_QGrad32]>:$grad,
                       Optional<0DTensorOf<[I32]>>:$shift, F32Attr:$lr,
                       DefaultValuedAttr<F32Attr, "0.0f">:$weight_decay,
                       OptionalAttr<DenseF64ArrayAttr>:$scales, UnitAttr:$qas);
  let results = (outs Train_QSGDParamTensor:$result);
  let assemblyFormat = [{
    $param `,` $grad (`shift` $shift^)? `lr` $lr (`weight_decay` $weight_decay^)? (`scales` custom<ExactF64Array>($scales)^)?
    (`qas` $qas^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Train_BottleneckGradOp : Train_Op<"bottleneck_grad",
                                     [Pure, AttrSizedOperandSegments]> {
  let summary = "backward of an inverted bottleneck, a few expanded channels at a time";
  let description = [{
    Exactly these ops (1x1 convs: stride 1, no padding, groups 1), with E the
    expanded channels:
    g2 = mask_grad(conv2d_grad_input(dy, w_p), m_d)   (dy: [N, O, HO, WO], w_p: [O, E, 1, 1])
    db_d = bias_grad(g2)
    g1 = mask_grad(conv2d_grad_input(g2, w_d, stride, padding, groups E), m_e)
    db_e = bias_grad(g1)
    dx = conv2d_grad_input(g1, w_e)                    (w_e: [E, C, 1, 1])
    and, with `update`, param' = conv2d_qsgd(param, g1, x, lr, weight_decay, qas)
    with param the int8 expansion weight that w_e dequantizes, read before its
    update. Every value of channel e of g2 and g1 depends on channel e of
    them alone, so a kernel computes them a few channels at a time (4 in the
    C kernel): the expanded gradients (E·HO·WO and E·H·W floats) never exist
    whole; dx accumulates over the channels in increasing e, as
    conv2d_grad_input sums them (--train-fuse-bottleneck-grad forms it).

    ```mlir
    %dx, %dbd, %dbe, %w2 = train.bottleneck_grad %dy project %wp
        depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me
        update %w, %x lr 0.00999999977 qas : (...) -> (...)
    ```
  }];
  let arguments = (ins Train_FloatTensor:$grad_output,
                       Train_FloatTensor:$project_weight,
                       Train_FloatTensor:$depthwise_weight,
                       1DTensorOf<[I8]>:$depthwise_mask,
                       Train_FloatTensor:$expand_weight,
                       1DTensorOf<[I8]>:$expand_mask,
                       Optional<RankedTensorOf<[Train_QInt8, Train_QInt8PerAxis]>>:$param,
                       Optional<Train_QTensor>:$input,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$stride,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0}">:$padding,
                       OptionalAttr<F32Attr>:$lr,
                       DefaultValuedAttr<F32Attr, "0.0f">:$weight_decay,
                       UnitAttr:$qas);
  let results = (outs Train_FloatTensor:$grad_input,
                      Train_FloatTensor:$depthwise_bias_grad,
                      Train_FloatTensor:$expand_bias_grad,
                      Optional<RankedTensorOf<[Train_QInt8, Train_QInt8PerAxis]>>:$updated);
  let assemblyFormat = [{
    $grad_output `project` $project_weight
    `depthwise` $depthwise_weight `,` $depthwise_mask (`stride` $stride^)? (`padding` $padding^)?
    `expand` $expand_weight `,` $expand_mask (`update` $param^ `,` $input)?
    (`lr` $lr^)? (`weight_decay` $weight_decay^)? (`qas` $qas^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

// An int8 weight quantized per tensor or per output channel.
def Train_QInt8WeightTensor : RankedTensorOf<[Train_QInt8, Train_QInt8PerAxis]>;

def Train_Conv2dQSGDOp : Train_Op<"conv2d_qsgd", [Pure]> {
  let summary = "SGD step on an int8 conv weight from the weight gradient it computes";
  let description = [{
    The update of `train.qsgd` with the gradient of `train.conv2d_grad_weight`,
    computed element by element and used at once: the f32 weight gradient never
    exists as a tensor (the Tiny Training Engine's fused in-place update).
    The gradient of `grad_output` (dy) and `input` (x) has the shape
    [dy channels, x channels / groups, KH, KW], the first channels of `param`
    along axes 0 and 1 (the trained slice of a partial-channel update); the other
    channels keep their values, so a partial gradient takes no weight decay.
    That is, with G = conv2d_grad_weight(dy, x) zero-padded to the weight's shape:
    result = qsgd(param, G), as runtime/quantized_training.py computes it.
    `input` may be the per-tensor int8 activation itself: it is read dequantized,
    exactly as quant.dcast rounds it, and no f32 copy of it exists.

    ```mlir
    %w2 = train.conv2d_qsgd %w, %dy, %x stride [2, 2] padding [1, 1] lr 0.00999999977 qas
        : (tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
           tensor<1x4x4x4xf32>, tensor<1x3x8x8xf32>)
        -> tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>
    ```
  }];
  let arguments = !con((ins Train_QInt8WeightTensor:$param, Train_GradTensor:$grad_output,
                            Train_FloatOrQTensor:$input, Optional<0DTensorOf<[I32]>>:$shift),
                       ConvGeometry,
                       (ins F32Attr:$lr, DefaultValuedAttr<F32Attr, "0.0f">:$weight_decay,
                            UnitAttr:$qas));
  let results = (outs Train_QInt8WeightTensor:$result);
  let assemblyFormat = !strconcat("$param `,` $grad_output `,` $input (`shift` $shift^)? ",
      ConvGeometryFormat,
      " `lr` $lr (`weight_decay` $weight_decay^)? (`qas` $qas^)? attr-dict `:` "
      "functional-type(operands, results)");
  let hasVerifier = 1;
}

#endif // TCC_TRAIN_OPS

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

// Convolution geometry shared by the forward op and its gradients.
defvar ConvGeometry = (ins
  DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$stride,
  DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0}">:$padding,
  DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilation,
  DefaultValuedAttr<I64Attr, "1">:$groups);

defvar ConvGeometryFormat =
  "(`stride` $stride^)? (`padding` $padding^)? (`dilation` $dilation^)? "
  "(`groups` $groups^)?";

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
  let arguments = (ins Train_FloatTensor:$lhs, Train_FloatTensor:$rhs);
  let results = (outs Train_FloatTensor:$result);
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
  let arguments = (ins Train_FloatTensor:$input);
  let results = (outs Train_FloatTensor:$result);
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
  let arguments = (ins Train_FloatTensor:$grad_output);
  let results = (outs Train_FloatTensor:$result);
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
  let arguments = !con((ins Train_FloatTensor:$grad_output, Train_FloatTensor:$weight),
                       ConvGeometry);
  let results = (outs Train_FloatTensor:$result);
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
  let arguments = (ins Train_FloatTensor:$logits, Train_LabelTensor:$labels);
  let results = (outs Train_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels) `->` type($result)
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

#endif // TCC_TRAIN_OPS

"""Small PyTorch models for tcc's PyTorch importer: each file defines one model class,
constructible without arguments, and its input shape as `INPUT_SHAPE`.

    tcc import-torch examples/zoo/lenet.py:LeNet --input-shape 2x1x28x28 -o lenet.mlir
"""

# file -> model class
MODELS = {
    "mlp.py": "MLP",
    "lenet.py": "LeNet",
    "mobilenetv2.py": "MobileNetV2",
    "dscnn.py": "DSCNN",
    "resnet8.py": "ResNet8",
    "transformer.py": "TransformerEncoder",
}

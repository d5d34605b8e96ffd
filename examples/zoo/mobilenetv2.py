"""A small MobileNetV2 for 32×32 images: a strided stem, three inverted-residual blocks
(1×1 expand + BN + ReLU6, depthwise 3×3 + BN + ReLU6, 1×1 project + BN, residual add
when the shape allows), a 1×1 head, global average pooling and a linear classifier."""

from torch import nn

INPUT_SHAPE = (2, 3, 32, 32)


def conv_bn(inputs: int, outputs: int, kernel: int = 1, stride: int = 1, groups: int = 1,
            relu6: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(outputs)]
    if relu6:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int, expand: int):
        super().__init__()
        hidden = inputs * expand
        self.residual = stride == 1 and inputs == outputs
        self.conv = nn.Sequential(
            conv_bn(inputs, hidden),                                      # expand
            conv_bn(hidden, hidden, 3, stride, groups=hidden),            # depthwise
            conv_bn(hidden, outputs, relu6=False),                        # project
        )

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 16, 3, stride=2),                  # 16×16×16
            InvertedResidual(16, 16, 1, expand=4),
            InvertedResidual(16, 24, 2, expand=4),        # 24×8×8
            InvertedResidual(24, 24, 1, expand=4),
            conv_bn(24, 64),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(64, classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(x.flatten(1))

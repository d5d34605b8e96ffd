"""ResNet-8 for 32×32 images (the MLPerf Tiny image-classification model): a 3×3 stem
and three residual stacks of 16, 32 and 64 channels (the last two strided, with 1×1
projection shortcuts), each conv followed by BN, then 8×8 average pooling and a linear
classifier."""

import torch.nn.functional as F
from torch import nn

INPUT_SHAPE = (2, 3, 32, 32)


class BasicBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = (nn.Conv2d(inputs, outputs, 1, stride)
                         if stride != 1 or inputs != outputs else nn.Identity())

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet8(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1)
        self.bn = nn.BatchNorm2d(16)
        self.stack1 = BasicBlock(16, 16, 1)
        self.stack2 = BasicBlock(16, 32, 2)    # 16×16
        self.stack3 = BasicBlock(32, 64, 2)    # 8×8
        self.pool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.stack3(self.stack2(self.stack1(x)))
        return self.fc(self.pool(x).flatten(1))

"""DS-CNN keyword spotting (Zhang et al., "Hello Edge") on 49 frames × 10 MFCCs: a 10×4
stride-2 convolution, four depthwise-separable blocks (depthwise 3×3 + BN + ReLU,
pointwise 1×1 + BN + ReLU), average pooling over the 25×5 map and a linear classifier
for the 12 keyword classes. 32 channels by default (the paper's DS-CNN-S has 64)."""

from torch import nn

INPUT_SHAPE = (2, 1, 49, 10)


def separable(channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
        nn.BatchNorm2d(channels), nn.ReLU(),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels), nn.ReLU(),
    )


class DSCNN(nn.Module):
    def __init__(self, channels: int = 32, classes: int = 12):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels, (10, 4), stride=2, padding=(5, 1), bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(),                        # 25×5
        )
        self.blocks = nn.Sequential(*(separable(channels) for _ in range(4)))
        self.pool = nn.AvgPool2d((25, 5))
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x)))
        return self.classifier(x.flatten(1))

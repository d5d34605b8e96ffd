"""LeNet-5 for 28×28 digits: two 5×5 convolutions with ReLU, a 2×2 max pool after the
first and a 2×2 average pool after the second, then three fully connected layers."""

from torch import nn

INPUT_SHAPE = (2, 1, 28, 28)


class LeNet(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 6×14×14
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),              # 16×5×5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))

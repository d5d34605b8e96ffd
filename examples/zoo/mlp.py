"""A three-layer perceptron on flattened 8×8 images: 64 → 64 → 32 → 10 with ReLU."""

from torch import nn

INPUT_SHAPE = (4, 1, 8, 8)


class MLP(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, classes)

    def forward(self, x):
        x = self.flatten(x)
        x = self.fc1(x).relu()
        x = self.fc2(x).relu()
        return self.fc3(x)

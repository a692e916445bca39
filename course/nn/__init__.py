"""Layers with an explicit backward, in PyTorch's names: build a network, run it forward, send
dJ/d(output) backward, and find each parameter's gradient in `.grad`.

    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2, rng=rng), nn.ReLU(), nn.MaxPool2d(2), ...)
    loss = loss_fn(model(x), y)
    model.backward(loss_fn.backward())

Shapes: N batch, C input channels, H, W height and width, F output channels, KH, KW kernel size; NCHW
activations, (F, C, KH, KW) weights. Parameters are float32 unless a layer is built with dtype=np.float64.
Layering: nn imports `course.functional` and `course._args`, never training, data or grading.
"""

from course.nn.activation import ReLU, Sigmoid, Tanh
from course.nn.conv import Conv2d
from course.nn.linear import Linear
from course.nn.loss import CrossEntropyLoss, MSELoss
from course.nn.models import lenet
from course.nn.module import Module, Parameter, Sequential
from course.nn.pooling import AvgPool2d, MaxPool2d
from course.nn.shape import Dropout, Flatten
from course.nn.upsample import Upsample

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "Upsample",
    "lenet",
]

"""Real data for the course, shipped with it or with an installed dependency; nothing downloads.

`load_mnist()`: 5,000 real handwritten digits (a balanced subset of MNIST, CC BY-SA 3.0).
`load_photo()`: a real photograph (Grace Hopper, from matplotlib's sample data).
Layering: numpy, matplotlib and Pillow, and the argument checks of `course._args` (which import nothing
of the course); nothing else from the course.
"""

from course.data.mnist import load_mnist
from course.data.photo import load_photo

__all__ = ["load_mnist", "load_photo"]

"""The building blocks every layer shares: `Parameter` (an array and its gradient), `Module` (forward,
explicit backward, parameters, state dicts) and `Sequential` (layers applied in order).

Backward is explicit, as the lecture teaches it: `forward(x)` keeps what the derivative needs, and
`backward(grad_out)` takes dJ/d(output), adds dJ/d(parameter) into each parameter's `.grad` (gradients
accumulate over calls, as in PyTorch, until `zero_grad()`), and returns dJ/d(input).
`backward_parameters(grad_out)` does the same without dJ/d(input), which a network's first learning
layer, whose input comes from the data, need not compute (PyTorch skips it too: the data does not
require grad).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import numpy as np

from course._args import FLOAT_DTYPES, flag, is_int, matching_dtype

__all__ = ["Module", "Parameter", "Sequential"]


class Parameter:
    """A trainable array `.data` and its gradient `.grad` (same shape and dtype, zero to start).

    `data` must be a numpy array of floats (float32 or float64, as the layers make; float16 works too),
    as torch refuses a parameter of integers: a step w -= lr * g cannot be taken in integers.
    """

    def __init__(self, data: np.ndarray):
        if not isinstance(data, np.ndarray):
            raise TypeError(f"Parameter: data must be a numpy array of floats, got {type(data).__name__}")
        if not np.issubdtype(data.dtype, np.floating):
            raise TypeError(
                f"Parameter: data must be a numpy array of floats, got {data.dtype} "
                "(convert with data.astype(np.float32))"
            )
        self.data = data
        self.grad = np.zeros_like(data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of layers, losses and networks.

    Subclasses define `forward(x)` and `backward(grad_out)` and keep their `Parameter`s and sub-modules
    as attributes; `parameters()`, `state_dict()` and `train()`/`eval()` find them there.
    """

    training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define backward(grad_out)")

    def backward_parameters(self, grad_out: np.ndarray) -> None:
        """Add dJ/d(parameter) into each parameter's `.grad`, as `backward` does, and return nothing:
        for when dJ/d(input) is not needed (the training loops call it on the whole network). Calls
        `backward` and drops dJ/d(input); layers that can skip computing it override this."""
        self.backward(grad_out)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def children(self) -> Iterator[tuple[str, Module]]:
        """(name, sub-module) pairs, in the order they were assigned."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs: this module's own parameters, then its children's."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter once, e.g. for an optimiser: `SGD(model.parameters(), lr=0.1)`. A
        parameter held under two names (a layer kept in two attributes, as weight tying does) comes once,
        as in torch, so that it takes one step per step; `named_parameters` and `state_dict` keep both names.
        """
        unique = {id(p): p for _, p in self.named_parameters()}
        return list(unique.values())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad.fill(0)

    def train(self, mode: bool = True) -> Module:
        """Training mode (the default) for this module and its children; returns self.

        Only `Dropout` behaves differently in the two modes; the others accept the call for PyTorch's habits.
        """
        self.training = flag("train", "mode", mode)
        for _, child in self.children():
            child.train(self.training)
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter array by dotted name, e.g. {"0.weight": ..., "0.bias": ...}."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays from `state` into the parameters, converted to each parameter's dtype. Names and
        shapes must match exactly and every value must hold real numbers (float or integer, not complex);
        all of it is checked before anything is copied, so on an error the module is unchanged."""
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict: state must be a dict of name -> array, got {type(state).__name__}"
            )
        own = dict(self.named_parameters())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict: keys do not match this {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        values = {}
        for name, p in own.items():
            try:
                value = values[name] = np.asarray(state[name])
            except ValueError as error:  # a ragged list: numpy's message names no parameter
                raise ValueError(
                    f"load_state_dict: {name} must be an array of shape {p.data.shape}, got a value numpy "
                    f"cannot make an array of ({error})"
                ) from None
            if value.dtype.kind not in "fiu":
                raise TypeError(
                    f"load_state_dict: {name} must hold real numbers (float or integer), got {value.dtype}"
                )
            if value.shape != p.data.shape:
                raise ValueError(
                    f"load_state_dict: {name} has shape {p.data.shape} in the model, got {value.shape}"
                )
        for name, p in own.items():
            p.data[...] = values[name]

    def save(self, path: str | os.PathLike) -> None:
        """Write `state_dict()` to a compressed .npz file at `path` exactly (numpy, given a name, would
        add .npz to one without it, which `load(path)` would then not find)."""
        with open(path, "wb") as file:
            np.savez_compressed(file, **self.state_dict())

    def load(self, path: str | os.PathLike) -> None:
        """Read a .npz file written by `save` into this module's parameters."""
        with np.load(path) as archive:
            self.load_state_dict({name: archive[name] for name in archive.files})

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers applied in order: forward runs them first to last, backward last to first.

    An error inside a layer is re-raised naming the layer's position and the layer, e.g.
    `layer 7 of Sequential, Linear(in_features=400, out_features=120): expected input of shape (N, 400),
    got (2, 576)` (LeNet given 32 x 32 images). A layer keeps what its backward needs from its last
    forward, so one layer object cannot be used twice in a network (a ReLU reused would send the first
    use's gradient through the second use's mask): each place needs a layer of its own.
    """

    def __init__(self, *layers: Module):
        first_use: dict[int, int] = {}  # id of every module in the layers, sub-modules too -> its layer
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} must be a Module, got {type(layer).__name__}")
            for module in {id(m): m for m in _modules(layer)}.values():  # a layer's own sharing is its own
                if id(module) in first_use:
                    raise ValueError(
                        f"Sequential: {module!r} is in layer {first_use[id(module)]} and again in layer "
                        f"{i} (one object): a layer keeps what its backward needs from its last forward, so "
                        "each place in a network needs a layer of its own"
                    )
                first_use[id(module)] = i
        self.layers = list(layers)

    def children(self) -> Iterator[tuple[str, Module]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int | slice) -> Module:
        """Layer i; for a slice, a Sequential of those layers (the same objects), as in PyTorch."""
        if isinstance(i, slice):
            return Sequential(*self.layers[i])
        if not is_int(i):
            raise TypeError(f"Sequential: index must be an int or a slice, got {i!r}")
        count = len(self.layers)
        if not -count <= i < count:
            raise IndexError(
                f"Sequential: index {i} is out of range for {count} layers "
                f"(0 to {count - 1}, or {-count} to -1)"
            )
        return self.layers[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for i, layer in enumerate(self.layers):
            try:
                x = layer(x)
            except (TypeError, ValueError) as error:
                raise _naming(error, f"layer {i} of Sequential, ") from error
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for i in reversed(range(len(self.layers))):
            grad_out = self._layer_backward(i, self.layers[i].backward, grad_out)
        return grad_out

    def backward_parameters(self, grad_out: np.ndarray) -> None:
        """`backward` through the layers after the first one with parameters, which gets
        `backward_parameters`; the layers before it (a Flatten, say) have nothing to learn and are
        skipped. The network's input needs no gradient, so its first learning layer (a convolution,
        say) skips that work."""
        has_parameters = (next(layer.named_parameters(), None) is not None for layer in self.layers)
        first = next((i for i, learns in enumerate(has_parameters) if learns), None)  # stops there
        if first is None:
            return
        for i in reversed(range(first + 1, len(self.layers))):
            grad_out = self._layer_backward(i, self.layers[i].backward, grad_out)
        self._layer_backward(first, self.layers[first].backward_parameters, grad_out)

    @staticmethod
    def _layer_backward(i: int, backward, grad_out: np.ndarray):
        """backward(grad_out) of layer i, an error in it re-raised naming the layer's position."""
        try:
            return backward(grad_out)
        except (TypeError, ValueError) as error:
            raise _naming(error, f"layer {i} of Sequential, backward: ") from error


def _modules(module: Module) -> Iterator[Module]:
    """`module` and all its sub-modules, depth first."""
    yield module
    for _, child in module.children():
        yield from _modules(child)


def _naming(error: TypeError | ValueError, where: str) -> TypeError | ValueError:
    """`error` again, of its own type when that type can be built from a message alone (numpy's casting
    errors cannot), its message preceded by `where`."""
    message = f"{where}{error}"
    try:
        return type(error)(message)
    except TypeError:
        return (TypeError if isinstance(error, TypeError) else ValueError)(message)


def check_input(layer: Module, x, dtype: np.dtype | None, layout: str, expected: tuple) -> np.ndarray:
    """Check x against a layer's expectation; `expected` holds one int or None (any size) per axis.

    Raises a TypeError or ValueError naming the layer, the expected layout and the shape got.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer!r}: input must be a numpy array {layout}, got {type(x).__name__}")
    if dtype is not None and x.dtype != dtype:
        floats = (np.float32, np.float64)
        other_layer = f" or build the layer with dtype=np.{x.dtype}" if x.dtype in floats else ""
        raise TypeError(
            f"{layer!r}: input has dtype {x.dtype} but the layer's parameters are {dtype} "
            f"(convert with x.astype(np.{dtype}){other_layer})"
        )
    if dtype is None and x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{layer!r}: input must have dtype float32 or float64, got {x.dtype}")
    if x.ndim != len(expected) or any(e not in (None, s) for e, s in zip(expected, x.shape, strict=True)):
        raise ValueError(f"{layer!r}: expected input of shape {layout}, got {x.shape}")
    return x


def check_grad(layer: Module, grad_out, out: tuple[tuple[int, ...], np.dtype] | None) -> np.ndarray:
    """Check that backward follows a forward, whose output had `out` = (shape, dtype), and that grad_out
    is a float32 or float64 array of that shape. Returns grad_out in the output's dtype: one rule for
    every layer, as the functional ops (and PyTorch's autograd) do, so a float64 grad_out to a float32
    layer is cast and dJ/dx keeps the layer's precision; integer, bool or complex ones are refused."""
    if out is None:
        raise RuntimeError(f"{layer!r}: backward called before forward")
    shape, dtype = out
    if not isinstance(grad_out, np.ndarray):
        raise TypeError(
            f"{layer!r}: grad_out must be a numpy array of the output's shape {shape}, "
            f"got {type(grad_out).__name__}"
        )
    if grad_out.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{layer!r}: grad_out must have dtype float32 or float64, got {grad_out.dtype} "
            f"(convert with grad_out.astype(np.{dtype}))"
        )
    if grad_out.shape != shape:
        raise ValueError(f"{layer!r}: grad_out must have the output's shape {shape}, got {grad_out.shape}")
    return matching_dtype(grad_out, dtype)


def fan_in_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, dtype) -> np.ndarray:
    """PyTorch's default initialisation of conv and linear layers, weights and biases alike:
    uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)] (what kaiming_uniform_ with a=sqrt(5) amounts to).
    The layer checks `rng` (`_args.generator`) before calling this."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def float_dtype(op: str, dtype) -> np.dtype:
    """`dtype` as float32 or float64, or a TypeError naming `op` and its `dtype` argument (also for what
    numpy cannot read as a dtype at all, such as 'foo', and for None, which numpy reads as float64 where
    PyTorch's None means its default, float32: a layer's dtype is said, never guessed)."""
    try:
        dt = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        dt = None
    if dt is None:
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dt}")
    return dt

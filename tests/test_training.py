"""Does training work? The loss falls on a small seeded problem, and the LeNet reaches 95% on the digits."""

from __future__ import annotations

import numpy as np
import pytest

from course import nn, optim
from course.data import load_mnist
from course.training import History, accuracy, evaluate, fit, predict


def blobs(rng, n=120):
    """Three well-separated Gaussian clusters in 2-D, labels 0..2."""
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    y = rng.integers(0, 3, size=n)
    return (centres[y] + 0.4 * rng.normal(size=(n, 2))).astype(np.float32), y


def test_training_lowers_the_loss_on_a_small_seeded_problem():
    rng = np.random.default_rng(0)
    x, y = blobs(rng)
    model = nn.Sequential(nn.Linear(2, 8, rng=rng), nn.Tanh(), nn.Linear(8, 3, rng=rng))
    loss_fn = nn.CrossEntropyLoss()
    before, _ = evaluate(model, loss_fn, x, y)
    history = fit(
        model, loss_fn, optim.SGD(model.parameters(), lr=0.1), x, y, 20, 16, rng=rng, progress=False
    )
    assert len(history.train_loss) == 20 and history.val_loss == []
    assert history.train_loss[-1] < 0.3 * history.train_loss[0] and history.train_loss[0] < before + 0.1
    after, acc = evaluate(model, loss_fn, x, y)
    assert after < 0.2 * before and acc > 0.95


def test_training_with_the_lectures_cost_and_one_hot_targets():
    rng = np.random.default_rng(1)
    x, y = blobs(rng)
    targets = np.eye(3, dtype=np.float32)[y]
    model = nn.Sequential(nn.Linear(2, 8, rng=rng), nn.Sigmoid(), nn.Linear(8, 3, rng=rng), nn.Sigmoid())
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.5, momentum=0.9),
        x,
        targets,
        30,
        16,
        x_val=x,
        y_val=targets,
        rng=rng,
        progress=False,
    )
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_acc[-1] > 0.9 and len(history.val_loss) == 30


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_reported_loss_is_the_mean_per_example_whatever_the_reduction_and_batch_size(reduction):
    rng = np.random.default_rng(2)
    x, y = blobs(rng, n=10)
    targets = np.eye(3, dtype=np.float32)[y]
    model = nn.Sequential(nn.Linear(2, 3, rng=rng))
    outputs = predict(model, x).astype(np.float64)
    by_hand = 0.5 * np.sum((outputs - targets) ** 2) / len(x)  # the lecture's J per example
    for batch_size in (3, 4, 10):
        loss, _ = evaluate(model, nn.MSELoss(reduction), x, targets, batch_size=batch_size)
        assert loss == pytest.approx(by_hand, rel=1e-6), batch_size
    tiny = optim.SGD(model.parameters(), lr=1e-30)  # steps far below float32's resolution: weights stay
    history = fit(model, nn.MSELoss(reduction), tiny, x, targets, 1, 4, rng=rng, progress=False)
    assert history.train_loss[0] == pytest.approx(by_hand, rel=1e-6)


class Spy(nn.Module):
    """A model that records every batch it sees and the outputs it gives, around a Linear layer."""

    def __init__(self, layer: nn.Module):
        self.layer, self.seen = layer, []

    def forward(self, x):
        out = self.layer(x)
        self.seen.append((x.copy(), out.copy()))
        return out

    def backward(self, grad_out):
        return self.layer.backward(grad_out)


def rows_of(batch: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The index in x of each row of batch (the rows of x are distinct)."""
    matches = np.all(batch[:, None, :] == x[None, :, :], axis=2)
    assert np.all(matches.sum(axis=1) == 1)
    return matches.argmax(axis=1)


def test_fit_shuffles_every_epoch_with_one_permutation_drawn_from_rng():
    """Each epoch visits all N examples once, in the order rng.permutation(N) (fit's only use of rng),
    in batches of batch_size and a smaller last one, and the order changes from epoch to epoch."""
    rng = np.random.default_rng(11)
    x, y = blobs(rng, n=10)
    model = Spy(nn.Linear(2, 3, rng=rng))
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, nn.CrossEntropyLoss(), opt, x, y, 3, 4, rng=np.random.default_rng(5), progress=False)
    expected = np.random.default_rng(5)
    orders = []
    for epoch in range(3):
        batches = model.seen[3 * epoch : 3 * epoch + 3]
        assert [len(batch) for batch, _ in batches] == [4, 4, 2]
        order = np.concatenate([rows_of(batch, x) for batch, _ in batches])
        np.testing.assert_array_equal(np.sort(order), np.arange(10))  # every example once
        np.testing.assert_array_equal(order, expected.permutation(10))
        orders.append(order)
    assert len(model.seen) == 9
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


def test_history_holds_the_mean_loss_and_accuracy_of_the_batches_fit_trained_on():
    """train_loss and train_acc of each epoch are the batches' losses and accuracies, each computed on
    the outputs before that batch's step, averaged over the examples."""
    rng = np.random.default_rng(12)
    x, y = blobs(rng, n=50)
    model = Spy(nn.Linear(2, 3, rng=rng))
    opt = optim.SGD(model.parameters(), lr=0.5)
    history = fit(model, nn.CrossEntropyLoss(), opt, x, y, 2, 16, rng=rng, progress=False)
    for epoch in range(2):
        batches = model.seen[4 * epoch : 4 * epoch + 4]  # 16, 16, 16, 2
        labels = [y[rows_of(batch, x)] for batch, _ in batches]
        sizes = [len(batch) for batch, _ in batches]
        losses = [nn.CrossEntropyLoss()(out, t) for (_, out), t in zip(batches, labels, strict=True)]
        accs = [accuracy(out, t) for (_, out), t in zip(batches, labels, strict=True)]
        assert history.train_loss[epoch] == pytest.approx(np.dot(losses, sizes) / 50, rel=1e-6)
        assert history.train_acc[epoch] == pytest.approx(np.dot(accs, sizes) / 50, rel=1e-12)
        assert history.train_acc[epoch] > 0.3  # so that a train_acc stuck at 0 is caught


def test_evaluate_over_several_batches_equals_the_loss_and_accuracy_at_once():
    """N = 300 in batches of 128, 128 and 44: the per-example mean, not the mean of the batch means."""
    rng = np.random.default_rng(13)
    x, y = blobs(rng, n=300)
    model = nn.Sequential(nn.Linear(2, 3, rng=rng))
    outputs = predict(model, x, batch_size=300)
    for loss_fn in (nn.CrossEntropyLoss(), nn.CrossEntropyLoss("sum")):
        loss, acc = evaluate(model, loss_fn, x, y, batch_size=128)
        assert loss == pytest.approx(nn.CrossEntropyLoss()(outputs, y), rel=1e-6)
        assert acc == accuracy(outputs, y)


def test_fit_is_reproducible_from_the_seed():
    def run():
        rng = np.random.default_rng(5)
        x, y = blobs(rng)
        model = nn.Sequential(nn.Linear(2, 4, rng=rng), nn.ReLU(), nn.Linear(4, 3, rng=rng))
        fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters(), 0.01),
            x,
            y,
            3,
            10,
            rng=rng,
            progress=False,
        )
        return model.state_dict()

    first, second = run(), run()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_accuracy_predict_and_history_plot():
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0.0, 1.0], [1.0, 0.0]])) == 1.0
    assert np.isnan(accuracy(np.zeros((3, 1)), np.zeros((3, 1))))
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dropout(0.5, rng=rng), nn.Linear(2, 3, rng=rng))
    x = rng.normal(size=(10, 2)).astype(np.float32)
    np.testing.assert_allclose(predict(model, x, batch_size=3), predict(model, x, batch_size=10), rtol=1e-6)
    assert model.training  # predict runs in eval mode (no dropout) and restores the mode
    import matplotlib

    matplotlib.use("Agg")
    history = History([1.0, 0.5], [0.5, 0.8], [1.1, 0.7], [0.4, 0.7])
    fig = history.plot()
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2


def test_accuracy_is_nan_for_targets_that_are_not_classes_and_checks_its_arguments():
    outputs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(outputs, np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])) == pytest.approx(2 / 3)
    # regression targets were scored as one-hot by their argmax (0.5 or so) although the docstring says NaN
    assert np.isnan(accuracy(outputs, np.array([[0.2, 0.7], [0.9, 0.1], [0.4, 0.5]])))
    assert np.isnan(accuracy(outputs, np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])))  # two 1s in a row
    assert np.isnan(accuracy(outputs, np.zeros((3, 2))))  # no 1 in a row
    with pytest.raises(ValueError, match=r"accuracy: outputs and y must hold the same .*\(1, 3\).*\(5,\)"):
        accuracy(np.eye(3)[:1], np.array([0, 1, 0, 0, 0]))  # was broadcast to 0.8
    with pytest.raises(TypeError, match="accuracy: outputs and y must be numpy arrays, got ndarray and list"):
        accuracy(outputs, [0, 1, 1])
    rng = np.random.default_rng(4)
    x, targets = rng.normal(size=(12, 2)).astype(np.float32), rng.normal(size=(12, 2)).astype(np.float32)
    model = nn.Linear(2, 2, rng=rng)
    opt = optim.SGD(model.parameters(), lr=0.01)
    history = fit(model, nn.MSELoss(), opt, x, targets, 1, 4, x_val=x, y_val=targets, rng=rng, progress=False)
    assert np.isnan(history.train_acc[0]) and np.isnan(history.val_acc[0])  # as History says


def test_fit_checks_its_arguments():
    model = nn.Linear(2, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = np.zeros((4, 2), dtype=np.float32), np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError, match="same positive number of examples"):
        fit(model, nn.CrossEntropyLoss(), opt, x, y[:3], 1, 2, progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(model, nn.CrossEntropyLoss(), opt, x, y, 0, 2, progress=False)
    assert fit(model, nn.CrossEntropyLoss(), opt, x, y, np.int64(1), np.int32(2), progress=False).train_loss


BAD_TRAINING_ARGUMENTS = {
    # name: (call on (model, loss_fn, optimizer, x, y), exception, pattern); each raised a raw error before
    "predict x list": (
        lambda m, lf, o, x, y: predict(m, [[1.0, 2.0]]),
        TypeError,
        r"predict: x must be a numpy array \(N, ...\), got list",
    ),
    "predict x empty": (
        lambda m, lf, o, x, y: predict(m, x[:0]),
        ValueError,
        r"predict: x must hold at least one example \(N, ...\), got x.shape=\(0, 2\)",
    ),
    "predict batch_size 0": (lambda m, lf, o, x, y: predict(m, x, 0), ValueError, r"predict: batch_size"),
    "predict batch_size -1": (lambda m, lf, o, x, y: predict(m, x, -1), ValueError, r"batch_size .* got -1"),
    "predict batch_size 2.5": (lambda m, lf, o, x, y: predict(m, x, 2.5), TypeError, r"got 2.5"),
    "predict batch_size True": (lambda m, lf, o, x, y: predict(m, x, True), TypeError, r"got True"),
    "evaluate batch_size 0": (
        lambda m, lf, o, x, y: evaluate(m, lf, x, y, 0),
        ValueError,
        r"evaluate: batch_size must be a positive int, got 0",
    ),
    "fit batch_size 2.5": (
        lambda m, lf, o, x, y: fit(m, lf, o, x, y, 1, 2.5, progress=False),
        TypeError,
        r"fit: batch_size must be a positive int, got 2.5",
    ),
    "fit rng int": (
        lambda m, lf, o, x, y: fit(m, lf, o, x, y, 1, 2, rng=0, progress=False),
        TypeError,
        r"fit: rng must be a numpy.random.Generator \(np.random.default_rng\(seed\)\) or None, got int",
    ),
    "fit rng legacy RandomState": (
        lambda m, lf, o, x, y: fit(m, lf, o, x, y, 1, 2, rng=np.random.RandomState(0), progress=False),
        TypeError,
        r"rng must be a numpy.random.Generator .* got RandomState",
    ),
    "fit progress string": (
        lambda m, lf, o, x, y: fit(m, lf, o, x, y, 1, 2, progress="no"),
        TypeError,
        r"fit: progress must be True or False, got 'no'",
    ),
    "fit optimizer None": (
        lambda m, lf, o, x, y: fit(m, lf, None, x, y, 1, 2, progress=False),
        TypeError,
        r"fit: optimizer must be a course.optim Optimizer, .*got NoneType",
    ),
    "fit x_val without y_val": (
        lambda m, lf, o, x, y: fit(m, lf, o, x, y, 1, 2, x_val=x, progress=False),
        TypeError,
        r"fit: x_val and y_val must be numpy arrays, got ndarray and NoneType",
    ),
    "fit y_val shorter than x_val": (
        lambda m, lf, o, x, y: fit(m, lf, o, x, y, 1, 2, x_val=x, y_val=y[:3], progress=False),
        ValueError,
        r"fit: x_val and y_val must hold .* got x_val.shape=\(4, 2\), y_val.shape=\(3,\)",
    ),
    "fit optimizer a list of parameters": (
        lambda m, lf, o, x, y: fit(m, lf, m.parameters(), x, y, 1, 2, progress=False),
        TypeError,
        r"optim.SGD\(model.parameters\(\), lr=0.1\), got list",
    ),
}


@pytest.mark.parametrize("name", BAD_TRAINING_ARGUMENTS)
def test_training_loops_name_their_bad_arguments(name):
    call, exception, pattern = BAD_TRAINING_ARGUMENTS[name]
    model = nn.Linear(2, 3, rng=np.random.default_rng(0))
    before = model.weight.data.copy()
    x, y = np.zeros((4, 2), dtype=np.float32), np.zeros(4, dtype=np.int64)
    with pytest.raises(exception, match=pattern) as info:
        call(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), x, y)
    assert type(info.value) is exception
    np.testing.assert_array_equal(model.weight.data, before)  # refused before any step


def test_lenet_reaches_95_percent_on_the_shipped_digits():
    (x, y), (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(0)
    model = nn.lenet(rng=rng)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    fit(model, nn.CrossEntropyLoss(), opt, x, y, epochs=3, batch_size=32, rng=rng, progress=False)
    opt.lr = 0.01  # a smaller step for the last epoch: about 96-97% for any seed, instead of 93-96%
    fit(model, nn.CrossEntropyLoss(), opt, x, y, epochs=1, batch_size=32, rng=rng, progress=False)
    _, acc = evaluate(model, nn.CrossEntropyLoss(), x_test, y_test)
    assert acc >= 0.95, acc

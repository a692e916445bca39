"""Do the data loaders return what they promise, offline? (They never touch the network code.)"""

from __future__ import annotations

import numpy as np
import pytest

from course.data import load_mnist, load_photo


def test_mnist_shapes_dtypes_ranges_and_balance():
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        np.testing.assert_array_equal(np.rint(x * 255), x * np.float32(255))  # whole pixel values / 255
    np.testing.assert_array_equal(np.bincount(y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [100] * 10)


def test_mnist_split_is_fixed_shuffled_and_disjoint():
    (x_train, y_train), (x_test, y_test) = load_mnist()
    (x_again, _), _ = load_mnist()
    np.testing.assert_array_equal(x_train, x_again)
    assert x_again is not x_train
    assert np.mean(y_train[1:] != y_train[:-1]) > 0.8  # shuffled, not grouped by digit (about 0.9)
    train_keys = {img.tobytes() for img in x_train}
    assert not any(img.tobytes() in train_keys for img in x_test)


def test_mnist_images_look_like_digits():
    # real digits: a dark border, ink in the middle, and each digit's mean image unlike the others
    (x, y), _ = load_mnist()
    assert x[:, :, :2, :].mean() < 0.01 and x[:, :, 10:18, 10:18].mean() > 0.2
    means = np.stack([x[y == d].mean(axis=0).ravel() for d in range(10)])
    nearest = [int(np.argmin(((means - img.ravel()) ** 2).sum(axis=1))) for img in x[:500]]
    assert np.mean(np.array(nearest) == y[:500]) > 0.7  # nearest class mean: about 80% on MNIST


def test_photo_colour_gray_and_resized():
    photo = load_photo()
    assert photo.shape == (600, 512, 3) and photo.dtype == np.float32
    assert 0 <= photo.min() < 0.1 and 0.9 < photo.max() <= 1
    gray = load_photo(gray=True)
    assert gray.shape == (600, 512) and gray.dtype == np.float32
    np.testing.assert_allclose(gray, photo @ np.array([0.299, 0.587, 0.114], dtype=np.float32), atol=1e-6)
    small = load_photo(size=224)
    assert small.shape == (224, 224, 3) and small.dtype == np.float32 and 0 <= small.min() <= small.max() <= 1
    assert load_photo(gray=True, size=224).shape == (224, 224)
    # the centred square crop: its mean colour is close to the original's middle 512 rows
    np.testing.assert_allclose(small.mean(axis=(0, 1)), photo[44:556].mean(axis=(0, 1)), atol=0.01)
    # a numpy integer was refused as "not a positive int"
    assert load_photo(gray=True, size=np.int64(64)).shape == (64, 64)
    with pytest.raises(ValueError, match="load_photo: size must be a positive int, got 0"):
        load_photo(size=0)
    with pytest.raises(TypeError, match="load_photo: size must be a positive int, got True"):
        load_photo(size=True)
    with pytest.raises(TypeError, match="size must be a positive int, got 64.0"):
        load_photo(size=64.0)
    # was read as bool("no"): the gray photo, the opposite of what was asked
    with pytest.raises(TypeError, match=r"^load_photo: gray must be True or False, got 'no'$"):
        load_photo(gray="no")

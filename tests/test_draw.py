"""Box labels: drawn beside their boxes, never over each other, strongest first."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from course.apps.draw import draw_boxes  # noqa: E402


def test_labels_of_crowded_boxes_never_overlap_and_the_strongest_are_kept():
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.zeros((64, 64)))
    boxes = np.array([[10 + k, 20, 14 + k, 40] for k in range(6)], dtype=float)  # six shifted thin boxes
    scores = np.array([0.3, 0.9, 0.5, 0.8, 0.4, 0.7])
    draw_boxes(ax, boxes, np.ones(6, dtype=int), scores)
    renderer = fig.canvas.get_renderer()
    labels = [text for text in ax.texts]
    extents = [text.get_window_extent(renderer) for text in labels]
    assert len(ax.patches) == 6, "every box is drawn, labelled or not"
    assert 2 <= len(labels) <= 6
    for i in range(len(extents)):
        for k in range(i + 1, len(extents)):
            assert not extents[i].overlaps(extents[k]), (labels[i].get_text(), labels[k].get_text())
    shown = {text.get_text() for text in labels}
    assert "1 0.90" in shown and "1 0.80" in shown, "labels are placed by decreasing score"
    plt.close(fig)


def test_text_false_draws_boxes_only():
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((10, 10)))
    draw_boxes(ax, np.array([[1.0, 1.0, 5.0, 5.0]]), [3], [0.5], text=False)
    assert len(ax.patches) == 1 and not ax.texts
    plt.close(fig)

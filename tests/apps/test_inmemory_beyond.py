"""Tiki-Taka beyond MLPs: a CNN on the digits and a tiny transformer on a synthetic sequence task
learn (fixed seeds, accuracy above chance by a stated margin)."""

import pytest
import torch

from analogue.apps.inmemory_beyond import TinySequenceTransformer, majority_task, train_task

pytestmark = pytest.mark.usefixtures("one_thread")


def test_majority_task_labels_are_the_most_frequent_token():
    d = majority_task(n_train=50, n_test=10, seq=7, vocab=3, seed=1)
    for x, y in zip(d.x_train, d.y_train):
        counts = [int((x == t).sum()) for t in range(3)]
        assert counts[int(y)] == max(counts) and counts.index(max(counts)) == int(y)


def test_tiny_transformer_feeds_3d_inputs_to_its_linear_layers():
    m = TinySequenceTransformer(vocab=4, seq=6, classes=4)
    seen = []
    m.ff1.register_forward_hook(lambda mod, a, o: seen.append(a[0].shape))
    assert m(torch.zeros(3, 6, dtype=torch.long)).shape == (3, 4)
    assert seen == [(3, 6, 32)]


@pytest.mark.slow
def test_tikitaka_trains_a_cnn_on_digits():
    """10 classes (chance 10 %): at least 80 % after 3 epochs at seed 0."""
    r = train_task("cnn", "tikitaka", epochs=3, seed=0)
    assert r["accuracy"][-1] >= 0.80


@pytest.mark.slow
def test_tikitaka_trains_a_tiny_transformer():
    """At least 20 points above always answering the most frequent test label after 2 epochs."""
    data = majority_task()
    base = float(torch.bincount(data.y_test).max()) / len(data.y_test)
    r = train_task("transformer", "tikitaka", epochs=2, seed=0, data=data)
    assert r["accuracy"][-1] >= base + 0.20

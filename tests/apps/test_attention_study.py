"""The digital vs analog attention study: ideal analog attention matches digital attention exactly
in accuracy, noisy arrays differ, and the cost rows follow ``attention_cost``."""

import pytest

pytest.importorskip("transformers")

from analogue.apps.attention_study import BERT_BASE, attention_study  # noqa: E402
from analogue.cost.attention import attention_cost  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.slow
def test_attention_study_tables():
    res = attention_study(seed=0, epochs=1)
    acc = {r["attention"]: r for r in res["accuracy"]}
    dig, ideal = acc["digital"], acc["analog, ideal converters and device"]
    assert ideal["test accuracy %"] == dig["test accuracy %"] and ideal["logits error vs digital %"] < 1e-3
    assert acc["analog, pcm() (write noise)"]["logits error vs digital %"] > 0.1
    pcm = next(r for r in res["cost"] if r["device"] == "pcm")
    c = attention_cost(**BERT_BASE, device_kind="pcm")
    assert pcm["cells written"] == c.cells_written and pcm["write uJ"] == round(1e6 * c.write_energy_J, 3)

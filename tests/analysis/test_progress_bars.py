"""Long analyses draw a progress bar under the library's one policy (analogue._util.progress)."""

import pytest
import torch
from torch import nn

import analogue as an
from analogue.analysis import accuracy_over_time, sensitivity


def _data():
    torch.manual_seed(0)
    x = torch.randn(20, 6)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval(), x, (x[:, 0] > 0).long()


@pytest.mark.parametrize("progress", [True, False])
def test_bars_follow_the_progress_argument(capsys, progress):
    net, x, y = _data()
    accuracy_over_time(an.convert_(net, an.presets.pcm()), (x, y), (60.0, 3600.0), repeats=1,
                       progress=progress)
    assert ("accuracy over time" in capsys.readouterr().err) is progress
    net, x, y = _data()
    sensitivity(net, (x, y), an.presets.pcm(), n_seeds=1, progress=progress)
    assert ("sensitivity" in capsys.readouterr().err) is progress
    an.calibrate_(an.convert_(net, an.presets.standard()), [x, x], progress=progress)
    assert ("calibrate" in capsys.readouterr().err) is progress
    net, x, y = _data()
    an.compile(net, x, progress=progress)
    assert ("compile" in capsys.readouterr().err) is progress


def test_progress_must_be_a_bool_or_none():
    net, x, y = _data()
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        sensitivity(net, (x, y), an.presets.pcm(), n_seeds=1, progress="yes")

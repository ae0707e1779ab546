"""Tiki-Taka's column transfer: columns taken in turn and wrapping around the array, and the
transfer position surviving a state-dict round trip into an optimizer that has stepped already."""

import copy

import pytest
import torch
from torch import nn

import analogue as an
from analogue.config import pulsed as pc
from analogue.train import inmemory as im

pytestmark = pytest.mark.usefixtures("one_thread")


def _mlp(seed=0):
    torch.manual_seed(seed)
    return an.convert_(nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)), an.presets.ideal())


def _step(model, opt, x, y):
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    opt.zero_grad()


def test_transfer_columns_wrap_around_and_each_is_read_once_per_visit():
    model = _mlp()
    dev = pc.SoftBoundsDevice(n_states=200, asym_up_down=0.2)
    opt = im.TikiTaka(model, dev, lr=1.0, transfer_lr=5.0, columns_per_transfer=3, chop_every=100, seed=1)
    st = opt.state[model[0].weight]
    x, y = torch.rand(16, 8, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 3
    starts = []
    for _ in range(4):  # columns 0-2, 3-5, then 6, 7, 0 (wrapping), then 1-3
        _step(model, opt, x, y)
        starts.append(int(st["next_col"]))
    assert starts == [3, 6, 1, 4]
    # reads per column, counted by hand from the visits above
    assert torch.equal(st["reads"], torch.tensor([2.0, 2, 2, 2, 1, 1, 1, 1]))
    assert opt.stats["transfer_reads"] == 4 * (3 + 3)  # both layers (6 and 8 inputs) read 3 columns


def test_transfer_position_follows_a_loaded_state():
    dev = pc.SoftBoundsDevice(n_states=200, asym_up_down=0.2)  # no cycle-to-cycle noise
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 8, generator=g), torch.randint(0, 3, (16,), generator=g)
    kw = dict(lr=1.0, transfer_lr=5.0, columns_per_transfer=3, seed=2)
    model, model2 = _mlp(), _mlp(seed=1)
    opt, opt2 = im.TikiTaka(model, dev, **kw), im.TikiTaka(model2, dev, **kw)
    for _ in range(3):
        _step(model, opt, x, y)
    _step(model2, opt2, x, y)  # opt2 is at another column now
    model2.load_state_dict(model.state_dict())
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # a copy: torch's load shares the tensors
    opt2.generator.set_state(opt.generator.get_state())
    _step(model, opt, x, y)
    _step(model2, opt2, x, y)
    for a, b in zip(an.analog_layers(model).values(), an.analog_layers(model2).values()):
        assert torch.equal(opt.state[a.weight]["next_col"], opt2.state[b.weight]["next_col"])
        assert torch.equal(opt.state[a.weight]["h"], opt2.state[b.weight]["h"])
        assert torch.equal(a.weight, b.weight)

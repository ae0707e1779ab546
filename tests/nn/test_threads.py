"""One converted model called from several threads at once gives the outputs it gives one call at
a time (the reused temporaries are per thread; the noise stream is shared and thread-safe)."""

import copy
import pickle
import threading

import pytest
import torch
from torch import nn

import analogue as an

N_THREADS, N_CALLS = 4, 6


def _model(cfg):
    torch.manual_seed(0)
    digital = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                            nn.Linear(8 * 6 * 6, 300), nn.ReLU(), nn.Linear(300, 10))
    return an.convert_(digital, cfg)


def _run_concurrently(fn, inputs):
    """``fn(x)`` for every input, ``N_THREADS`` threads at once, started together."""
    outs: dict[int, torch.Tensor] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(N_THREADS)

    def worker(t):
        try:
            barrier.wait()
            for c in range(N_CALLS):
                i = t * N_CALLS + c
                outs[i] = fn(inputs[i])
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(N_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    return [outs[i] for i in range(len(inputs))]


@pytest.mark.parametrize("policy", ["dynamic", "fixed"])
def test_concurrent_inference_equals_one_call_at_a_time(policy):
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0, "dac.range_policy": policy})
    model = _model(cfg).eval()
    gen = torch.Generator().manual_seed(1)
    # batch sizes vary, so a shared temporary would be reshaped under another thread's feet
    inputs = [torch.randn(1 + i % 5, 3, 6, 6, generator=gen) for i in range(N_THREADS * N_CALLS)]
    with torch.no_grad():
        expected = [model(x) for x in inputs]
    for _ in range(3):
        got = _run_concurrently(lambda x: model(x), inputs)  # threads start with grad mode on
        with torch.no_grad():
            got_ng = _run_concurrently(lambda x: _no_grad(model, x), inputs)
        for e, a, b in zip(expected, got, got_ng):
            torch.testing.assert_close(a.detach(), e, rtol=0, atol=0)
            torch.testing.assert_close(b, e, rtol=0, atol=0)


def _no_grad(model, x):
    with torch.no_grad():
        return model(x)


def test_concurrent_training_steps_give_the_gradients_of_one_at_a_time():
    # the kept slots (DAC codes for the backward) are per thread too
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0})
    model = _model(cfg).train()
    gen = torch.Generator().manual_seed(2)
    inputs = [torch.randn(2, 3, 6, 6, generator=gen) for _ in range(N_THREADS * N_CALLS)]

    def grads(x):
        params = list(model.parameters())
        return torch.autograd.grad(model(x).square().sum(), params)

    expected = [grads(x) for x in inputs]
    got = _run_concurrently(grads, inputs)
    for e, a in zip(expected, got):
        for ge, ga in zip(e, a):
            torch.testing.assert_close(ga, ge, rtol=0, atol=0)


def test_concurrent_noisy_calls_draw_distinct_noise():
    # one shared stream: concurrent calls take distinct stretches of it (no two calls see the same
    # noise, as two copies of one seeded stream would give), each N(0, std^2)
    std_rel = 0.05
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": std_rel, "adc.bits": None,
                                           "dac.bits": None})
    torch.manual_seed(0)
    layer = an.AnalogLinear(64, 256, bias=False, cfg=cfg)
    x = torch.zeros(N_THREADS * N_CALLS, 4, 64)  # zero inputs: the outputs are the noise alone
    x[..., 0] = 1.0  # (a unit full scale per vector; the weights' first column times it)
    with torch.no_grad():
        clean = layer.weight[:, 0].clone()
        noises = _run_concurrently(lambda xi: _no_grad(layer, xi) - clean, list(x))
    flat = torch.stack(noises).view(len(noises), -1)
    # the noise is std_rel * out_bound in normalised units, times the column's weight scale
    scales = layer.weight.abs().amax(dim=1)
    z = (flat.view(len(noises), 4, 256) / (std_rel * cfg.adc.out_bound * scales)).reshape(len(noises), -1)
    n = z.numel()
    assert abs(z.mean().item()) < 5 / n ** 0.5
    assert abs(z.std().item() - 1.0) < 5 * (0.5 / n) ** 0.5
    for i in range(len(z)):
        for j in range(i + 1, len(z)):
            assert not torch.equal(z[i], z[j])
            assert abs(torch.corrcoef(torch.stack([z[i], z[j]]))[0, 1].item()) < 5 / z.shape[1] ** 0.5


def test_copies_still_work_after_threaded_use():
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0})
    model = _model(cfg).eval()
    inputs = [torch.randn(2, 3, 6, 6) for _ in range(N_THREADS * N_CALLS)]
    _run_concurrently(lambda x: _no_grad(model, x), inputs)
    with torch.no_grad():
        y = model(inputs[0])
        for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            torch.testing.assert_close(twin(inputs[0]), y, rtol=0, atol=0)

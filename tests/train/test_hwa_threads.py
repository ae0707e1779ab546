"""Hardware-aware training from several threads at once: the weight perturbation's reused buffers
are per thread and its one noise stream is started once, as the analog layers' are
(``tests/nn/test_threads.py``). Concurrent steps then give the results that the same noise draws
give one step at a time."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
import torch

import analogue as an
from analogue.config import BitSlicing
from analogue.train import HWAOptions, hwa_
from analogue.train.hwa import WeightPerturbation

N_THREADS, N_CALLS = 4, 6
OPTIONS = HWAOptions(device_noise_scale=3.0)  # the recipe's noise: a std that depends on the weight


def _cfg(sliced: bool = False):
    changes = {"noise.out_std_rel_fs": 0.0}  # the perturbation is the only noise
    if sliced:  # bit-sliced weights: the perturbation runs on the normalised weights (its __call__)
        changes["device.slicing"] = BitSlicing(weight_bits=5)
    return an.presets.pcm().replace(**changes)


def _run_concurrently(fn, n_threads=N_THREADS, n_calls=N_CALLS):
    """``fn()`` ``n_calls`` times in each of ``n_threads`` threads, started together."""
    outs: list = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait()
            for _ in range(n_calls):
                r = fn()
                with lock:
                    outs.append(r)
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    return outs


def _in_order(expected, got):
    """``got`` matched one to one, exactly, to ``expected`` (each a tuple of tensors): concurrent
    calls draw the stream's stretches in the order they reach it, so call ``k`` of any thread
    equals call ``k`` of one thread."""
    left = list(expected)
    for g in got:
        hit = next((i for i, e in enumerate(left) if all(torch.equal(a, b) for a, b in zip(e, g))), None)
        assert hit is not None, "a concurrent result matches no single-threaded one"
        left.pop(hit)


def test_a_result_stays_valid_while_another_thread_perturbs():
    # __call__ returns a reused buffer; another thread's call must not write into it
    layer = an.AnalogLinear(64, 32, cfg=_cfg())
    pert = WeightPerturbation(OPTIONS, seed=0)
    g = torch.Generator().manual_seed(0)
    w_a, w_b = torch.rand(32, 64, generator=g) * 2 - 1, torch.rand(32, 64, generator=g) - 0.5
    held = {}

    def first():
        held["out"] = pert(w_a, layer)
        held["copy"] = held["out"].clone()

    for target in (first, lambda: pert(w_b, layer)):  # one after the other, in two threads
        th = threading.Thread(target=target)
        th.start()
        th.join()
    assert not torch.equal(held["copy"], w_a)  # it is perturbed
    torch.testing.assert_close(held["out"], held["copy"], rtol=0, atol=0)


@pytest.mark.parametrize("sliced", [False, True], ids=["weight-units", "bit-sliced"])
def test_concurrent_hwa_steps_equal_one_at_a_time(sliced):
    torch.manual_seed(0)
    model = hwa_(an.convert_(torch.nn.Sequential(torch.nn.Linear(96, 200)), _cfg(sliced)), OPTIONS).train()
    x = torch.randn(8, 96, generator=torch.Generator().manual_seed(1))

    def step(m):
        def run():
            out = m(x)
            (grad,) = torch.autograd.grad(out.square().sum(), [m[0].weight])
            return out.detach(), grad
        return run

    reference, threaded = copy.deepcopy(model), copy.deepcopy(model)  # the same fresh stream
    expected = [step(reference)() for _ in range(N_THREADS * N_CALLS)]
    assert not torch.equal(expected[0][0], expected[1][0])  # each step draws fresh noise
    for _ in range(2):  # the first round also starts the stream: from four threads at once
        _in_order(expected, _run_concurrently(step(threaded)))
        threaded = copy.deepcopy(model)


def test_copies_and_pickles_work_after_threaded_use():
    torch.manual_seed(0)
    model = hwa_(an.convert_(torch.nn.Sequential(torch.nn.Linear(16, 8)), _cfg()), OPTIONS).train()
    x = torch.randn(4, 16)
    _run_concurrently(lambda: model(x).detach())
    pert = model[0].weight_perturbation
    assert isinstance(pert, WeightPerturbation)
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        p2 = twin[0].weight_perturbation
        assert "_reused" not in p2.__dict__ and p2.options == pert.options and p2.seed == pert.seed
        # the twin's stream is its own (same seed, same draws as a fresh copy of the stream)
        twin2 = copy.deepcopy(twin)
        torch.testing.assert_close(twin(x), twin2(x), rtol=0, atol=0)

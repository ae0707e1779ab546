"""Analog layers against their torch twins (the oracle), tiled and untiled."""

import copy
import math

import pytest
import torch
from torch import nn

import analogue as an
from analogue.nn import autograd
from analogue.physics import ste


def _pair(twin, cfg, seed=0):
    torch.manual_seed(seed)
    ref = twin.double()
    return ref, type_map[type(ref)].from_float(ref, cfg)


type_map = {nn.Linear: an.AnalogLinear, nn.Conv1d: an.AnalogConv1d, nn.Conv2d: an.AnalogConv2d}

CASES = [
    (lambda: nn.Linear(40, 13), (7, 40)),
    (lambda: nn.Linear(40, 13, bias=False), (2, 3, 40)),
    (lambda: nn.Linear(600, 70), (5, 600)),
    (lambda: nn.Conv2d(6, 8, 3), (2, 6, 9, 9)),
    (lambda: nn.Conv2d(6, 9, (3, 2), stride=2, padding=1, dilation=2, groups=3), (2, 6, 11, 12)),
    (lambda: nn.Conv2d(4, 4, 3, padding="same", groups=4, bias=False), (3, 4, 7, 5)),
    (lambda: nn.Conv2d(4, 6, 3, padding=2, padding_mode="reflect"), (1, 4, 6, 6)),
    (lambda: nn.Conv2d(4, 6, 3, padding=1, padding_mode="circular"), (1, 4, 6, 6)),
    (lambda: nn.Conv2d(2, 4, 5, padding="valid", stride=(1, 2)), (2, 2, 9, 9)),
    (lambda: nn.Conv1d(5, 7, 4, stride=2, padding=3, dilation=2), (3, 5, 20)),
    (lambda: nn.Conv1d(6, 6, 3, padding="same", groups=2, padding_mode="replicate"), (2, 6, 10)),
    (lambda: nn.Conv2d(3, 5, 3), (3, 8, 8)),  # unbatched input
    (lambda: nn.Conv2d(64, 10, 3, stride=2, padding=1, groups=2), (2, 64, 7, 7)),
    (lambda: nn.Conv2d(3, 4, (2, 4), padding="same"), (2, 3, 7, 8)),  # asymmetric zero padding
    (lambda: nn.Conv1d(3, 5, 4, padding="same", bias=False), (2, 3, 11)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own twin
@pytest.mark.parametrize("policy", ["dynamic", "dynamic_tile"])  # one range per vector / per row tile
@pytest.mark.parametrize("rows", [4, 16, 256])
@pytest.mark.parametrize("make, shape", CASES)
def test_ideal_equals_torch_outputs_and_gradients(make, shape, rows, policy):
    cfg = an.presets.ideal(rows=rows, cols=3)
    ref, ana = _pair(make(), cfg.replace(dac=an.DACConfig(bits=None, range_policy=policy)))
    x = torch.randn(shape, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = ref(x1), ana(x2)
    assert y1.shape == y2.shape
    assert torch.allclose(y1, y2, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(y1)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, rtol=1e-10, atol=1e-10)
    assert torch.allclose(ref.weight.grad, ana.weight.grad, rtol=1e-10, atol=1e-10)
    if ref.bias is not None:
        assert torch.allclose(ref.bias.grad, ana.bias.grad, rtol=1e-10, atol=1e-10)


def test_inplace_op_after_analog_linear_keeps_gradients():
    # the layer's output is its own tensor (not a view made inside the autograd function), so an
    # in-place ReLU after it works, and the gradients still equal the digital twin's
    torch.manual_seed(0)
    digital = nn.Sequential(nn.Linear(8, 8), nn.ReLU(inplace=True), nn.Linear(8, 3)).double()
    analog = an.convert_(copy.deepcopy(digital), an.presets.ideal(rows=4))
    x = torch.randn(4, 5, 8, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    digital(x1).square().sum().backward()
    analog(x2).square().sum().backward()
    assert torch.allclose(x1.grad, x2.grad, rtol=1e-10, atol=1e-10)
    for p_d, p_a in zip(digital.parameters(), analog.parameters()):
        assert torch.allclose(p_d.grad, p_a.grad, rtol=1e-10, atol=1e-10)


def test_gradcheck_ideal_linear_and_conv():
    lin = an.AnalogLinear(9, 4, cfg=an.presets.ideal(rows=4), dtype=torch.float64)
    x = torch.randn(3, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: autograd.AnalogMatmulFn.apply(
        x.reshape(1, 3, 9), w, None, None, lin)[0], (x, lin.weight))
    conv = an.AnalogConv2d(4, 6, 3, groups=2, padding=1, cfg=an.presets.ideal(rows=5), dtype=torch.float64)
    xc = torch.randn(2, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (xc,))


def test_round_and_clamp_ste_gradients():
    x = torch.tensor([-2.0, -0.4, 0.6, 3.0], requires_grad=True)
    ste.round_ste(x).sum().backward()
    assert torch.equal(x.grad, torch.ones(4))
    x.grad = None
    ste.clamp_ste(x, -1.0, 1.0).sum().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 1.0, 0.0]))


def test_learned_input_range_gets_lsq_gradient():
    cfg = an.presets.ideal().replace(dac=an.DACConfig(bits=4, range_policy="learned", input_range=1.0))
    lin = an.AnalogLinear(6, 3, bias=False, cfg=cfg, dtype=torch.float64)
    assert isinstance(lin.input_range, nn.Parameter)
    x = torch.tensor([[-2.0, -0.5, 0.3, 0.9, 1.5, 0.05]], dtype=torch.float64, requires_grad=True)
    lin(x).sum().backward()
    r, lv = 1.0, 7
    inside = x.detach().abs() <= r
    xn = torch.round(x.detach().clamp(-r, r) / r * lv) / lv
    dxdr = torch.where(inside, xn - x.detach() / r, torch.sign(x.detach()))
    gx_full = lin.weight.detach().sum(0, keepdim=True)  # dL/dx_eff for L = sum(y)
    assert torch.allclose(lin.input_range.grad, (gx_full * dxdr).sum(), atol=1e-12)
    assert torch.allclose(x.grad, gx_full * inside, atol=1e-12)


def test_tiling_with_ideal_adc_equals_untiled():
    # same DAC (8-bit, per-vector abs-max over the whole input) tiled and untiled; exact ADC and no noise
    cfg = an.presets.ideal().replace(dac=an.DACConfig(bits=8))
    torch.manual_seed(1)
    ref = nn.Linear(500, 30).double()
    untiled = an.AnalogLinear.from_float(ref, cfg.replace(tile=an.TileConfig(512, 512)))
    tiled = an.AnalogLinear.from_float(ref, cfg.replace(tile=an.TileConfig(64, 8)))
    x = torch.randn(20, 500, dtype=torch.float64)
    assert torch.allclose(untiled(x), tiled(x), atol=1e-10)


def _sqnr_db(y, ref):
    return 10 * math.log10(ref.pow(2).mean() / (y - ref).pow(2).mean())


@pytest.mark.parametrize("bits, floor_db", [(6, 22.0), (8, 33.0), (10, 44.0)])
def test_quantisation_sqnr_floor(bits, floor_db):
    cfg = an.presets.quantized(dac_bits=bits, adc_bits=bits, rows=128)
    torch.manual_seed(2)
    ref = nn.Linear(256, 64)
    ana = an.AnalogLinear.from_float(ref, cfg)
    x = torch.randn(512, 256)
    an.calibrate_(ana, x[:256], adc_quantile=1.0, adc_margin=1.25)
    with torch.no_grad():
        s = _sqnr_db(ana(x[256:]), ref(x[256:]))
    assert s >= floor_db, s


def test_output_noise_statistics():
    # one block, no converters: y - exact = s_x * s_w * std * N(0,1) per output
    std_rel, bound = 0.01, 10.0
    cfg = an.presets.ideal().replace(noise=an.NoiseConfig(std_rel), adc=an.ADCConfig(None, bound, False))
    lin = an.AnalogLinear(64, 32, bias=False, cfg=cfg)
    x = torch.randn(2000, 64)
    with torch.no_grad():
        err = lin(x) - x @ lin.weight.t()
        s_x = x.abs().amax(1, keepdim=True)
        s_w = lin.weight.abs().amax(1)
        z = (err / (s_x * s_w)).double() / (std_rel * bound)
    n = z.numel()
    assert abs(z.mean()) < 6 / math.sqrt(n)
    assert abs(z.var() - 1) < 6 * math.sqrt(2 / n)


def test_noise_is_reproducible_per_seed():
    cfg = an.presets.standard()
    ref = nn.Linear(300, 20)
    a = an.AnalogLinear.from_float(ref, cfg, seed=3)
    b = an.AnalogLinear.from_float(ref, cfg, seed=3)
    c = an.AnalogLinear.from_float(ref, cfg, seed=4)
    x = torch.randn(10, 300)
    with torch.no_grad():
        ya, yb, yc = a(x), b(x), c(x)
        assert torch.equal(ya, yb) and not torch.equal(ya, yc)
        assert not torch.equal(a(x), ya)  # a fresh draw on every read
        a.reseed(3)
        assert torch.equal(a(x), ya)


def test_bad_input_names_the_layer():
    model = an.convert_(nn.Sequential(nn.Linear(8, 4), nn.Conv1d(4, 2, 3)), an.presets.standard())
    with pytest.raises(ValueError, match=r"^0: expected input \(\.\.\., 8\)"):
        model[0](torch.randn(2, 9))
    with pytest.raises(ValueError, match="^1: expected input"):
        model[1](torch.randn(2, 5, 10))
    for bad in (float("nan"), float("inf")):
        x = torch.randn(3, 8)
        x[1, 2] = bad
        with pytest.raises(ValueError, match="^0: input contains NaN or Inf"):
            model[0](x)
    fixed = an.AnalogLinear(8, 2, cfg=an.presets.standard().replace(dac=an.DACConfig(range_policy="fixed")))
    x = torch.randn(3, 8)
    x[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        fixed(x)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        an.AnalogConv2d(1, 1, 5)(torch.randn(1, 1, 3, 3))


def test_state_dict_deepcopy_and_float_round_trip():
    cfg = an.presets.standard().replace(dac=an.DACConfig(range_policy="learned", input_range=2.0))
    a = an.AnalogConv2d(3, 4, 3, cfg=cfg)
    sd = a.state_dict()
    assert {"weight", "bias", "input_range", "out_bound"} <= set(sd)
    b = an.AnalogConv2d(3, 4, 3, cfg=cfg)
    b.load_state_dict(sd)
    assert torch.equal(b.weight, a.weight)
    c = copy.deepcopy(a)
    assert torch.equal(c.weight, a.weight) and c.weight is not a.weight
    f = a.to_float()
    assert isinstance(f, nn.Conv2d) and torch.equal(f.weight, a.weight)


def test_any_torch_optimizer_trains_through_the_tiles():
    torch.manual_seed(0)
    teacher = nn.Linear(32, 4)
    x = torch.randn(512, 32)
    y = teacher(x).detach()
    for opt_cls in (torch.optim.SGD, torch.optim.Adam):
        student = an.AnalogLinear(32, 4, cfg=an.presets.standard())
        opt = opt_cls(student.parameters(), lr=0.05)
        first = None
        for _ in range(60):
            opt.zero_grad()
            loss = (student(x) - y).pow(2).mean()
            loss.backward()
            opt.step()
            first = first if first is not None else loss.item()
        assert loss.item() < 0.1 * first, opt_cls


@pytest.mark.parametrize("policy", ["dynamic", "fixed"])
@pytest.mark.parametrize("groups", [1, 2])
def test_chunked_inference_equals_one_shot(policy, groups):
    # noise off so both paths are deterministic; chunking of DAC and partial sums must not matter
    cfg = an.presets.quantized(rows=16).replace(dac=an.DACConfig(bits=6, range_policy=policy, input_range=2.0))
    torch.manual_seed(0)
    ref = nn.Conv2d(8, 6, 3, groups=groups, padding=1)
    a = an.AnalogConv2d.from_float(ref, cfg)
    b = an.AnalogConv2d.from_float(ref, cfg)
    b.max_chunk_elems = 50  # forces chunks of blocks and of vectors
    x = torch.randn(3, 8, 6, 6)
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-5)
    lin_a = an.AnalogLinear.from_float(nn.Linear(100, 7), cfg)
    lin_b = copy.deepcopy(lin_a)
    lin_b.max_chunk_elems = 64
    xl = torch.randn(33, 100)
    with torch.no_grad():
        assert torch.allclose(lin_a(xl), lin_b(xl), atol=1e-5)


@pytest.mark.parametrize("policy", ["dynamic", "learned"])
@pytest.mark.parametrize("groups", [1, 2])  # one group: the weight gradient reads the gradient image as is
@pytest.mark.parametrize("per_image_min", [1, 10**6])  # per-image products, or one product after a copy
def test_conv_native_backward_equals_im2col_backward(policy, groups, per_image_min):
    # the conv Function's gradients (transposed conv, per-pixel mask and LSQ) against plain
    # autograd through the im2col path, with quantisation and clipping on
    cfg = an.presets.quantized(dac_bits=4, adc_bits=8, rows=20).replace(
        dac=an.DACConfig(bits=4, range_policy=policy, input_range=0.8))
    torch.manual_seed(0)
    a = an.AnalogConv2d(6, 4, 3, stride=2, padding=1, dilation=2, groups=groups, cfg=cfg, dtype=torch.float64)
    a.per_image_grad_min_pixels = per_image_min
    b = copy.deepcopy(a)
    x = torch.randn(2, 6, 9, 9, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya = a(xa)
    b.set_input_capture([])  # recording inputs routes the forward through im2col + AnalogMatmulFn
    yb = b(xb)
    assert torch.allclose(ya, yb)
    g = torch.randn_like(ya)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    assert torch.allclose(xa.grad, xb.grad, atol=1e-10)
    assert torch.allclose(a.weight.grad, b.weight.grad, atol=1e-10)
    assert torch.allclose(a.bias.grad, b.bias.grad, atol=1e-10)
    if policy == "learned":
        assert torch.allclose(a.input_range.grad, b.input_range.grad, atol=1e-10)


POOLED_CASES = [
    *[(nn.Conv2d, {"kernel_size": 3, **kw}, (3, 8, 9, 11)) for kw in (
        dict(stride=2, padding=1), dict(dilation=2, padding=2), dict(groups=2, padding=1),
        dict(stride=(1, 2), padding=(0, 1)), dict(padding=2, padding_mode="reflect"),
        dict(padding=1, padding_mode="circular"), dict(kernel_size=1, stride=2))],
    *[(nn.Conv1d, {"kernel_size": 3, **kw}, (2, 8, 13)) for kw in (
        dict(padding=2, dilation=2), dict(padding=3, padding_mode="replicate", stride=2),
        dict(padding="same", groups=2, padding_mode="circular"))],
]


@pytest.mark.parametrize("torch_cls, kw, shape", POOLED_CASES)
def test_pooled_patch_range_equals_the_patch_maximum(torch_cls, kw, shape):
    from analogue.nn.conv import _Geometry
    from analogue.physics.periphery import dynamic_input_scale

    torch.manual_seed(0)
    m = type_map[torch_cls].from_float(torch_cls(8, 8, **kw), an.presets.standard())
    x = torch.randn(shape)
    if torch_cls is nn.Conv1d:  # the layer runs 1-d as 2-d with a height of 1
        x = x.unsqueeze(2)
    x4 = m._pad_channels_last(x)
    b, _, h, w = x4.shape
    (kh, kw_), (sh, sw), (dh, dw) = [(1, *v) if len(v) == 1 else v for v in (m.kernel_size, m.stride, m.dilation)]
    geo = _Geometry((kh, kw_), (sh, sw), (dh, dw), b, (h - dh * (kh - 1) - 1) // sh + 1,
                    (w - dw * (kw_ - 1) - 1) // sw + 1)
    assert torch.equal(m._patch_scale(x, geo), dynamic_input_scale(m._im2col(x4, geo)))


def test_conv_output_follows_the_input_memory_format_and_rejects_nan():
    torch.manual_seed(0)
    ref = nn.Conv2d(32, 8, 3, padding=1)
    m = an.AnalogConv2d.from_float(ref, an.presets.ideal())
    x = torch.randn(2, 32, 6, 6)
    y = m(x)
    assert y.is_contiguous()
    y_cl = m(x.contiguous(memory_format=torch.channels_last))
    assert y_cl.is_contiguous(memory_format=torch.channels_last) and not y_cl.is_contiguous()
    torch.testing.assert_close(y_cl, ref(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(y, ref(x), rtol=1e-4, atol=1e-5)
    x[1, 3, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        m(x)


@pytest.mark.parametrize("make, shape", [(lambda: nn.Linear(40, 13), (7, 40)),
                                         (lambda: nn.Conv2d(4, 6, 3, padding=1), (2, 4, 6, 6))])
def test_kept_dac_buffers_are_reused_only_when_free(make, shape):
    # training forwards keep their DAC codes for the backward in reused buffers: several forwards
    # before one backward must each keep their own, and later steps must not disturb the gradient
    torch.manual_seed(0)
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0})
    layer = type_map[type(make())].from_float(make(), cfg)
    xs = [torch.randn(shape, requires_grad=True) for _ in range(3)]

    def grads_of(parts):
        layer.zero_grad(set_to_none=True)
        for x in xs:
            x.grad = None
        sum((i + 1) * layer(x).sum() for i, x in parts).backward()
        return [layer.weight.grad.clone()] + [x.grad.clone() for i, x in parts]

    for perturb in (None, lambda w_n, _layer: w_n * 0.9):  # exact read; held weights kept too
        layer.set_weight_perturbation(perturb)
        separate = [grads_of([(i, x)]) for i, x in enumerate(xs)]
        expected = [sum(g[0] for g in separate)] + [g[1] for g in separate]
        for _ in range(3):  # repeated steps: the buffers get reused
            together = grads_of(list(enumerate(xs)))
            for a, b in zip(together, expected):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_reused_buffers_are_not_state_and_are_capped():
    torch.manual_seed(0)
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0})  # deterministic outputs
    layer = an.AnalogConv2d.from_float(nn.Conv2d(4, 6, 3, padding=1), cfg)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        y = layer(x)
    assert any(k in layer.__dict__ for k in layer.BUFFER_KEYS)
    assert {"_cols_scratch", "_y_scratch"} <= set(layer._reused_buffers())
    twin = copy.deepcopy(layer)
    assert not any(k in twin.__dict__ for k in layer.BUFFER_KEYS)  # deepcopy drops them
    assert not any("scratch" in k for k in layer.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(twin(x), y, rtol=0, atol=0)
    layer.release_buffers()
    assert not any(k in layer.__dict__ for k in layer.BUFFER_KEYS)
    layer.scratch_max_elems = 16  # above the cap every temporary is allocated per call
    with torch.no_grad():
        torch.testing.assert_close(layer(x), y, rtol=0, atol=0)
    assert not any(k in layer._reused_buffers() for k in ("_cols_scratch", "_pad_scratch", "_y_scratch"))


@pytest.mark.parametrize("policy", ["dynamic", "fixed"])
@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, groups=2, padding=1), dict(dilation=2, padding=2)])
@pytest.mark.parametrize("channels", [8, 64])  # strided-copy and per-offset im2col
def test_fused_conv_dac_equals_dac_after_im2col(policy, kw, channels):
    # the conv's DAC is applied while copying the patches; capturing inputs takes the unfused
    # route (im2col, then periphery.dac): both must give the same outputs, bit for bit
    torch.manual_seed(0)
    cfg = an.presets.standard().replace(**{"noise.out_std_rel_fs": 0.0, "dac.range_policy": policy,
                                            "dac.input_range": 1.5})
    layer = an.AnalogConv2d.from_float(nn.Conv2d(channels, 6, 3, **kw), cfg)
    x = torch.randn(2, channels, 9, 9)
    x[0, :, :3, :3] = 0.0  # all-zero patches
    with torch.no_grad():
        fused = layer(x)
        layer.set_input_capture([])
        unfused = layer(x)
        layer.set_input_capture(None)
    assert torch.equal(fused, unfused)
    # training forward (codes kept for the backward) matches too
    assert torch.equal(layer(x).detach(), fused)
    x[1, 0, 4, 4] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"), torch.no_grad():
        layer(x)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_accepts_non_contiguous_inputs(groups):
    torch.manual_seed(0)
    ref = nn.Conv2d(4, 6, 3, padding=1, groups=groups).double()
    layer = an.AnalogConv2d.from_float(ref, an.presets.ideal())
    base = torch.randn(2, 9, 18, 4, dtype=torch.float64)
    for x in (base.permute(0, 3, 1, 2)[:, :, :, ::2], base.permute(0, 3, 2, 1)[:, :, ::2]):
        assert not x.is_contiguous()
        torch.testing.assert_close(layer(x), ref(x))
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        layer(xa).sum().backward()
        ref(xb).sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad)


def test_dense_flat_and_strided_like_follow_memory_order():
    from analogue.nn.buffers import dense_flat, strided_like

    base = torch.arange(24.0).view(2, 3, 4)
    for perm in [(0, 1, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0)]:
        t = base.permute(perm)
        flat = dense_flat(t)
        assert flat is not None and torch.equal(flat, torch.arange(24.0))  # memory order
        buf = torch.zeros(30)
        like = strided_like(buf, t)
        assert like.stride() == t.stride()
        like.copy_(t)
        assert torch.equal(buf[:24], torch.arange(24.0))
    assert dense_flat(base.unsqueeze(1).transpose(0, 3)) is not None  # size-1 dims do not matter
    assert dense_flat(base[:, :2]) is None  # a gap in memory
    assert dense_flat(base.expand(2, 2, 3, 4)[0:1].squeeze(0)[:, ::2]) is None
    assert dense_flat(torch.zeros(4).expand(3, 4)) is None  # overlapping (stride 0)
    assert strided_like(None, base) is None and strided_like(torch.zeros(30), base[:, :2]) is None

"""an.compile on an MLP, ResNet-style CNNs and Hugging Face transformers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import analogue as an
from analogue import chips
from analogue.data.models import mlp, small_resnet, tiny_transformer_encoder
from analogue.nn import AnalogLayer

from .placement_checks import check_exact_placement, reference_macs


def test_mlp_layers_counts_and_placement():
    torch.manual_seed(0)
    model = mlp((784, 256, 128, 10))
    x = torch.randn(4, 784)
    prog = an.compile(model, x, chips.hermes())
    names = [lp.name for lp in prog.analog_layers]
    assert names == ["0", "2", "4"]
    for lp, lin in zip(prog.analog_layers, [model[0], model[2], model[4]]):
        assert (lp.rows, lp.cols, lp.groups) == (lin.in_features, lin.out_features, 1)
        assert lp.weight_shape == tuple(lin.weight.shape)
        assert lp.mvms_per_inference == 1  # per inference at batch 1, from a batch of 4
        assert lp.macs == lin.in_features * lin.out_features
    assert [lp.op for lp in prog.digital_layers] == ["relu", "relu"]
    assert [lp.stage for lp in prog.analog_layers] == [0, 1, 2]
    assert prog.batch_size == 4
    assert prog.analog_macs == reference_macs(model, x, batch=4)
    check_exact_placement(prog)


def test_counts_do_not_depend_on_example_batch():
    model = mlp((32, 16, 4))
    one = an.compile(model, torch.randn(1, 32), chips.hermes(), build_model=False)
    many = an.compile(model, torch.randn(8, 32), chips.hermes(), build_model=False)
    assert [lp.to_dict() for lp in one.layers] == [lp.to_dict() for lp in many.layers]


def test_resnet_convs_analog_rest_digital():
    torch.manual_seed(0)
    model = small_resnet(num_classes=10, width=16).eval()
    x = torch.randn(2, 3, 32, 32)
    prog = an.compile(model, x, chips.sram_cim())  # 8 cells per weight, 4 arrays per core
    convs = {n: m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert {lp.name for lp in prog.analog_layers} == set(convs)
    for lp in prog.analog_layers:
        m = convs[lp.name]
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            assert (lp.rows, lp.cols) == (m.in_channels * kh * kw, m.out_channels)
            assert lp.op == "conv2d"
            assert lp.mvms_per_inference * lp.cols == lp.output_elems  # positions x channels
    assert prog.layer("conv1").mvms_per_inference == 32 * 32
    assert prog.layer("layer2.0.conv1").mvms_per_inference == 16 * 16
    assert prog.layer("layer3.0.downsample.0").mvms_per_inference == 8 * 8
    digital_ops = {lp.op for lp in prog.digital_layers}
    assert {"batch_norm", "relu", "add", "pool"} <= digital_ops
    assert prog.analog_macs + prog.digital_macs == reference_macs(model, x, batch=2)
    # parallel branches share a pipeline stage: the shortcut conv and the block's first conv
    assert prog.layer("layer2.0.downsample.0").stage == prog.layer("layer2.0.conv1").stage
    check_exact_placement(prog)


def test_grouped_conv_packs_groups_diagonally():
    model = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.Conv2d(32, 64, 1))
    prog = an.compile(model, torch.randn(1, 32, 8, 8), chips.hermes(), build_model=False)
    dw = prog.layer("0")
    assert (dw.rows, dw.cols, dw.groups) == (9, 1, 32)
    assert dw.arrays == 2  # 256 // 9 = 28 groups per array
    check_exact_placement(prog)


def test_bert_linears_analog_attention_digital():
    torch.manual_seed(0)
    model = tiny_transformer_encoder(
        vocab_size=100,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        attn_implementation="eager",
    )
    ids = torch.randint(0, 100, (1, 12))
    prog = an.compile(
        model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, chips.hermes()
    )
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    assert {lp.name for lp in prog.analog_layers} == set(linears)
    for lp in prog.analog_layers:
        assert (lp.rows, lp.cols) == (linears[lp.name].in_features, linears[lp.name].out_features)
        assert lp.mvms_per_inference == (1 if lp.name == "pooler.dense" else 12)
    ops = [lp.op for lp in prog.digital_layers]
    assert ops.count("softmax") == 2 and ops.count("matmul") == 4  # QK^T and AV per layer
    assert {"embedding", "layer_norm", "gelu"} <= set(ops)
    qk = [lp for lp in prog.digital_layers if lp.op == "matmul"]
    assert all(lp.macs == 12 * 12 * 32 for lp in qk)  # heads x L x L x head_dim
    # q, k, v projections run in parallel in one stage
    st = {
        lp.stage
        for lp in prog.analog_layers
        if ".attention.self." in lp.name and "layer.0" in lp.name
    }
    assert len(st) == 1
    assert prog.analog_macs + prog.digital_macs == reference_macs(
        model, {"input_ids": ids}, batch=1
    )
    check_exact_placement(prog)


def test_bert_fused_attention_counted():
    model = tiny_transformer_encoder(
        vocab_size=100,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        intermediate_size=64,
        attn_implementation="sdpa",
    )
    prog = an.compile(model, torch.randint(0, 100, (1, 10)), chips.hermes(), build_model=False)
    att = [lp for lp in prog.digital_layers if lp.op == "attention"]
    assert len(att) == 1 and att[0].macs == 2 * 10 * 10 * 2 * 16


def test_gpt2_conv1d_mapped_and_converted():
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    cfg = GPT2Config(
        n_embd=32,
        n_layer=1,
        n_head=2,
        vocab_size=100,
        n_positions=32,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2Model(cfg).eval()
    ids = torch.randint(0, 100, (1, 8))
    prog = an.compile(model, ids, chips.hermes(), cfg=an.presets.ideal())
    assert {lp.name for lp in prog.analog_layers} == {
        "h.0.attn.c_attn",
        "h.0.attn.c_proj",
        "h.0.mlp.c_fc",
        "h.0.mlp.c_proj",
    }
    assert prog.layer("h.0.attn.c_attn").cols == 96
    assert set(an.analog_layers(prog.model)) == {lp.name for lp in prog.analog_layers}
    with torch.no_grad():
        ref = model(ids).last_hidden_state
        out = prog.model(ids).last_hidden_state
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_executable_model_ideal_equals_torch_and_chip_config():
    torch.manual_seed(0)
    model = small_resnet(width=8).eval()
    x = torch.randn(2, 3, 32, 32)
    prog = an.compile(model, x, chips.hermes(), cfg=an.presets.ideal())
    assert prog.model is not model
    assert not any(isinstance(m, AnalogLayer) for m in model.modules())  # input untouched
    with torch.no_grad():
        torch.testing.assert_close(prog.model(x), model(x), rtol=1e-4, atol=1e-5)
    default = an.compile(model, x, chips.neurram(), build_model=True)
    layers = an.analog_layers(default.model)
    assert set(layers) == {lp.name for lp in default.analog_layers}
    for layer in layers.values():
        assert (layer.cfg.tile.rows, layer.cfg.tile.cols) == (256, 256)
        assert (layer.cfg.dac.bits, layer.cfg.adc.bits) == (1, 3)  # neurram 3b out / 1b in


def test_rules_keep_layers_digital():
    model = small_resnet(width=8).eval()
    x = torch.randn(1, 3, 32, 32)
    prog = an.compile(model, x, chips.hermes(), rules={"fc": None, "re:layer1\\..*": None})
    fc = prog.layer("fc")
    assert fc.placement == "digital" and fc.reason == "rules" and fc.arrays == 0
    assert fc.macs == 32 * 10 and fc.digital_ops == 2 * fc.macs
    assert prog.layer("layer1.0.conv1").placement == "digital"
    assert prog.layer("layer2.0.conv1").placement == "analog"
    assert isinstance(prog.model.fc, nn.Linear) and not isinstance(prog.model.fc, AnalogLayer)
    assert "fc" not in prog.placement
    with pytest.raises(ValueError, match="did you mean 'fc'"):
        an.compile(model, x, chips.hermes(), rules={"fcc": None})


def test_shared_weight_placed_once():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(32, 32)

        def forward(self, x):
            return self.fc(torch.relu(self.fc(x)))

    prog = an.compile(Twice(), torch.randn(1, 32), chips.hermes(), build_model=False)
    (lp,) = prog.analog_layers
    assert lp.name == "fc" and lp.arrays == 1
    assert lp.mvms_per_inference == 2 and lp.macs == 2 * 32 * 32
    check_exact_placement(prog)


def test_raw_parameter_matmul_is_analog_but_noted():
    class Proj(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.W = nn.Parameter(torch.randn(64, 300))

        def forward(self, x):
            return torch.tanh(x @ self.W)

    prog = an.compile(Proj(), torch.randn(5, 64), chips.hermes())
    (lp,) = prog.analog_layers
    assert (lp.name, lp.op, lp.rows, lp.cols, lp.arrays) == ("W", "matmul", 64, 300, 2)
    assert any("run digitally in the executable model" in n for n in prog.notes)


def test_all_digital_chip():
    model = mlp((64, 32, 8))
    x = torch.randn(1, 64)
    prog = an.compile(model, x, chips.gpu_a100())
    assert prog.analog_layers == [] and prog.placement == {} and prog.activation_bits_moved == 0
    assert prog.digital_macs == reference_macs(model, x, batch=1)
    assert all("no arrays" in lp.reason for lp in prog.digital_layers if lp.op == "linear")
    with torch.no_grad():
        torch.testing.assert_close(prog.model(x), model(x))


def test_compile_accepts_preset_name_and_rejects_non_module():
    prog = an.compile(mlp((8, 4)), torch.randn(1, 8), "mythic_m1076", build_model=False)
    assert prog.chip.name == "mythic-m1076"
    with pytest.raises(TypeError, match="nn.Module"):
        an.compile(lambda x: x, torch.randn(1, 8), chips.hermes())


@pytest.mark.parametrize("make", [lambda: nn.Linear(12, 5), lambda: nn.Conv2d(3, 4, 3)], ids=["linear", "conv2d"])
def test_bare_layer_compiles_and_its_executable_is_the_twin(make):
    torch.manual_seed(0)
    layer = make().eval()
    x = torch.randn(2, 12) if isinstance(layer, nn.Linear) else torch.randn(2, 3, 6, 6)
    prog = an.compile(layer, x, chips.hermes(), cfg=an.presets.ideal())
    assert len(prog.analog_layers) == 1 and not any("run digitally" in n for n in prog.notes)
    assert isinstance(prog.model, an.AnalogLayer) and prog.model.weight is not layer.weight
    with torch.no_grad():
        torch.testing.assert_close(prog.model(x), layer(x), rtol=1e-5, atol=1e-5)
    again = an.compile(prog.model, x, chips.hermes())  # an analog bare layer too (compiled as it is)
    assert isinstance(again.model, an.AnalogLayer) and len(again.analog_layers) == 1


def test_zero_row_example_fails_early():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ValueError, match=r"compile: example_inputs has 0 rows .*\(0, 4\).*at least one example"):
        an.compile(model, torch.randn(0, 4))
    with pytest.raises(ValueError, match="0 rows"):
        an.compile(model, {"input": torch.randn(0, 4)})

"""CompiledModel: summary, JSON round trip, occupancy plot, the `analogue map` command."""

from __future__ import annotations

import json

import pytest
import torch

import analogue as an
from analogue import chips
from analogue.cli import main
from analogue.compile import Block, CompiledModel
from analogue.data.models import mlp, small_resnet


@pytest.fixture(scope="module")
def program():
    return an.compile(
        small_resnet(width=8).eval(), torch.randn(1, 3, 32, 32), chips.sram_cim(), replicate=True
    )


def test_summary_lists_every_analog_layer(program):
    text = program.summary()
    assert text.startswith("Program on sram-cim: 16 cores x 4 arrays of 256x256 cells")
    for lp in program.analog_layers:
        assert lp.name in text
    assert f"arrays used {program.arrays_used}/64" in text
    assert "why digital" in text and "totals:" in text
    assert len(program.summary(max_digital=None).splitlines()) > len(
        program.summary(max_digital=2).splitlines()
    )


def test_json_round_trip(program, tmp_path):
    text = program.to_json(tmp_path / "p.json")
    back = CompiledModel.from_json(text)
    assert back.model is None and program.model is not None
    assert back.to_dict() == program.to_dict()
    assert back.chip == program.chip
    assert back.layers == program.layers
    assert all(isinstance(b, Block) for blocks in back.placement.values() for b in blocks)
    assert CompiledModel.from_json(str(tmp_path / "p.json")).to_dict() == program.to_dict()
    data = json.loads(text)
    data["version"] = 99
    with pytest.raises(ValueError, match="version"):
        CompiledModel.from_json(json.dumps(data))


def test_occupancy_plot(program, tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "occ.png"
    fig = program.plot_occupancy(path)
    assert path.stat().st_size > 1000
    heights = sum(p.get_height() for p in fig.axes[0].patches)
    cells = sum(b.cells for blocks in program.placement.values() for b in blocks)
    assert heights == pytest.approx(cells / (256 * 256))
    plt.close(fig)


def test_cli_map_writes_program(tmp_path, capsys):
    out = tmp_path / "mlp.json"
    rc = main(
        [
            "map",
            "analogue.data.models:mlp",
            "--input-shape",
            "1,784",
            "--chip",
            "hermes",
            "--json",
            str(out),
            "--digital",
            "4",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Program on hermes" in printed
    prog = CompiledModel.from_json(out.read_text())
    assert [lp.name for lp in prog.analog_layers] == ["0", "2"]
    assert prog.layer("4").reason == "rules"


def test_cli_map_reports_capacity(capsys):
    rc = main(
        [
            "map",
            "analogue.data.models:mlp",
            "--input-shape",
            "1,4096",
            "--chip",
            "neurram",
            "--kwargs",
            '{"sizes": [4096, 4096]}',
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "needs 512 arrays" in err and "has 48" in err  # 16 row blocks x 32 column blocks
    rc = main(["map", "analogue.data.models:nothing", "--input-shape", "1,4"])
    assert rc == 2 and "no callable 'nothing'" in capsys.readouterr().err


def test_cli_map_token_inputs(capsys):
    rc = main(
        [
            "map",
            "analogue.data.models:tiny_transformer_encoder",
            "--input-shape",
            "1,8",
            "--input-dtype",
            "int64",
            "--int-high",
            "50",
            "--kwargs",
            '{"vocab_size": 50, "hidden_size": 32, "num_layers": 1, "num_heads": 2,'
            ' "intermediate_size": 64}',
        ]
    )
    assert rc == 0
    assert "encoder.layer.0.attention.self.query" in capsys.readouterr().out


def test_program_queries():
    prog = an.compile(mlp((64, 32, 8)), torch.randn(1, 64), chips.hermes(), build_model=False)
    assert prog.layer("0").placement == "analog"
    with pytest.raises(KeyError):
        prog.layer("nope")
    assert prog.n_stages == 2 and prog.arrays_used == 2
    assert prog.core_occupancy() == [[1, 1] + [0] * 62]


def test_from_json_refuses_what_is_not_a_program(program, tmp_path):
    path = tmp_path / "p.json"
    program.to_json(path)
    assert CompiledModel.from_json(path).to_dict() == program.to_dict()  # a Path, not only a str
    with pytest.raises(FileNotFoundError, match="no such file .*missing.json"):
        CompiledModel.from_json(tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        CompiledModel.from_json(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="missing field 'chip'"):
        CompiledModel.from_json('{"version": 1}')
    with pytest.raises(ValueError, match="expected a JSON object .*got list"):
        CompiledModel.from_json("[1, 2]")
    with pytest.raises(ValueError, match="not JSON"):
        CompiledModel.from_json("program, please")
    with pytest.raises(TypeError, match="JSON text or a path"):
        CompiledModel.from_json(b"{}")
    data = program.to_dict()
    name = data["layers"][0]["name"]
    data["layers"][0]["macs"] = -5
    with pytest.raises(ValueError, match=f"layer '{name}': macs must be an integer >= 0, got -5"):
        CompiledModel.from_dict(data)
    data = program.to_dict()
    del data["layers"][1]["rows"]
    with pytest.raises(ValueError, match="missing field 'rows'"):
        CompiledModel.from_dict(data)
    data = program.to_dict()
    data["placement"][name] = [[0, 0]]
    with pytest.raises(ValueError, match=r"placement\[.*blocks of 11 integers"):
        CompiledModel.from_dict(data)
    data = program.to_dict()
    data["activation_bits_moved"] = -1
    with pytest.raises(ValueError, match="activation_bits_moved must be an integer >= 0"):
        CompiledModel.from_dict(data)

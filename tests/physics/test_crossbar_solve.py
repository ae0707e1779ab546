"""The exact IR-drop solve (analogue.physics.crossbar.solve / Crossbar) against oracles: a nodal
solve written here element by element from the topology, ngspice, the ideal sum at r = 0."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from analogue._util.validate import ConfigError
from analogue.physics.crossbar import Crossbar, solve


def _reference(G: np.ndarray, v: np.ndarray, r_row: float, r_col: float) -> np.ndarray:
    """Modified nodal analysis, stamped resistor by resistor from the issue's description.
    Nodes: row node (i, j) -> i*cols + j; column node (i, j) -> n + i*cols + j. Drivers are ideal
    voltage sources (their node eliminated: a stamp to a known voltage goes to the right-hand side);
    the sense nodes are at 0 V. ``v``: (batch, rows). Returns the column currents (batch, cols)."""
    rows, cols = G.shape
    n = rows * cols
    K = sp.lil_matrix((2 * n, 2 * n))
    B = sp.lil_matrix((2 * n, rows))  # right-hand side per input volt

    def stamp(a, b, g):  # a resistor of conductance g between unknown nodes a and b
        K[a, a] += g
        K[b, b] += g
        K[a, b] -= g
        K[b, a] -= g

    R = lambda i, j: i * cols + j
    C = lambda i, j: n + i * cols + j
    for i in range(rows):
        K[R(i, 0), R(i, 0)] += 1 / r_row  # the driver segment from source i
        B[R(i, 0), i] += 1 / r_row
        for j in range(cols - 1):
            stamp(R(i, j), R(i, j + 1), 1 / r_row)
        for j in range(cols):
            if G[i, j] > 0:
                stamp(R(i, j), C(i, j), G[i, j])
    for j in range(cols):
        for i in range(rows - 1):
            stamp(C(i, j), C(i + 1, j), 1 / r_col)
        K[C(rows - 1, j), C(rows - 1, j)] += 1 / r_col  # the segment to the sense node (0 V)
    x = spla.spsolve(K.tocsc(), (B @ v.T))
    x = np.asarray(x).reshape(2 * n, -1)
    return (x[[C(rows - 1, j) for j in range(cols)]] / r_col).T


def _array(rows, cols, seed, g_lo=1e-6, g_hi=25e-6):
    gen = torch.Generator().manual_seed(seed)
    G = g_lo + (g_hi - g_lo) * torch.rand(rows, cols, generator=gen, dtype=torch.float64)
    return G


@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 7), (9, 1), (5, 3), (16, 8), (33, 20), (64, 64)])
@pytest.mark.parametrize("r_row,r_col", [(1.0, 5.0), (0.3, 0.05), (20.0, 2.0), (2.0, 20.0)])
def test_matches_independent_nodal_solve(rows, cols, r_row, r_col):
    G = _array(rows, cols, seed=rows * 100 + cols)
    gen = torch.Generator().manual_seed(7)
    v = 0.2 * torch.rand(4, rows, generator=gen, dtype=torch.float64) - 0.05  # both signs
    got = solve(G, v, r_row, r_col).numpy()
    ref = _reference(G.numpy(), v.numpy(), r_row, r_col)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9 * scale)
    # and IR drop is visible at all (the test could fail on a solver ignoring the wires)
    if rows * cols >= 64:
        assert np.abs(got - (v @ G).numpy()).max() > 1e-4 * scale


@pytest.mark.parametrize("r_row,r_col", [(1e5, 1e3), (1e3, 1e5)])
def test_very_resistive_wires(r_row, r_col):
    """r * G far above 1 (the row ladders' pivots grow as exp(cols)): still the nodal solution."""
    G = _array(20, 64, seed=8)
    v = torch.rand(2, 20, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    got = solve(G, v, r_row, r_col).numpy()
    ref = _reference(G.numpy(), v.numpy(), r_row, r_col)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12 * np.abs(ref).max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_on_gpu_matches_cpu():
    G = _array(48, 40, seed=9)
    v = torch.rand(5, 48, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    cpu = Crossbar(G, 1.0, 5.0)
    gpu = Crossbar(G.cuda(), 1.0, 5.0)
    assert gpu.effective_G_S.is_cuda
    torch.testing.assert_close(gpu.solve(v.cuda()).cpu(), cpu.solve(v), rtol=1e-12, atol=0)


def test_zero_conductance_cells_and_rows():
    G = _array(12, 10, seed=3)
    G[3] = 0.0  # an empty row
    G[:, 4] = 0.0  # an empty column
    G[7, 2] = 0.0
    v = torch.linspace(-0.2, 0.2, 12, dtype=torch.float64)[None]
    got = solve(G, v, 1.5, 4.0)
    ref = _reference(G.numpy(), v.numpy(), 1.5, 4.0)
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    assert got[0, 4] == 0.0


def test_zero_resistance_is_the_ideal_sum_exactly():
    G = _array(40, 24, seed=11)
    v = torch.rand(5, 40, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    xb = Crossbar(G, 0.0, 0.0)
    assert torch.equal(xb.effective_G_S, G)
    torch.testing.assert_close(xb.solve(v), v @ G, rtol=0, atol=0)


@pytest.mark.parametrize("r_row,r_col", [(0.0, 3.0), (3.0, 0.0)])
def test_one_ideal_wire(r_row, r_col):
    """One wire ideal: the other ladder alone, against the reference with a tiny resistance in
    place of zero (the reference's error is first order in it)."""
    G = _array(20, 15, seed=5)
    v = torch.rand(3, 20, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = solve(G, v, r_row, r_col).numpy()
    ref = _reference(G.numpy(), v.numpy(), r_row or 1e-7, r_col or 1e-7)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7 * np.abs(ref).max())


def test_small_resistance_converges_to_the_ideal_sum():
    """r -> 0 is continuous: the error falls in proportion to r (first order) down to 1e-9 ohm."""
    G = _array(64, 64, seed=13)
    v = torch.rand(4, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ideal = v @ G
    errs = []
    for r in (1e-3, 1e-6, 1e-9):
        errs.append(float((solve(G, v, r, r) - ideal).abs().max() / ideal.abs().max()))
    assert errs[0] < 1e-2
    for a, b in zip(errs, errs[1:]):
        assert b < 2e-3 * a  # three decades of r, at least ~2.7 decades of error
    assert errs[-1] < 1e-8


@pytest.mark.parametrize("r_row,r_col", [(1.0, 5.0), (5.0, 1.0), (0.1, 0.1), (0.0, 2.0), (2.0, 0.0)])
def test_ir_drop_never_raises_a_column_current(r_row, r_col):
    torch.manual_seed(0)
    for seed in range(4):
        gen = torch.Generator().manual_seed(seed)
        G = 25e-6 * torch.rand(48, 40, generator=gen, dtype=torch.float64)
        v = 0.3 * torch.rand(8, 48, generator=gen, dtype=torch.float64)
        v[0] = 0.3  # all rows at max
        got = solve(G, v, r_row, r_col)
        ideal = v @ G
        assert (got >= 0).all()
        assert (got <= ideal * (1 + 1e-12)).all()
        assert (got < ideal).any()


def test_batch_equals_per_vector_solves():
    G = _array(30, 17, seed=21)
    v = torch.randn(6, 30, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    xb = Crossbar(G, 1.0, 5.0)
    batch = xb.solve(v)
    assert batch.shape == (6, 17) and batch.dtype == torch.float64
    for b in range(6):
        one = xb.solve(v[b])
        assert one.shape == (17,)
        torch.testing.assert_close(batch[b], one, rtol=1e-13, atol=0)
        torch.testing.assert_close(one, solve(G, v[b], 1.0, 5.0), rtol=0, atol=0)


def test_float32_inputs_and_gradient():
    G = _array(8, 6, seed=2).float()
    v = torch.rand(3, 8, requires_grad=True)
    out = Crossbar(G, 1.0, 5.0).solve(v)
    assert out.dtype == torch.float64
    out.sum().backward()
    xb64 = Crossbar(G.double(), 1.0, 5.0)
    torch.testing.assert_close(v.grad.double(), xb64.effective_G_S.sum(1).expand(3, 8))


@pytest.mark.parametrize("call,match", [
    (lambda: solve(torch.ones(3, 3), torch.ones(3), -1.0, 1.0), "r_row_ohm"),
    (lambda: solve(torch.ones(3, 3), torch.ones(3), 1.0, float("nan")), "r_col_ohm"),
    (lambda: solve(torch.ones(3, 3), torch.ones(3), 1.0, "5"), "r_col_ohm"),
    (lambda: solve(-torch.ones(3, 3), torch.ones(3), 1.0, 1.0), "G_S must be >= 0"),
    (lambda: solve(torch.ones(3), torch.ones(3), 1.0, 1.0), "G_S must be a 2-D"),
    (lambda: solve(torch.ones(0, 3), torch.ones(0), 1.0, 1.0), "G_S must be a 2-D"),
    (lambda: solve(np.ones((3, 3)), torch.ones(3), 1.0, 1.0), "G_S must be a torch.Tensor"),
    (lambda: solve(torch.ones(3, 3, dtype=torch.int64), torch.ones(3), 1.0, 1.0), "floating"),
    (lambda: solve(torch.full((3, 3), float("inf")), torch.ones(3), 1.0, 1.0), "G_S must be finite"),
    (lambda: solve(torch.ones(3, 3), torch.ones(4), 1.0, 1.0), r"v_in_V must have shape \(3,\)"),
    (lambda: solve(torch.ones(3, 3), torch.ones(2, 2, 3), 1.0, 1.0), "v_in_V must have shape"),
    (lambda: solve(torch.ones(3, 3), torch.tensor([1.0, float("nan"), 0.0]), 1.0, 1.0), "finite"),
    (lambda: solve(torch.ones(3, 3), [1.0, 1.0, 1.0], 1.0, 1.0), "v_in_V must be a torch.Tensor"),
])
def test_bad_inputs_raise(call, match):
    with pytest.raises(ConfigError, match=match) as e:
        call()
    assert "\n" not in str(e.value)


# ---- ngspice ---------------------------------------------------------------------------------

NGSPICE = shutil.which("ngspice")
needs_ngspice = pytest.mark.skipif(
    NGSPICE is None, reason="ngspice not on PATH: install it (Debian: apt-get install ngspice) to "
                            "run the SPICE comparison; CI installs it in .ci/run")


def _spice_currents(G: np.ndarray, v: np.ndarray, r_row: float, r_col: float, tmp_path) -> np.ndarray:
    """The column currents from an ngspice .op of the netlist written from the topology: each
    column's sense node is a 0 V source (virtual ground) whose current is printed."""
    rows, cols = G.shape
    lines = ["* crossbar IR drop"]
    for i in range(rows):
        lines.append(f"VIN{i} in{i} 0 DC {v[i]:.17g}")
        lines.append(f"RD{i} in{i} r{i}_0 {r_row:.17g}")
        for j in range(cols - 1):
            lines.append(f"RR{i}_{j} r{i}_{j} r{i}_{j + 1} {r_row:.17g}")
        for j in range(cols):
            lines.append(f"RX{i}_{j} r{i}_{j} c{i}_{j} {1.0 / G[i, j]:.17g}")
    for j in range(cols):
        for i in range(rows - 1):
            lines.append(f"RC{i}_{j} c{i}_{j} c{i + 1}_{j} {r_col:.17g}")
        lines.append(f"RS{j} c{rows - 1}_{j} s{j} {r_col:.17g}")
        lines.append(f"VS{j} s{j} 0 DC 0")  # the sense amplifier's virtual ground
    lines += [".options reltol=1e-9 abstol=1e-18 vntol=1e-12 gmin=1e-30", ".control",
              "set numdgt=12", "op"]
    lines += [f"print i(vs{j})" for j in range(cols)]
    lines += [".endc", ".end"]
    net = tmp_path / "xbar.cir"
    net.write_text("\n".join(lines) + "\n")
    res = subprocess.run([NGSPICE, "-b", str(net)], capture_output=True, text=True, timeout=300)
    # (batch mode exits 1 with "no simulations run" when the analysis runs from .control)
    assert "rror" not in res.stdout + res.stderr, res.stdout[-2000:] + res.stderr[-2000:]
    found = dict(re.findall(r"i\(vs(\d+)\)\s*=\s*([-+0-9.eE]+)", res.stdout))
    assert len(found) == cols, res.stdout[-2000:] + res.stderr[-2000:]
    # a source's current is positive flowing into its + terminal: the column current flows in
    return np.array([float(found[str(j)]) for j in range(cols)])


@needs_ngspice
@pytest.mark.parametrize("rows,cols", [(16, 8), (32, 32)])
@pytest.mark.parametrize("r_row,r_col", [(0.5, 0.5), (1.5, 5.0), (10.0, 10.0)])
def test_matches_ngspice(rows, cols, r_row, r_col, tmp_path):
    """Agreement within 0.1 % of full scale, full scale = the ideal current of a column with all
    inputs at the maximum voltage (0.2 V) and all cells at g_max (25 uS): rows * 0.2 V * 25 uS."""
    gen = torch.Generator().manual_seed(rows + cols)
    G = 1e-6 + 24e-6 * torch.rand(rows, cols, generator=gen, dtype=torch.float64)
    v = 0.2 * torch.rand(rows, generator=gen, dtype=torch.float64)
    got = solve(G, v, r_row, r_col).numpy()
    ref = _spice_currents(G.numpy(), v.numpy(), r_row, r_col, tmp_path)
    full_scale = rows * 0.2 * 25e-6
    err = np.abs(got - ref).max()
    assert err <= 1e-3 * full_scale  # the criterion (measured: below 1e-13 of full scale)
    # with teeth at every size and resistance: within a millionth of the IR drop itself (ngspice
    # prints 12 digits), so an ideal sum or a wrong topology fails
    assert err <= 1e-6 * np.abs((v @ G).numpy() - ref).max()

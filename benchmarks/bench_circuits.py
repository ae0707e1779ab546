"""How fast is the exact IR-drop solve (``an.physics.crossbar.Crossbar``)?

Target (issue 15): a 256x256 array of 1-25 uS cells with 1 ohm row and 5 ohm column wire
segments: set-up <= 1 s once, then 64 input vectors solved exactly in <= 0.1 s.

    python benchmarks/bench_circuits.py [--sizes 64 128 256 512] [--batch 64]

Prints a markdown table, per array size, side by side in one run:
- ``Crossbar``: the set-up (the exact effective conductances by block elimination), then the
  batch (one matmul);
- ``spsolve``: a plain ``scipy.sparse.linalg.spsolve`` of the same nodal matrix (2*rows*cols
  unknowns, all right-hand sides in one call: it factorises every call; the naive baseline);
- ``splu``: ``scipy.sparse.linalg.splu`` of the nodal matrix once (COLAMD ordering, the issue's
  measurement), then a solve of the batch;
and the largest difference between ``Crossbar`` and ``spsolve`` as a fraction of full scale (the
ideal current of a column with all inputs at 0.2 V and all cells at 25 uS).

    python benchmarks/bench_circuits.py --programmed [--batch 256]

IR drop on a programmed layer (target: <= 1.2x the same layer without): a 1024x1024
``AnalogLinear`` on 256x256 tiles (``presets.standard()``), 1.5 ohm row / 5 ohm column segments
against ideal wires: ``an.program_`` time (the effective conductances of the 32 G+/G- arrays,
once) and the eval forward (batch 256, no_grad), alternately, best of 7.

    python benchmarks/bench_circuits.py --fast [--sizes 64 128 256 512 1024] [--exact-max 1024]
        [--wires 0.5 1.5/5 2.8]

The fast models (``physics.irdrop.first_order_conductance``, ``fast_conductance`` with 1 and 3
iterations) against the exact effective conductances, per array size and wire pair (1-25 uS
cells uniform at random): the largest column error over every input vector with ``|v_i| <=
v_read`` (``max_j sum_i |G_fast - G_exact|_ij``, "worst"), and its mean over the columns
(``mean_j sum_i |G_fast - G_exact|_ij``, "mean"), in % of full scale (``rows * 25 uS``), next to
the IR drop itself (exact against ideal, same measures), and the time of each model. Sizes above
``--exact-max`` time the fast models only (the exact set-up grows as ``rows * cols^3``: minutes at
1024x1024 on a CPU). ``--wires``: the wire pairs, ohm per segment, ``R`` (row and column) or
``ROW/COL`` (default: 0.5, 1, 2, 5, 1.5/5).

    python benchmarks/bench_circuits.py --training [--batch 256]

HWA training and inference with the fast model (``circuit`` 1.5 / 5 ohm) against ideal wires, side
by side, alternately, median of 7 (wall and process CPU time), the model on every training read
(``fast_refresh_reads=1``, the default) and with its drop factors held for 16 reads
(``fast_refresh_reads=16``; eval reads of an unchanged weight hold them either way): a 1024x1024
``AnalogLinear`` on 256x256 tiles
(``presets.pcm()``, ``HWAOptions(device_noise_scale=1)``), one step = forward, backward, Adam
step, batch 256; the eval forward of the same unprogrammed layer (no_grad); and the digits CNN
(``presets.pcm(rows=64, cols=64)``, batch 256 of 8x8 images), both. Target (issue 15): training
<= 1.3x. ``--threads N``: torch threads (default: torch's).

    python benchmarks/bench_circuits.py --reference

Which measure gives the published rule-of-thumb figure (docs/references.md section 5: "256x256,
100 kohm cells, 1 ohm wires: 19 % exact"): the shortfall of the column currents below the ideal
sum for drive/sense at one or both ends (a SciPy LU of the nodal matrix; ``Crossbar`` for the
one-end case), every input at full scale and random inputs, worst and mean (docs/circuits.md).

``--device cuda`` (every mode except ``--reference``): the torch work (``Crossbar`` set-up and solve, the exact and fast
IR-drop models, the layers, the CNN and their inputs) runs there, each timing ending with the device
synchronised; the same inputs are drawn on the CPU first. The ``spsolve``/``splu`` baselines are
scipy (CPU only): they run on the CPU copies. The process CPU-time ratio of ``--training`` counts
only the host's share on a GPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from analogue.physics.crossbar import Crossbar
from analogue.physics.irdrop import effective_conductance, fast_conductance, first_order_conductance

sys.path.insert(0, os.path.dirname(__file__))
from common import add_device_argument, md_table, on_device, resolve_device  # noqa: E402

V_MAX = 0.2
G_MIN, G_MAX = 1e-6, 25e-6


def nodal(G: np.ndarray, r_row: float, r_col: float, drive: str = "one end",
          sense: str = "one end") -> tuple[sp.csc_matrix, sp.csr_matrix]:
    """The nodal matrix ``K`` (row nodes then column nodes, row-major) and the input map ``B``
    (``K x = B v``); column current ``j`` is ``x[C(rows-1, j)] / r_col``. ``drive="both ends"``:
    each row also driven at its far end (through one more segment); ``sense="both ends"``: each
    column also sensed at its top end (then the column current is the sum of the two ends')."""
    rows, cols = G.shape
    n = rows * cols
    idx = np.arange(n).reshape(rows, cols)
    gr, gc = 1.0 / r_row, 1.0 / r_col
    i_, j_, w_ = [], [], []

    def edge(a, b, g):
        a, b, g = a.ravel(), b.ravel(), np.broadcast_to(g, a.shape).ravel()
        i_.extend([a, b, a, b])
        j_.extend([a, b, b, a])
        w_.extend([g, g, -g, -g])

    edge(idx[:, :-1], idx[:, 1:], gr)  # row segments
    edge(idx, n + idx, G)  # cells
    edge(n + idx[:-1], n + idx[1:], gc)  # column segments
    driven = [idx[:, 0]] + ([idx[:, -1]] if drive == "both ends" else [])
    sensed = [n + idx[-1]] + ([n + idx[0]] if sense == "both ends" else [])
    ground = np.concatenate(driven + sensed)  # driver and sense segments
    i_.append(ground)
    j_.append(ground)
    w_.append(np.concatenate([np.full(rows * len(driven), gr), np.full(cols * len(sensed), gc)]))
    K = sp.csc_matrix((np.concatenate(w_), (np.concatenate(i_), np.concatenate(j_))), shape=(2 * n, 2 * n))
    B = sp.csr_matrix((np.full(rows * len(driven), gr), (np.concatenate(driven), np.tile(np.arange(rows), len(driven)))),
                      shape=(2 * n, rows))
    return K, B


def reference_figure(size: int = 256, g_S: float = 1e-5, r_ohm: float = 1.0, draws: int = 64) -> None:
    """Which measure gives docs/references.md's "256x256, 100 kohm cells, 1 ohm wires: 19 %
    exact": the column-current shortfall below the ideal sum, per topology (drive at one or both
    ends of the rows, sense at one or both ends of the columns; a SciPy LU of the nodal matrix,
    the one-end/one-end case also with ``Crossbar``), with every input at full scale (worst and
    mean column) and with ``draws`` input vectors uniform in [0, full scale] (worst column and
    vector; mean), in % of full scale (the ideal current of a column with every input at full
    scale), next to the rule of thumb ``G (r_col m^2 + r_row n^2) / 3``."""
    G = np.full((size, size), g_S)
    v = np.vstack([np.ones(size), np.random.default_rng(0).uniform(0.0, 1.0, (draws, size))])
    fs = size * g_S
    rows_out = []
    for drive, sense in (("one end", "one end"), ("both ends", "one end"), ("one end", "both ends"),
                         ("both ends", "both ends")):
        K, B = nodal(G, r_ohm, r_ohm, drive, sense)
        t0 = time.perf_counter()
        x = spla.splu(K).solve(np.asarray(B @ v.T))
        n = size * size
        i_col = (g_S * (x[:n] - x[n:])).reshape(size, size, -1).sum(0).T  # the cells' currents, per column
        lost = (v @ G - i_col) / fs
        row = {"drive / sense": f"{drive} / {sense}", "all on: worst column %": 100 * lost[0].max(),
               "all on: mean column %": 100 * lost[0].mean(),
               f"random inputs ({draws}): worst %": 100 * lost[1:].max(),
               "random inputs: mean %": 100 * lost[1:].mean(), "LU s": time.perf_counter() - t0}
        if (drive, sense) == ("one end", "one end"):
            exact = torch.from_numpy(G) - Crossbar(torch.from_numpy(G), r_ohm, r_ohm).effective_G_S
            row["|Crossbar - LU| % FS"] = f"{100 * np.abs(v @ exact.numpy() / fs - lost).max():.1e}"
        rows_out.append(row)
    for row in rows_out:
        row.setdefault("|Crossbar - LU| % FS", "-")
    print(f"\n{size}x{size} cells of {g_S * 1e6:g} uS, {r_ohm} ohm row and column segments; rule of thumb "
          f"G (r m^2 + r n^2) / 3 = {100 * g_S * 2 * r_ohm * size * size / 3:.1f} %\n")
    print(md_table(rows_out))


CPU = torch.device("cpu")


def best(fn, repeats: int, dev: torch.device = CPU) -> tuple[float, object]:
    fn = on_device(fn, dev)
    t_best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def programmed(batch: int, r_row: float, r_col: float, repeats: int = 7, dev: torch.device = CPU) -> None:
    import analogue as an

    torch.manual_seed(0)
    base = an.presets.standard()
    layers, prog = {}, {}
    for name, (rr, rc) in (("ideal wires", (0.0, 0.0)), ("IR drop", (r_row, r_col))):
        cfg = base.replace(**{"circuit.r_row_ohm": rr, "circuit.r_col_ohm": rc})
        torch.manual_seed(0)
        layer = an.AnalogLinear(1024, 1024, cfg=cfg).to(dev)
        prog[name], _ = best(lambda layer=layer: an.program_(layer, seed=1), 1, dev)
        layers[name] = layer.eval()
    x = torch.randn(batch, 1024, generator=torch.Generator().manual_seed(2)).to(dev)
    fwd = {name: float("inf") for name in layers}
    with torch.no_grad():
        for layer in layers.values():
            layer(x)  # warm-up
        for _ in range(repeats):  # alternately
            for name, layer in layers.items():
                t, _ = best(lambda layer=layer: layer(x), 1, dev)
                fwd[name] = min(fwd[name], t)
    rows = [{"1024x1024 AnalogLinear, 256x256 tiles": name, "an.program_ s": prog[name],
             f"forward batch {batch} ms": 1e3 * fwd[name],
             "forward / ideal wires": fwd[name] / fwd["ideal wires"]} for name in layers]
    print(f"\nwires: {r_row} ohm per row segment, {r_col} ohm per column segment; presets.standard(); "
          f"torch threads {torch.get_num_threads()}\n")
    print(md_table(rows))


WIRE_PAIRS = ((0.5, 0.5), (1.0, 1.0), (2.0, 2.0), (5.0, 5.0), (1.5, 5.0))


def parse_wires(specs: list[str]) -> tuple[tuple[float, float], ...]:
    """``["0.5", "1.5/5"]`` -> ``((0.5, 0.5), (1.5, 5.0))`` (ohm per row / column segment)."""
    pairs = []
    for w in specs:
        r_row, _, r_col = w.partition("/")
        pairs.append((float(r_row), float(r_col or r_row)))
    return tuple(pairs)


def _col_errors(model: torch.Tensor, exact: torch.Tensor, fs: float) -> tuple[float, float]:
    """(worst, mean) over columns of ``sum_i |model - exact|_ij``, in % of ``fs``."""
    col = (model - exact).abs().sum(0) / fs
    return 100 * col.max().item(), 100 * col.mean().item()


def fast_errors(sizes: list[int], exact_max: int, dev: torch.device = CPU,
                wires: tuple[tuple[float, float], ...] = WIRE_PAIRS) -> None:
    rows_out = []
    for size in sizes:
        gen = torch.Generator().manual_seed(size)
        G = (G_MIN + (G_MAX - G_MIN) * torch.rand(size, size, generator=gen, dtype=torch.float64)).to(dev)
        fs = size * G_MAX
        for r_row, r_col in wires:
            models = {"first order": lambda: first_order_conductance(G, r_row, r_col),
                      "fast (1 it.)": lambda: fast_conductance(G, r_row, r_col, 1),
                      "fast (3 it.)": lambda: fast_conductance(G, r_row, r_col, 3)}
            row: dict[str, object] = {"array": f"{size}x{size}", "r_row / r_col ohm": f"{r_row} / {r_col}"}
            if size <= exact_max:
                t_exact, exact = best(lambda: effective_conductance(G, r_row, r_col), 1, dev)
                row["IR drop % FS"], row["IR drop mean % FS"] = _col_errors(exact, G, fs)
            for name, fn in models.items():
                t, out = best(fn, 3, dev)
                if size <= exact_max:
                    row[f"{name} % FS"], row[f"{name} mean % FS"] = _col_errors(out, exact, fs)
                else:
                    row[f"{name} % FS"] = row[f"{name} mean % FS"] = "-"
                row[f"{name} ms"] = 1e3 * t
            row["exact s"] = t_exact if size <= exact_max else "-"
            rows_out.append(row)
            print(md_table(rows_out[-1:]), flush=True)
    print(f"\nfloat64, torch threads {torch.get_num_threads()}\n")
    print(md_table(rows_out))


def training(batch: int, repeats: int = 7, dev: torch.device = CPU) -> None:
    import torch.nn.functional as F

    import analogue as an
    from analogue.data import digits_cnn
    from analogue.train import HWAOptions, hwa_

    def setups(make, cfg, x, y):
        out = {}
        for name, (rr, rc, hold) in (("ideal wires", (0.0, 0.0, 1)), ("IR drop (fast)", (1.5, 5.0, 1)),
                                     ("IR drop (fast, held 16)", (1.5, 5.0, 16))):
            model = make(cfg.replace(**{"circuit.r_row_ohm": rr, "circuit.r_col_ohm": rc,
                                        "circuit.fast_refresh_reads": hold})).to(dev)
            hwa_(model, HWAOptions(device_noise_scale=1.0), seed=0)
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)

            def step(model=model, opt=opt) -> None:
                model.train()
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
                opt.step()

            def infer(model=model) -> None:
                model.eval()
                with torch.no_grad():
                    model(x)

            out[name] = (on_device(step, dev), on_device(infer, dev))
        return out

    def linear(cfg):
        torch.manual_seed(0)
        return an.AnalogLinear(1024, 1024, cfg=cfg)

    def cnn(cfg):
        return an.convert_(digits_cnn(seed=0), cfg, seed=0)

    gen = torch.Generator().manual_seed(3)
    cases = {
        "1024x1024 AnalogLinear, 256x256 tiles": setups(
            linear, an.presets.pcm(), torch.randn(batch, 1024, generator=gen).to(dev),
            torch.randint(0, 1024, (batch,), generator=gen).to(dev)),
        "digits CNN, 64x64 tiles": setups(
            cnn, an.presets.pcm(rows=64, cols=64), torch.randn(batch, 1, 8, 8, generator=gen).to(dev),
            torch.randint(0, 10, (batch,), generator=gen).to(dev)),
    }
    rows_out = []
    load = os.getloadavg()[0]
    for case, fns in cases.items():
        for kind, idx in (("HWA training step", 0), ("inference (unprogrammed)", 1)):
            wall: dict[str, list[float]] = {name: [] for name in fns}
            cpu: dict[str, list[float]] = {name: [] for name in fns}
            for f in fns.values():
                f[idx]()  # warm-up
            for _ in range(repeats):  # alternately
                for name, f in fns.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    f[idx]()
                    cpu[name].append(time.process_time() - c0)
                    wall[name].append(time.perf_counter() - t0)
            w = {name: float(np.median(v)) for name, v in wall.items()}
            c = {name: float(np.median(v)) for name, v in cpu.items()}
            row = {"model": case, "what": kind, "ideal wires ms": 1e3 * w["ideal wires"]}
            for name in ("IR drop (fast)", "IR drop (fast, held 16)"):
                row[f"{name} ms"] = 1e3 * w[name]
                row[f"{name} ratio (wall / CPU time)"] = (f"{w[name] / w['ideal wires']:.2f} / "
                                                         f"{c[name] / c['ideal wires']:.2f}")
            rows_out.append(row)
    print(f"\nbatch {batch}; wires 1.5 / 5 ohm (fast model, 1 iteration; held: fast_refresh_reads=16); "
          f"presets.pcm(); torch threads "
          f"{torch.get_num_threads()}; medians of {repeats} alternating repeats; load average "
          f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (CPU time: this process's, "
          f"less sensitive to other load)\n")
    print(md_table(rows_out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--r-row", type=float, default=1.0)
    ap.add_argument("--r-col", type=float, default=5.0)
    ap.add_argument("--baseline-max", type=int, default=256,
                    help="largest size that also runs the sparse baselines (slow beyond)")
    ap.add_argument("--programmed", action="store_true",
                    help="time a programmed 1024x1024 AnalogLinear with and without IR drop")
    ap.add_argument("--fast", action="store_true",
                    help="the fast IR-drop models' error against the exact solve, per size and wires")
    ap.add_argument("--exact-max", type=int, default=512,
                    help="with --fast: the largest size also solved exactly (slow beyond)")
    ap.add_argument("--reference", action="store_true",
                    help="which measure gives the published 19 %% at 256x256, 100 kohm, 1 ohm (per topology)")
    ap.add_argument("--wires", nargs="+", default=None,
                    help="with --fast: wire pairs, ohm per segment, R or ROW/COL (e.g. 0.5 1.5/5 2.8)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--training", action="store_true",
                    help="HWA training and inference with the fast model against ideal wires")
    add_device_argument(ap)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.reference:
        reference_figure()
        return
    if args.fast:
        fast_errors(args.sizes, args.exact_max, dev, parse_wires(args.wires) if args.wires else WIRE_PAIRS)
        return
    if args.training:
        training(args.batch if args.batch != 64 else 256, dev=dev)
        return
    if args.programmed:
        programmed(args.batch if args.batch != 64 else 256, 1.5, 5.0, dev=dev)
        return
    rows_out = []
    for size in args.sizes:
        gen = torch.Generator().manual_seed(size)
        G = G_MIN + (G_MAX - G_MIN) * torch.rand(size, size, generator=gen, dtype=torch.float64)
        v = V_MAX * torch.rand(args.batch, size, generator=gen, dtype=torch.float64)
        reps = 3 if size <= 256 else 1
        G_dev, v_dev = G.to(dev), v.to(dev)
        t_setup, xb = best(lambda: Crossbar(G_dev, args.r_row, args.r_col), reps, dev)
        t_batch, i_xb = best(lambda: xb.solve(v_dev), 20, dev)
        i_xb = i_xb.cpu()
        row = {"array": f"{size}x{size}", "Crossbar set-up s": t_setup,
               f"Crossbar {args.batch} vectors s": t_batch}
        if size > args.baseline_max:
            rows_out.append({**row, **{k: "-" for k in (
                f"spsolve {args.batch} vectors s", "splu set-up s", f"splu {args.batch} vectors s",
                "|Crossbar - spsolve| / FS", "IR drop / FS")}})
            print(f"{size}x{size} done", flush=True)
            continue
        K, B = nodal(G.numpy(), args.r_row, args.r_col)
        rhs = np.asarray(B @ v.numpy().T)
        out_nodes = 2 * size * size - size + np.arange(size)
        sp_reps = 1 if size >= 256 else 2
        t_sps, x = best(lambda: spla.spsolve(K, rhs), sp_reps)
        i_sps = x[out_nodes].T / args.r_col
        t_lu, lu = best(lambda: spla.splu(K), sp_reps)
        t_lus, _ = best(lambda: lu.solve(rhs), sp_reps)
        fs = size * V_MAX * G_MAX
        ideal = v.numpy() @ G.numpy()
        rows_out.append({
            **row,
            f"spsolve {args.batch} vectors s": t_sps,
            "splu set-up s": t_lu,
            f"splu {args.batch} vectors s": t_lus,
            "|Crossbar - spsolve| / FS": f"{np.abs(i_xb.numpy() - i_sps).max() / fs:.1e}",
            "IR drop / FS": f"{np.abs(ideal - i_sps).max() / fs:.3f}",
        })
        print(f"{size}x{size} done", flush=True)
    print(f"\nwires: {args.r_row} ohm per row segment, {args.r_col} ohm per column segment; cells "
          f"{G_MIN * 1e6:g}-{G_MAX * 1e6:g} uS; inputs 0-{V_MAX} V; torch threads "
          f"{torch.get_num_threads()}\n")
    print(md_table(rows_out))


if __name__ == "__main__":
    main()

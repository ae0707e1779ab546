"""Line resistance (IR drop) in a crossbar: the exact DC solve of the resistive network.

Topology (docs/circuits.md): row ``i`` is driven by ``v_in_V[i]`` at its column-0 end through one
wire segment of ``r_row_ohm``; a segment of ``r_row_ohm`` joins neighbouring cells along a row;
cell ``(i, j)`` (conductance ``G_S[i, j]``) joins row node ``(i, j)`` to column node ``(i, j)``; a
segment of ``r_col_ohm`` joins neighbouring cells along a column and one more joins the last row's
node to the sense node; each column is sensed at virtual ground at its far (last-row) end.

The network is linear and its inputs enter at ``rows`` points only, so the column currents are
``I = v @ G_eff`` for an *effective conductance matrix* ``G_eff`` ``(rows, cols)`` that depends on
``G_S`` and the wires only: the ideal Kirchhoff sum with ``G_eff`` in place of ``G_S`` (``G_eff ==
G_S`` for ideal wires). ``Crossbar`` computes ``G_eff`` once, exactly (a direct block elimination in
float64, no iteration), and then answers any input batch with one matmul.

The elimination (a Norton-equivalent sweep down the columns): each row ``k``, with its column
nodes held at given voltages, is a tridiagonal ladder; eliminating its row nodes leaves an
admittance matrix ``S_k`` between its column nodes and ground and short-circuit currents ``h_k
v_k`` into them (``S_k = D - r_row D (L + r_row D)^-1 D``, ``h_k = D (L + r_row D)^-1 e_0``, ``D =
diag(G_S[k])``, ``L`` the row's path Laplacian with the driver at node 0). The network of rows
``0..k`` seen at row ``k``'s column nodes is a Norton equivalent ``(Q_k, J_k)``; one column segment
in series turns it into ``((I + r_col Q)^-1 Q, (I + r_col Q)^-1 J)`` and row ``k+1`` adds in
parallel. The last segment into the virtual grounds gives the currents. Every step is in
resistance form (``I + r Q``, ``L + r D``: symmetric positive definite, condition number near 1 for
small wire resistance), so ``r -> 0`` is continuous and ``r = 0`` is the ideal sum exactly. Cost:
``O(rows * cols^3 + rows^2 * cols^2)`` once (dense Cholesky solves of ``cols x cols`` blocks), then
``O(batch * rows * cols)`` per batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from analogue._util.validate import ConfigError, check_nonnegative, require

__all__ = ["Crossbar", "effective_conductance", "solve"]


def _check_g(G_S: Tensor, where: str) -> np.ndarray:
    require(isinstance(G_S, Tensor), where, f"G_S must be a torch.Tensor, got {type(G_S).__name__}")
    require(G_S.dim() == 2 and G_S.shape[0] >= 1 and G_S.shape[1] >= 1, where,
            f"G_S must be a 2-D (rows, cols) tensor of conductances in S, got shape {tuple(G_S.shape)}")
    require(G_S.is_floating_point(), where, f"G_S must be a floating-point tensor, got {G_S.dtype}")
    g = G_S.detach().to(device="cpu", dtype=torch.float64).numpy()
    require(bool(np.isfinite(g).all()), where, "G_S must be finite")
    require(bool((g >= 0).all()), where, f"G_S must be >= 0 (conductances in S), got min {g.min()!r}")
    return g


def _row_layer(g: np.ndarray, r_row: float, lap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row ladder with conductances ``g`` (cols,) eliminated: ``(S, h)``, the admittance
    matrix between its column nodes and ground and the short-circuit currents per volt of drive."""
    if r_row == 0.0:  # ideal row: every row node at the drive voltage
        return np.diag(g), g.copy()
    from scipy.linalg import solveh_banded

    cols = g.shape[0]
    ab = lap.copy()
    ab[0] += r_row * g
    rhs = np.zeros((cols, cols + 1))
    rhs[np.arange(cols), np.arange(cols)] = g
    rhs[0, cols] = 1.0
    if cols == 1:
        z = rhs / ab[0, 0]
    else:
        z = solveh_banded(ab, rhs, lower=True, overwrite_b=True, check_finite=False)
    s = (-r_row) * g[:, None] * z[:, :cols]
    s = 0.5 * (s + s.T)
    s[np.arange(cols), np.arange(cols)] += g
    return s, g * z[:, cols]


def _effective(g: np.ndarray, r_row: float, r_col: float) -> np.ndarray:
    """``G_eff`` (rows, cols) in float64 from conductances ``g`` (rows, cols)."""
    from scipy.linalg import lapack

    rows, cols = g.shape
    if r_row == 0.0 and r_col == 0.0:
        return g.copy()
    # the row's path Laplacian in units of one segment (lower banded form): the driver segment
    # and the segment to the next cell at each node but the last
    lap = np.zeros((2, cols))
    lap[0] = 2.0
    lap[0, -1] = 1.0
    lap[1, :-1] = -1.0
    if cols == 1:
        lap[0, 0] = 1.0
    # buffer: [Q | J], J (cols, rows) the Norton currents per volt of each row's drive
    buf = np.zeros((cols, cols + rows), order="F")
    q = buf[:, :cols]
    eye = np.eye(cols)
    for k in range(rows):
        s, h = _row_layer(g[k], r_row, lap)
        if k > 0 and r_col > 0.0:
            # one column segment in series with the Norton equivalent of rows 0..k-1
            c, info = lapack.dpotrf(eye + r_col * q, lower=1, clean=0, overwrite_a=1)
            if info != 0:  # pragma: no cover - I + r Q is SPD for Q >= 0
                raise ConfigError(f"crossbar.Crossbar: Cholesky failed (info {info})")
            x, info = lapack.dpotrs(c, buf[:, : cols + k], lower=1, overwrite_b=1)
            if info != 0:  # pragma: no cover
                raise ConfigError(f"crossbar.Crossbar: Cholesky solve failed (info {info})")
            buf[:, : cols + k] = x
            q[...] = 0.5 * (q + q.T)
        q += s
        buf[:, cols + k] = h
    j = buf[:, cols:]
    if r_col > 0.0:  # the last segment into the virtual grounds
        c, info = lapack.dpotrf(eye + r_col * q, lower=1, clean=0, overwrite_a=1)
        if info != 0:  # pragma: no cover
            raise ConfigError(f"crossbar.Crossbar: Cholesky failed (info {info})")
        j, info = lapack.dpotrs(c, np.asfortranarray(j), lower=1, overwrite_b=1)
        if info != 0:  # pragma: no cover
            raise ConfigError(f"crossbar.Crossbar: Cholesky solve failed (info {info})")
    return np.ascontiguousarray(j.T)


class Crossbar:
    """One programmed crossbar with line resistance: the set-up (its effective conductances) once,
    then ``solve(v_in_V)`` for any batch.

    ``G_S`` ``(rows, cols)``: cell conductances in S (>= 0); ``r_row_ohm``, ``r_col_ohm``: the
    resistance of one row / column wire segment in ohm (>= 0; 0: ideal wire). The topology is the
    module docstring's. ``effective_G_S`` ``(rows, cols)`` float64: the column currents are exactly
    ``v_in_V @ effective_G_S`` (equal to ``G_S`` for ideal wires).
    """

    def __init__(self, G_S: Tensor, r_row_ohm: float, r_col_ohm: float) -> None:
        where = "crossbar.Crossbar"
        g = _check_g(G_S, where)
        check_nonnegative(r_row_ohm, where, "r_row_ohm", "ohm per row wire segment, 0 for ideal")
        check_nonnegative(r_col_ohm, where, "r_col_ohm", "ohm per column wire segment, 0 for ideal")
        self.rows, self.cols = g.shape
        self.r_row_ohm = float(r_row_ohm)
        self.r_col_ohm = float(r_col_ohm)
        eff = _effective(g, self.r_row_ohm, self.r_col_ohm)
        self.effective_G_S: Tensor = torch.from_numpy(eff).to(G_S.device)

    def solve(self, v_in_V: Tensor) -> Tensor:
        """Column currents in A, float64: ``(cols,)`` for ``v_in_V`` ``(rows,)``, ``(batch, cols)``
        for ``(batch, rows)`` (volts at the row drivers). Differentiable in ``v_in_V``."""
        where = "crossbar.Crossbar.solve"
        require(isinstance(v_in_V, Tensor), where,
                f"v_in_V must be a torch.Tensor, got {type(v_in_V).__name__}")
        require(v_in_V.dim() in (1, 2) and v_in_V.shape[-1] == self.rows, where,
                f"v_in_V must have shape ({self.rows},) or (batch, {self.rows}), "
                f"got {tuple(v_in_V.shape)}")
        require(v_in_V.is_floating_point(), where,
                f"v_in_V must be a floating-point tensor, got {v_in_V.dtype}")
        require(bool(torch.isfinite(v_in_V).all()), where, "v_in_V must be finite")
        return v_in_V.to(torch.float64) @ self.effective_G_S.to(v_in_V.device)


def effective_conductance(G_S: Tensor, r_row_ohm: float, r_col_ohm: float) -> Tensor:
    """``Crossbar(G_S, r_row_ohm, r_col_ohm).effective_G_S``: the ``(rows, cols)`` float64 matrix
    with column currents ``v @ G_eff`` exactly."""
    return Crossbar(G_S, r_row_ohm, r_col_ohm).effective_G_S


def solve(G_S: Tensor, v_in_V: Tensor, r_row_ohm: float, r_col_ohm: float) -> Tensor:
    """Column currents in A (float64) of the crossbar ``G_S`` (S) with wire segments of
    ``r_row_ohm`` / ``r_col_ohm`` driven by ``v_in_V`` ``(rows,)`` or ``(batch, rows)`` (V): the
    exact DC solution of the network in the module docstring. One call; for many batches on one
    array build a ``Crossbar`` once."""
    return Crossbar(G_S, r_row_ohm, r_col_ohm).solve(v_in_V)

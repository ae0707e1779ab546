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
small wire resistance), so ``r -> 0`` is continuous and ``r = 0`` is the ideal sum exactly. The
row ladders' inverses are semi-separable and come from two pivot recurrences, all rows at once.
Cost: ``O(rows * cols^3 + rows^2 * cols^2)`` once (Cholesky solves of ``cols x cols`` blocks, in
torch on ``G_S``'s device), then ``O(batch * rows * cols)`` per batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from analogue._util.validate import check_nonnegative, require

__all__ = ["Crossbar", "effective_conductance", "effective_conductances", "solve"]


def _check_g(G_S: Tensor, where: str) -> Tensor:
    require(isinstance(G_S, Tensor), where, f"G_S must be a torch.Tensor, got {type(G_S).__name__}")
    require(G_S.dim() == 2 and G_S.shape[0] >= 1 and G_S.shape[1] >= 1, where,
            f"G_S must be a 2-D (rows, cols) tensor of conductances in S, got shape {tuple(G_S.shape)}")
    require(G_S.is_floating_point(), where, f"G_S must be a floating-point tensor, got {G_S.dtype}")
    g = G_S.detach().to(torch.float64)
    require(bool(torch.isfinite(g).all()), where, "G_S must be finite")
    require(bool((g >= 0).all()), where, f"G_S must be >= 0 (conductances in S), got min {g.min().item()!r}")
    return g


def _row_ladders(g: Tensor, r_row: float) -> tuple[Tensor, Tensor]:
    """The inverses of every row's ``A_k = L + r_row diag(g[k])`` in factored form, all rows (and
    arrays) at once: ``(diag, c)`` shaped like ``g`` (``(..., rows, cols)``) with ``(A_k^-1)_ij =
    diag[k, max(i, j)] * exp(-|c[k, i] - c[k, j]|)`` (a tridiagonal matrix's inverse is
    semi-separable). From the forward and backward pivots ``dl``, ``dr`` (each >= 1 but at the
    ends): ``diag = 1 / (dl + dr - a)``, ``c`` the running sum of ``log dl``; logs keep every ratio
    <= 1, so nothing overflows whatever ``r_row * g``."""
    cols = g.shape[-1]
    a = torch.full(g.shape, 2.0, dtype=g.dtype, device=g.device)
    a[..., -1] = 1.0  # the last cell has one segment, to its left neighbour
    a.add_(g, alpha=r_row)
    dl = torch.empty_like(a)
    dr = torch.empty_like(a)
    dl[..., 0] = a[..., 0]
    for j in range(1, cols):
        dl[..., j] = a[..., j] - 1.0 / dl[..., j - 1]
    dr[..., -1] = a[..., -1]
    for j in range(cols - 2, -1, -1):
        dr[..., j] = a[..., j] - 1.0 / dr[..., j + 1]
    diag = 1.0 / (dl + dr - a)
    c = torch.zeros_like(a)
    if cols > 1:
        c[..., 1:] = torch.cumsum(torch.log(dl[..., :-1]), dim=-1)
    return diag, c


def _effective(g: Tensor, r_row: float, r_col: float) -> Tensor:
    """``G_eff`` ``(n, rows, cols)`` in float64 from conductances ``g`` ``(n, rows, cols)`` of ``n``
    independent arrays (solved together, batched), on ``g``'s device."""
    n, rows, cols = g.shape
    if r_row == 0.0 and r_col == 0.0:
        return g.clone()
    dev, dt = g.device, g.dtype
    if r_row > 0.0:
        diag, c = _row_ladders(g, r_row)
        idx = torch.arange(cols, device=dev)
        mx = torch.maximum(idx[:, None], idx[None, :])
    # buf = [Q | J]: Q (cols, cols) the Norton admittance of the rows so far at the current row's
    # column nodes, J (cols, rows) its short-circuit currents per volt of each row's drive
    buf = torch.zeros(n, cols, cols + rows, dtype=dt, device=dev)
    q = torch.zeros(n, cols, cols, dtype=dt, device=dev)
    eye = torch.eye(cols, dtype=dt, device=dev)
    for k in range(rows):
        gk = g[:, k]
        if r_row > 0.0:  # the row ladder eliminated: S = D - r D A^-1 D, h = D A^-1 e_0
            ck = c[:, k]
            ainv = diag[:, k][:, mx].mul_(torch.exp(-(ck[:, :, None] - ck[:, None, :]).abs_()))
            s = (gk[:, :, None] * gk[:, None, :]).mul_(ainv).mul_(-r_row)
            s.diagonal(dim1=-2, dim2=-1).add_(gk)
            h = gk * diag[:, k] * torch.exp(-ck)
        else:  # ideal row: every row node at the drive voltage
            s = torch.diag_embed(gk)
            h = gk
        if k > 0 and r_col > 0.0:  # one column segment in series with rows 0..k-1
            chol = torch.linalg.cholesky(eye + r_col * q)
            buf[:, :, :cols] = q
            x = torch.cholesky_solve(buf[:, :, : cols + k], chol)
            q = 0.5 * (x[:, :, :cols] + x[:, :, :cols].mT)
            buf[:, :, cols: cols + k] = x[:, :, cols:]
        q = q + s  # row k in parallel
        buf[:, :, cols + k] = h
    j = buf[:, :, cols:]
    if r_col > 0.0:  # the last segment into the virtual grounds
        j = torch.cholesky_solve(j, torch.linalg.cholesky(eye + r_col * q))
    return j.mT.contiguous()


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
        self.effective_G_S: Tensor = _effective(g[None], self.r_row_ohm, self.r_col_ohm)[0]

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


def effective_conductances(G_S: Tensor, r_row_ohm: float, r_col_ohm: float) -> Tensor:
    """The effective conductances ``(n, rows, cols)`` float64 of ``n`` arrays ``G_S`` ``(n, rows,
    cols)`` (S) with the same wires, solved together (batched Cholesky; the same elimination as
    ``Crossbar``, array by array equal to ``effective_conductance``). For the tiles of a
    programmed layer (``nn.programmed``)."""
    where = "irdrop.effective_conductances"
    require(isinstance(G_S, Tensor) and G_S.dim() == 3 and G_S.is_floating_point(), where,
            "G_S must be a floating-point (n, rows, cols) tensor of conductances in S")
    check_nonnegative(r_row_ohm, where, "r_row_ohm", "ohm per row wire segment, 0 for ideal")
    check_nonnegative(r_col_ohm, where, "r_col_ohm", "ohm per column wire segment, 0 for ideal")
    g = G_S.detach().to(torch.float64)
    require(bool(torch.isfinite(g).all()) and bool((g >= 0).all()), where,
            "G_S must be finite and >= 0 (conductances in S)")
    if g.shape[0] == 0:
        return g.clone()
    return _effective(g, float(r_row_ohm), float(r_col_ohm))


def solve(G_S: Tensor, v_in_V: Tensor, r_row_ohm: float, r_col_ohm: float) -> Tensor:
    """Column currents in A (float64) of the crossbar ``G_S`` (S) with wire segments of
    ``r_row_ohm`` / ``r_col_ohm`` driven by ``v_in_V`` ``(rows,)`` or ``(batch, rows)`` (V): the
    exact DC solution of the network in the module docstring. One call; for many batches on one
    array build a ``Crossbar`` once."""
    return Crossbar(G_S, r_row_ohm, r_col_ohm).solve(v_in_V)

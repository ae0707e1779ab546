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
torch on ``G_S``'s device), then ``O(batch * rows * cols)`` per batch. A wide array (``rows <
cols``) is solved as its reciprocal network (rows and columns exchanged, the same topology seen
from the sense nodes), at ``O(cols * rows^3 + ...)``: a 256 x 1024 block costs what a 1024 x 256
one does.

The fast models, differentiable in ``G_S`` and batched over tiles ``(..., rows, cols)``, no solve
(running sums along the rows; the column sums blocked, ``b + 4`` multiply-adds per cell for blocks
of ``b`` rows, from 128 rows, else as one matmul with their ``(rows, rows)`` matrix up to
``_MATMUL_MAX_ROWS`` rows, running sums beyond), for training and sweeps
(docs/circuits.md: derivation and measured error against the exact solve):
``first_order_conductance``, ``G_eff`` to first order in the wire resistances, and
``fast_conductance``, its self-consistent (resummed) form, which is exact for a row or a column
wire alone and stays within a few percent of full scale where first order fails.
"""

from __future__ import annotations

import torch
from torch import Tensor

from analogue._util.validate import check_nonnegative, require

__all__ = ["Crossbar", "effective_conductance", "effective_conductances", "fast_conductance", "first_order_conductance",
           "solve"]


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
    independent arrays (solved together, batched), on ``g``'s device.

    The sweep costs ``rows * cols^3``; a wide array (``rows < cols``, both wires resistive) is
    solved as its reciprocal instead, at ``cols * rows^3`` (``_reciprocal``)."""
    n, rows, cols = g.shape
    if r_row == 0.0 and r_col == 0.0:
        return g.clone()
    if rows < cols and r_row > 0.0 and r_col > 0.0:
        return _reciprocal(_sweep(_reciprocal(g), r_col, r_row))
    return _sweep(g, r_row, r_col)


def _reciprocal(g: Tensor) -> Tensor:
    """The reciprocal array of ``g`` ``(..., rows, cols)``: ``(..., cols, rows)`` with
    ``out[a, b] = g[rows-1-b, cols-1-a]`` (its own inverse).

    The network is reciprocal (resistors only): the current into sense node ``j`` per volt at
    driver ``i`` equals the current into driver ``i``'s (grounded) source per volt at sense node
    ``j``. Seen from the sense nodes, the columns are driven lines (at their last-row end, through
    ``r_col`` segments) and the rows are sensed lines (at their column-0 end, through ``r_row``
    segments): the same topology with rows and columns exchanged and both orders reversed. So
    ``G_eff(g, r_row, r_col) == _reciprocal(G_eff(_reciprocal(g), r_col, r_row))``, exactly in
    exact arithmetic (tested to rounding)."""
    return g.mT.flip(-1, -2).contiguous()


def _sweep(g: Tensor, r_row: float, r_col: float) -> Tensor:
    """The Norton sweep down the columns (the module docstring): ``G_eff`` of ``g`` ``(n, rows,
    cols)``, in ``O(rows * cols^3 + rows^2 * cols^2)``."""
    n, rows, cols = g.shape
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


def _check_fast(G_S: Tensor, r_row_ohm: float, r_col_ohm: float, where: str) -> tuple[float, float]:
    require(isinstance(G_S, Tensor) and G_S.dim() >= 2 and G_S.is_floating_point(), where,
            "G_S must be a floating-point (..., rows, cols) tensor of conductances in S")
    check_nonnegative(r_row_ohm, where, "r_row_ohm", "ohm per row wire segment, 0 for ideal")
    check_nonnegative(r_col_ohm, where, "r_col_ohm", "ohm per column wire segment, 0 for ideal")
    return float(r_row_ohm), float(r_col_ohm)


_MATMUL_MAX_ROWS = 512
"""``_drop`` takes the column sums as one matmul with their matrix when the array has at most this
many rows (``rows`` multiply-adds per cell, in the BLAS: on CPU a running sum along any dim but
the last is several times slower than that up to about this size), else as running sums."""


def _col_matrix(rows: int, r_col: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``r_col`` times the ``(rows, rows)`` symmetric matrix of ``C``: ``rows - max(i, i')``."""
    idx = torch.arange(rows, device=device)
    return (rows - torch.maximum(idx[:, None], idx[None, :])).to(dtype).mul_(r_col)


def _col_block(rows: int) -> int:
    """The block size of ``_col_blocked`` for an array of ``rows`` rows (0: not blocked)."""
    if rows < 128:
        return 0
    return next((b for b in ((32, 16) if rows >= 256 else (16,)) if rows % b == 0), 0)


def _col_blocked(x: Tensor, r_col: float, cd: int, b: int) -> Tensor:
    """``r_col C[x]`` (``_drop``) with the rows (dim ``cd``) cut into blocks of ``b``: ``M_C =
    rows - max(i, i')`` is ``rows - i'`` (a function of ``i'`` only) between a row and any later
    block and ``rows - i`` (of ``i`` only) with any earlier block, so ``C`` is one matmul of each
    block with a ``(b + 2, b)`` matrix (the block's own ``-max(a, a')`` and two moments ``sum x``,
    ``sum a' x``), running sums over the blocks of those moments, and one rank-2 update per block:
    ``b + 4`` multiply-adds per cell instead of ``rows``. A fresh tensor; autograd follows."""
    n = x.shape[cd]
    nb = n // b
    xt = x.reshape(*x.shape[:cd], nb, b, -1)  # (..., nb, b, T)
    a = torch.arange(b, dtype=x.dtype, device=x.device)
    m = torch.cat([-torch.maximum(a[:, None], a[None, :]), torch.ones_like(a)[None], a[None]])
    y = torch.matmul(m, xt)  # (..., nb, b + 2, T)
    s, u = y[..., b, :], y[..., b + 1, :]  # per block: sum x, sum a' x
    start = (n - b * torch.arange(nb, dtype=x.dtype, device=x.device))[:, None]  # rows - I b
    t = start * s - u  # per block: sum (rows - i') x
    before = torch.cumsum(s, dim=-2) - s
    after = torch.cumsum(t.flip(-2), dim=-2).flip(-2) - t
    coef = torch.stack([start * (s + before) + after, before], dim=-2)  # (..., nb, 2, T)
    e = torch.stack([torch.ones_like(a), -a], dim=-1)  # (b, 2): within block ``A - a B``
    return torch.matmul(e, coef).add_(y[..., :b, :]).mul_(r_col).reshape(x.shape)


def _drop(x: Tensor, r_row: float, r_col: float, col_dim: int = -2) -> Tensor:
    """``D[x] = r_row R[x] + r_col C[x]`` (``first_order_conductance``; ``_drop_sums``), linear in
    ``x``, rows along the last dim, columns along ``col_dim``: ``R`` by running sums along the
    rows, ``C`` blocked (``_col_blocked``) for arrays of 128 rows and more that split into whole
    blocks, else as ``(r_col M_C) @ x`` with ``M_C = rows - max(i, i')`` for arrays of at most
    ``_MATMUL_MAX_ROWS`` rows, else by running sums too; all agree to rounding. A fresh tensor;
    differentiable (autograd follows) when ``x`` requires grad."""
    cd = col_dim % x.dim()
    rows = x.shape[cd]
    block = _col_block(rows)
    if r_col == 0.0 or (rows > _MATMUL_MAX_ROWS and not block):
        return _drop_sums(x, r_row, r_col, col_dim)
    if block:
        out = _col_blocked(x, r_col, cd, block)
    else:
        out = _matmul_cols(x, r_col, cd)
    if r_row == 0.0:
        return out
    if x.requires_grad and torch.is_grad_enabled():
        return out + _drop_sums(x, r_row, 0.0, col_dim)
    return out.add_(_drop_sums(x, r_row, 0.0, col_dim))


def _matmul_cols(x: Tensor, r_col: float, cd: int) -> Tensor:
    """``r_col C[x]`` as one matmul with ``r_col M_C`` (rows along dim ``cd``)."""
    rows = x.shape[cd]
    m_c = _col_matrix(rows, r_col, x.dtype, x.device)
    if cd == x.dim() - 2:  # (..., rows, cols)
        out = torch.matmul(m_c, x)
    elif cd == x.dim() - 3 and x.is_contiguous():  # (..., rows, arrays, cols): (rows, arrays * cols)
        out = torch.matmul(m_c, x.flatten(-2)).view(x.shape)
    else:
        out = torch.matmul(x.movedim(cd, -1), m_c).movedim(-1, cd)
    return out


def _drop_sums(x: Tensor, r_row: float, r_col: float, col_dim: int = -2) -> Tensor:
    """``_drop`` by running sums only: ``O(rows * cols)``.

    ``D[x] = r_row R[x] + r_col C[x]`` (``first_order_conductance``), linear in ``x``: the
    relative voltage lost across each cell when cell ``(i, j)`` passes ``x_ij`` per volt of its
    row's drive. Rows run along the last dim, columns along ``col_dim``. ``R[x]_ij = sum_j' x_ij'
    (min(j, j') + 1)`` is the running sum over the row segments of the current each carries (the
    suffix sums of the row); ``C[x]_ij = sum_i' x_i'j (rows - max(i, i'))`` the running sum from
    the sense end of the prefix sums down the column. Both operators are symmetric."""
    if x.requires_grad and torch.is_grad_enabled():  # out-of-place: autograd follows
        drop = None
        if r_row > 0.0:
            c = torch.cumsum(x, dim=-1)
            seg = torch.sub(x, c).add_(c[..., -1:])  # segment k carries cells k..cols-1
            drop = torch.cumsum(seg, dim=-1).mul_(r_row)
        if r_col > 0.0:
            p = torch.cumsum(x, dim=col_dim)  # segment below row k carries rows 0..k
            q = torch.cumsum(p, dim=col_dim)
            last = q.narrow(col_dim, q.shape[col_dim] - 1, 1)
            c = torch.sub(p, q).add_(last)  # sum of p over segments k >= i
            drop = c.mul_(r_col) if drop is None else drop.add_(c, alpha=r_col)
        assert drop is not None
        return drop
    # no graph: the same sums in as few fresh tensors and passes as possible
    out = None
    if r_row > 0.0:
        out = torch.cumsum(x, dim=-1)
        last = out[..., -1:].clone()
        torch.sub(x, out, out=out).add_(last).cumsum_(-1).mul_(r_row)
    if r_col > 0.0:
        p = torch.cumsum(x, dim=col_dim)
        q = torch.cumsum(p, dim=col_dim)
        last = q.narrow(col_dim, q.shape[col_dim] - 1, 1).clone()
        torch.sub(p, q, out=q).add_(last)
        out = q.mul_(r_col) if out is None else out.add_(q, alpha=r_col)
    assert out is not None
    return out


class _Resummed(torch.autograd.Function):
    """``G / (1 + D[G])`` with its backward in closed form (``D`` symmetric):
    ``u / q - D[u G / q^2]``, ``q = 1 + D[G]`` (no graph of the running sums kept)."""

    @staticmethod
    def forward(ctx, G: Tensor, r_row: float, r_col: float, col_dim: int) -> Tensor:  # type: ignore[override]
        q = _drop(G, r_row, r_col, col_dim).add_(1.0)
        ctx.save_for_backward(G, q)
        ctx.args = (r_row, r_col, col_dim)
        return G / q

    @staticmethod
    def backward(ctx, u: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        G, q = ctx.saved_tensors
        r_row, r_col, col_dim = ctx.args
        uq = u / q
        return uq - _drop(uq * G / q, r_row, r_col, col_dim), None, None, None


def first_order_conductance(G_S: Tensor, r_row_ohm: float, r_col_ohm: float) -> Tensor:
    """The effective conductances to first order in the wire resistances: ``(..., rows, cols)``
    from cell conductances ``G_S`` ``(..., rows, cols)`` in S (a batch of independent arrays with
    the same wires), in ``G_S``'s dtype and device, differentiable in ``G_S`` (pure torch).

    At zeroth order every row node sits at its drive voltage and every column node at 0 V, so
    cell ``(i, j)`` passes ``G_ij v_i``. Those currents, flowing through the wires, lower the
    voltage across each cell; to first order:

    - row ``i``: the segment into row node ``(i, k)`` carries the currents of cells ``k..cols-1``
      of the row, so node ``(i, j)`` sits ``r_row v_i R_ij`` below ``v_i``, with
      ``R_ij = sum_j' G_ij' (min(j, j') + 1)`` (the row's own cells only);
    - column ``j``: the segment below row ``k`` carries the currents of rows ``0..k``, so column
      node ``(i, j)`` sits ``r_col sum_i' v_i' G_i'j (rows - max(i, i'))`` above 0 V (every row
      of the column: with one input on, the other rows' cells carry sneak currents back).

    The column current is the sum of the cells' currents ``G_ij (v_i - drop)``; its coefficient of
    ``v_i`` is ``G_eff = G (1 - D[G])``, ``D[G] = r_row R + r_col C`` with ``C_ij = sum_i' G_i'j
    (rows - max(i, i'))``. ``R`` and ``C`` are running sums (``cumsum``) along the row and down
    the column: a few passes over the array, no solve. The error against the exact solve
    (``effective_conductance``) falls as ``r^2``; ``r = 0`` returns ``G_S`` itself.
    """
    r_row, r_col = _check_fast(G_S, r_row_ohm, r_col_ohm, "irdrop.first_order_conductance")
    if r_row == 0.0 and r_col == 0.0:
        return G_S
    return G_S - G_S * _drop(G_S, r_row, r_col)


def fast_conductance(G_S: Tensor, r_row_ohm: float, r_col_ohm: float, iterations: int = 1,
                     col_dim: int = -2) -> Tensor:
    """The self-consistent fast model: ``G_eff = G (1 - D[G_eff])``, ``D`` the linear drop
    operator of ``first_order_conductance`` applied to the effective (not the ideal) cell
    currents, ``(..., rows, cols)`` like ``G_S`` (S), differentiable in ``G_S``.

    With only row wires (``r_col_ohm = 0``) this equation is the exact one (each row ladder's node
    voltages given by the currents its cells really pass), and likewise with only column wires;
    with both it leaves out the interaction of the two (currents of one row wandering through
    another row's wire), a higher-order term. It is solved by ``iterations`` steps of
    ``G_k = G / q_k``, ``q_{k+1} = 1 + q_k D[G_k]`` from ``q_0 = 1``: one step is the resummed
    first order ``G / (1 + D[G])`` (equal to ``first_order_conductance`` to first order; the error
    falls as ``r^2``), each step costs one ``first_order_conductance`` and keeps ``G_k`` in
    ``[0, G]`` (``q >= 1``), so it cannot overshoot as first order does for large arrays.
    ``r = 0`` returns ``G_S`` itself. Measured errors: docs/circuits.md. ``col_dim``: the dim
    the columns run along (rows always run along the last): ``-3`` reads a ``(..., rows,
    n_arrays, cols)`` view of side-by-side arrays without a copy. One step has its backward in
    closed form (``u / q - D[u G / q^2]``, ``D`` symmetric); more steps backpropagate through
    the loop.
    """
    where = "irdrop.fast_conductance"
    r_row, r_col = _check_fast(G_S, r_row_ohm, r_col_ohm, where)
    require(isinstance(iterations, int) and not isinstance(iterations, bool) and iterations >= 1, where,
            f"iterations must be an integer >= 1 (1: the resummed first order), got {iterations!r}")
    require(isinstance(col_dim, int) and -G_S.dim() <= col_dim < G_S.dim()
            and col_dim % G_S.dim() != G_S.dim() - 1, where,
            f"col_dim must name a dim of G_S other than the last (the rows'), got {col_dim!r}")
    if r_row == 0.0 and r_col == 0.0:
        return G_S
    return _fast(G_S, r_row, r_col, iterations, col_dim)


def _fast(G: Tensor, r_row: float, r_col: float, iterations: int, col_dim: int = -2) -> Tensor:
    """``fast_conductance`` unchecked; columns along ``col_dim`` (e.g. ``-3`` for the arrays of
    a ``(..., rows, n_arrays, cols)`` view)."""
    if iterations == 1:
        return _Resummed.apply(G, r_row, r_col, col_dim)
    q = 1.0 + _drop(G, r_row, r_col, col_dim)
    for _ in range(iterations - 1):
        q = 1.0 + q * _drop(G / q, r_row, r_col, col_dim)
    return G / q

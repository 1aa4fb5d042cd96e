"""State space layers: the selective SSM of Mamba (Gu & Dao, 2023) and its time-invariant ancestor.

A (diagonal) state space model maps each input channel ``x_t`` to an output ``y_t`` through an
``N``-dimensional state (Gu & Dao, Section 2, Eq. 1-2), after discretising the continuous
parameters ``(Δ, A, B)`` (Eq. 4; Mamba keeps the zero-order hold for ``A`` and the simpler
Euler step for ``B``, as its code does):

    Ā = exp(Δ A),   B̄ = Δ B,   h_t = Ā h_{t-1} + B̄ x_t   (Eq. 2a),   y_t = C h_t   (Eq. 2b).

In an S4-style model ``Δ, B, C`` are parameters: the same for every position and every input,
a linear time-invariant (LTI) system, i.e. a long convolution. Mamba's *selection* (Section 3.2,
Algorithm 2) makes them functions of the input, ``Δ = softplus(Linear(x))``, ``B = Linear(x)``,
``C = Linear(x)``, so each token decides how much it writes into the state and how much of
the state it lets decay: large ``Δ`` resets the state and stores the token, ``Δ → 0`` ignores it.
The system is then time-varying and no convolution exists, but the recurrence is still linear
in ``h``, so it can be scanned in parallel over time (:func:`selective_scan`: chunked
cumulative sums of the log-decays ``Δ A``) or sequentially (:func:`selective_scan_loop`,
the reference), and decoded one token at a time with a state of fixed size (:func:`ssm_step`).

Shapes: inputs ``x`` and steps ``Δ`` are ``(B, T, d)``; ``A`` is ``(d, N)``; ``B, C`` are
``(B, T, N)`` (selective: shared by the channels, as in Mamba) or ``(B, T, d, N)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import one_of, positive, positive_int
from llmnotes.nn.attention import causal_mask


def _check_scan(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> None:
    if x.dim() != 3 or delta.shape != x.shape:
        raise ValueError(f"x and delta must both have shape (batch, T, d), got {tuple(x.shape)}, {tuple(delta.shape)}")
    d = x.shape[-1]
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(f"A must have shape ({d}, N), got {tuple(A.shape)}")
    n = A.shape[1]
    for name, m in (("B", B), ("C", C)):
        if m.shape not in ((*x.shape[:2], n), (*x.shape, n)):
            raise ValueError(f"{name} must have shape {(*x.shape[:2], n)} or {(*x.shape, n)}, got {tuple(m.shape)}")


def _per_channel(m: torch.Tensor) -> torch.Tensor:
    return m.unsqueeze(2) if m.dim() == 3 else m                       # (B, T, N) → (B, T, 1, N)


def discretize(delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 4 as Mamba computes it: ``log Ā = Δ A`` (returned as a log) and ``B̄ = Δ B``, each ``(B, T, d, N)``."""
    log_a = delta.unsqueeze(-1) * A                                    # (B, T, d, N), ≤ 0 when A < 0
    b_bar = delta.unsqueeze(-1) * _per_channel(B)                      # (B, T, d, N)
    return log_a, b_bar


class _LinearRecurrence(torch.autograd.Function):
    """``h_t = a_t ⊙ h_{t-1} + u_t`` over the first axis, with a hand-written backward pass.

    Forward and backward are one fused multiply-add per step (the backward runs the same
    recurrence in reverse: ``g_t = ∂L/∂h_t + a_{t+1} ⊙ g_{t+1}``), instead of the several
    autograd nodes per step that the plain loop would record. ``a, u``: ``(T, ...)``, ``h0``: ``(...)``.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, u: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        hs = torch.empty_like(u)                                       # (T, B, d, N)
        h = h0
        for t in range(u.shape[0]):
            h = torch.addcmul(u[t], a[t], h, out=hs[t])                # h_t = Ā_t h_{t-1} + B̄_t x_t  (Eq. 2a)
        ctx.save_for_backward(a, hs, h0)
        return hs

    @staticmethod
    def backward(ctx, grad_hs: torch.Tensor):
        a, hs, h0 = ctx.saved_tensors
        g = torch.empty_like(grad_hs)                                  # g_t = ∂L/∂h_t, through all later steps
        g[-1] = grad_hs[-1]
        for t in range(grad_hs.shape[0] - 2, -1, -1):
            torch.addcmul(grad_hs[t], a[t + 1], g[t + 1], out=g[t])
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]])                 # h_{t-1}
        return g * h_prev, g, a[0] * g[0]                              # ∂L/∂a_t, ∂L/∂u_t, ∂L/∂h_0


def selective_scan_loop(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                        C: torch.Tensor, D: torch.Tensor | None = None,
                        h0: torch.Tensor | None = None, return_state: bool = False):
    """The recurrence of Eq. 2a-2b one position at a time (Algorithm 2 in recurrent mode).

    Returns ``y`` ``(B, T, d)`` (plus ``D ⊙ x``, the skip connection, when ``D`` ``(d,)`` is
    given) and, with ``return_state``, the last state ``h_T`` ``(B, d, N)``.
    """
    _check_scan(x, delta, A, B, C)
    log_a, b_bar = discretize(delta, A, B)                             # (B, T, d, N)
    c = _per_channel(C)                                                # (B, T, 1 or d, N)
    h = x.new_zeros(x.shape[0], x.shape[2], A.shape[1]) if h0 is None else h0   # (B, d, N)
    # time-major and contiguous, so that each step reads and writes one dense (B, d, N) block
    decays = torch.exp(log_a).transpose(0, 1).contiguous()             # (T, B, d, N): Ā_t
    writes = (b_bar * x.unsqueeze(-1)).transpose(0, 1).contiguous()    # (T, B, d, N): B̄_t x_t
    hs = _LinearRecurrence.apply(decays, writes, h).transpose(0, 1)    # (B, T, d, N): every h_t
    h = hs[:, -1]
    if C.dim() == 3:                                                   # shared by the channels: a batched product
        y = (hs.reshape(-1, *hs.shape[2:]) @ C.reshape(-1, C.shape[-1], 1)).view(x.shape)   # (B, T, d)
    else:
        y = (hs * c).sum(-1)                                           # (B, T, d): y_t = C_t h_t (Eq. 2b)
    if D is not None:
        y = y + D * x
    return (y, h) if return_state else y


def selective_scan(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                   C: torch.Tensor, D: torch.Tensor | None = None, chunk: int = 16,
                   h0: torch.Tensor | None = None, return_state: bool = False):
    """The same recurrence computed in parallel within chunks of ``chunk`` positions.

    Unrolling Eq. 2a, ``h_t = Σ_{s≤t} exp(Σ_{r=s+1..t} Δ_r A) B̄_s x_s`` (plus the decayed
    state carried in from the previous chunk): with ``L_t`` the cumulative sum of the
    log-decays ``Δ A`` within a chunk, the weight of position ``s`` in ``h_t`` is
    ``exp(L_t - L_s)`` for ``s ≤ t``, a lower-triangular ``(chunk × chunk)`` matrix per channel
    and state dimension. Each chunk is one batched product; only the ``T / chunk`` chunk
    boundaries are sequential. (Mamba's CUDA kernel uses a parallel associative scan instead;
    Mamba-2's chunked algorithm is this one.) Equals :func:`selective_scan_loop`.
    """
    _check_scan(x, delta, A, B, C)
    positive_int("chunk", chunk)
    log_a, b_bar = discretize(delta, A, B)                             # (B, T, d, N)
    u = b_bar * x.unsqueeze(-1)                                        # (B, T, d, N): B̄_t x_t
    c = _per_channel(C)                                                # (B, T, 1 or d, N)
    h = x.new_zeros(x.shape[0], x.shape[2], A.shape[1]) if h0 is None else h0   # (B, d, N)
    ys = []
    for start in range(0, x.shape[1], chunk):
        la, uc = log_a[:, start:start + chunk], u[:, start:start + chunk]          # (B, L, d, N)
        n = la.shape[1]
        cum = la.cumsum(1)                                                          # (B, L, d, N): L_t
        diff = cum.unsqueeze(2) - cum.unsqueeze(1)                                  # (B, L_t, L_s, d, N): L_t - L_s
        causal = causal_mask(n, x.device)[:, :, None, None]                          # (L_t, L_s, 1, 1)
        weights = torch.exp(diff.masked_fill(~causal, float("-inf")))               # 0 above the diagonal
        hs = (weights * uc.unsqueeze(1)).sum(2) + torch.exp(cum) * h.unsqueeze(1)   # (B, L, d, N): every h_t
        ys.append((hs * c[:, start:start + chunk]).sum(-1))                         # (B, L, d)
        h = hs[:, -1]                                                               # (B, d, N): carried on
    y = torch.cat(ys, dim=1)                                                        # (B, T, d)
    if D is not None:
        y = y + D * x
    return (y, h) if return_state else y


def ssm_step(x_t: torch.Tensor, delta_t: torch.Tensor, A: torch.Tensor, B_t: torch.Tensor,
             C_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One decoding step: ``x_t, Δ_t`` ``(B, d)``, ``B_t, C_t`` ``(B, N)`` or ``(B, d, N)``, state ``h`` ``(B, d, N)``."""
    if x_t.dim() != 2 or delta_t.shape != x_t.shape or h.shape != (*x_t.shape, A.shape[-1]):
        raise ValueError(f"need x_t, delta_t (batch, d) and h (batch, d, N); got {tuple(x_t.shape)}, "
                         f"{tuple(delta_t.shape)}, {tuple(h.shape)}")
    b = B_t.unsqueeze(1) if B_t.dim() == 2 else B_t                    # (B, 1 or d, N)
    c = C_t.unsqueeze(1) if C_t.dim() == 2 else C_t
    dA = delta_t.unsqueeze(-1) * A                                     # (B, d, N)
    h = torch.exp(dA) * h + delta_t.unsqueeze(-1) * b * x_t.unsqueeze(-1)   # (B, d, N): Eq. 2a
    return (h * c).sum(-1), h                                          # (B, d): Eq. 2b


def _init_dt_bias(d: int, dt_min: float, dt_max: float) -> torch.Tensor:
    """Mamba's initialisation: Δ log-uniform in ``[dt_min, dt_max]``, stored through the inverse softplus."""
    dt = torch.exp(torch.rand(d) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    return dt + torch.log(-torch.expm1(-dt))                           # softplus⁻¹(dt)


class _DiagonalSSM(nn.Module):
    """What both SSMs share: ``A = -exp(A_log)`` with the S4D-real initialisation ``A_n = -(n + 1)``,
    and the skip ``D`` (Gu & Dao, Section 3.6)."""

    def __init__(self, d: int, d_state: int):
        super().__init__()
        self.d, self.d_state = positive_int("d", d), positive_int("d_state", d_state)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d, 1))  # (d, N)
        self.D = nn.Parameter(torch.ones(d))

    @property
    def A(self) -> torch.Tensor:
        return -torch.exp(self.A_log)                                  # (d, N), negative: a stable, decaying state

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.d:
            raise ValueError(f"x must have shape (batch, n, {self.d}), got {tuple(x.shape)}")

    def parameters_for(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """``(B, T, d)`` → ``(B, T, d)``. By default the sequential scan (on a CPU and at the book's
        lengths the fastest); ``chunk=L`` runs the chunked parallel scan instead (same outputs)."""
        self._check(x)
        delta, B, C = self.parameters_for(x)                           # (B, T, d), (B, T, [d,] N) x2
        if chunk is None:
            return selective_scan_loop(x, delta, self.A, B, C, self.D)  # (B, T, d)
        return selective_scan(x, delta, self.A, B, C, self.D, chunk)   # (B, T, d)

    def new_state(self, batch_size: int, device: torch.device | None = None) -> torch.Tensor:
        return torch.zeros(positive_int("batch_size", batch_size), self.d, self.d_state, device=device)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One token ``(B, d)`` → output ``(B, d)`` and new state ``(B, d, N)``; cost independent of the position."""
        delta, B, C = self.parameters_for(x_t.unsqueeze(1))            # a sequence of one
        y, h = ssm_step(x_t, delta[:, 0], self.A, B[:, 0], C[:, 0], h)
        return y + self.D * x_t, h


class SelectiveSSM(_DiagonalSSM):
    """S6, Mamba's selective SSM (Section 3.2, Algorithm 2): ``Δ, B, C`` computed from the input.

    ``B = s_B(x)``, ``C = s_C(x)`` (linear maps to ``N``), ``Δ = softplus(s_Δ(x))`` with
    ``s_Δ`` a rank-``dt_rank`` linear map to ``d`` plus a bias (``τ_Δ = softplus``). ``A`` and
    ``D`` stay parameters.
    """

    def __init__(self, d: int, d_state: int = 16, dt_rank: int | None = None,
                 dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__(d, d_state)
        self.dt_rank = positive_int("dt_rank", dt_rank if dt_rank is not None else math.ceil(d / 16))
        positive("dt_min", dt_min)
        if dt_max < dt_min:
            raise ValueError(f"dt_max ({dt_max}) must be >= dt_min ({dt_min})")
        self.x_proj = nn.Linear(d, self.dt_rank + 2 * d_state, bias=False)   # s_Δ (first part), s_B, s_C
        self.dt_proj = nn.Linear(self.dt_rank, d)
        with torch.no_grad():
            self.dt_proj.bias.copy_(_init_dt_bias(d, dt_min, dt_max))

    def parameters_for(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)  # (B, T, r), (B, T, N) x2
        delta = F.softplus(self.dt_proj(dt))                           # (B, T, d): Δ = softplus(s_Δ(x)), input-dependent
        return delta, B, C


class LTISSM(_DiagonalSSM):
    """A time-invariant diagonal SSM (S4D-style): ``Δ`` ``(d,)``, ``B`` and ``C`` ``(d, N)`` are parameters.

    Every position uses the same ``Ā, B̄, C``, whatever the input: the layer is a fixed
    convolution of each channel with the kernel ``K_k = C Ā^k B̄`` (Eq. 3a-3b).
    """

    def __init__(self, d: int, d_state: int = 16, dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__(d, d_state)
        positive("dt_min", dt_min)
        self.log_dt = nn.Parameter(torch.log(F.softplus(_init_dt_bias(d, dt_min, dt_max))))   # (d,)
        self.B = nn.Parameter(torch.ones(d, d_state))
        self.C = nn.Parameter(torch.randn(d, d_state) * d_state ** -0.5)

    def parameters_for(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        delta = torch.exp(self.log_dt).expand(b, t, d)                 # (B, T, d): the same at every position
        return delta, self.B.expand(b, t, d, self.d_state), self.C.expand(b, t, d, self.d_state)


SSM_KINDS = {"selective": SelectiveSSM, "lti": LTISSM}


class MambaBlock(nn.Module):
    """The Mamba block (Section 3.4, Figure 3): ``out_proj(SSM(σ(conv(W_x u))) ⊙ σ(W_z u))``.

    ``in_proj`` expands ``d_model`` to ``2 · d_inner`` (``d_inner = expand · d_model``): one half
    goes through a short causal depthwise convolution, SiLU and the SSM, the other half is a
    SiLU gate. ``ssm="selective"`` is Mamba (S6); ``ssm="lti"`` puts an S4-style time-invariant
    SSM in the same block (Table 1's "Mamba architecture, S4 layer").
    """

    def __init__(self, d_model: int, d_state: int = 16, expand: int = 2, d_conv: int = 4, ssm: str = "selective"):
        super().__init__()
        self.d_model = positive_int("d_model", d_model)
        self.d_inner = positive_int("expand", expand) * d_model
        self.d_conv = positive_int("d_conv", d_conv)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.ssm = SSM_KINDS[one_of("ssm", ssm, SSM_KINDS)](self.d_inner, d_state)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(f"u must have shape (batch, n, {self.d_model}), got {tuple(u.shape)}")
        x, z = self.in_proj(u).chunk(2, dim=-1)                        # (B, T, d_inner) x2
        x = self.conv(x.transpose(1, 2))[..., :u.shape[1]]             # (B, d_inner, T): causal (left-padded) conv
        x = F.silu(x.transpose(1, 2))                                  # (B, T, d_inner)
        y = self.ssm(x) * F.silu(z)                                    # (B, T, d_inner): SSM, then the gate
        return self.out_proj(y)                                        # (B, T, d_model)

    def new_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoding state: the last ``d_conv - 1`` conv inputs and the SSM state, both of fixed size."""
        return torch.zeros(batch_size, self.d_inner, self.d_conv - 1), self.ssm.new_state(batch_size)

    def step(self, u_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One token ``(B, d_model)`` → ``(B, d_model)`` and the new state."""
        if u_t.dim() != 2 or u_t.shape[-1] != self.d_model:
            raise ValueError(f"u_t must have shape (batch, {self.d_model}), got {tuple(u_t.shape)}")
        conv_state, h = state
        x, z = self.in_proj(u_t).chunk(2, dim=-1)                      # (B, d_inner) x2
        window = torch.cat([conv_state, x.unsqueeze(-1)], dim=-1)      # (B, d_inner, d_conv)
        x = F.silu((window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)   # (B, d_inner)
        y, h = self.ssm.step(x, h)                                     # (B, d_inner), (B, d_inner, N)
        return self.out_proj(y * F.silu(z)), (window[..., 1:], h)      # (B, d_model)

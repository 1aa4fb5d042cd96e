"""Recurrent networks, run one position at a time as recurrence requires.

* :class:`ElmanRNN`: the Elman (1990) recurrence on one unbatched sequence;
* :class:`TanhRNN` and :class:`LSTM`: batch-first ``(B, T, d)`` layers, the LSTM of Hochreiter &
  Schmidhuber (1997) with the forget gate of Gers et al. (2000), each equal to its torch module;
* :class:`RNNLM`: the recurrent language model of Mikolov et al. (2010), "Recurrent neural
  network based language model", Interspeech 2010.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from llmnotes.checks import number, one_of, positive_fields, positive_int, shape, token_ids
from llmnotes.models.base import Model


class ElmanRNN(nn.Module):
    """The simplest recurrent layer: ``h_t = tanh(W_x x_t + W_h h_{t-1} + b)``, ``h_0 = 0``."""

    def __init__(self, d: int):
        super().__init__()
        self.d = positive_int("d", d)
        self.w_x = nn.Linear(d, d)
        self.w_h = nn.Linear(d, d, bias=False)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.w_x(x_t) + self.w_h(h))

    def states(self, x: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The hidden state after each position; ``x`` is ``(n, d)`` or a list of n vectors."""
        positions = list(x)
        if not positions or any(p.shape != (self.d,) for p in positions):
            raise ValueError(f"x must be n >= 1 positions of size {self.d}, got shapes "
                             f"{[tuple(p.shape) for p in positions][:3]}")
        h = positions[0].new_zeros(self.d)
        outputs = []
        for x_t in positions:
            h = self.step(x_t, h)
            outputs.append(h)
        return outputs

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(self.states(x))


# Batched recurrent layers and a recurrent language model: everything below is batch-first, (B, T, d).


class _Recurrent(nn.Module):
    """A layer that runs ``step`` over the positions of a batch-first sequence ``(B, T, d_in)``."""

    d_in: int
    d_model: int

    def initial_state(self, x: torch.Tensor):
        raise NotImplementedError

    def _check(self, x: torch.Tensor, state) -> None:
        shape("x", x, ("B", "T", self.d_in))
        if x.shape[1] < 1:
            raise ValueError("x must have at least one position (T >= 1)")
        for name, s in zip(("h", "c"), state if isinstance(state, tuple) else (state,)):
            shape(f"state {name}", s, (x.shape[0], self.d_model))

    def step(self, x_t: torch.Tensor, state):
        """One position: ``x_t`` is ``(B, d_in)``; returns the new state."""
        return self.recur(self.w_x(x_t), state)

    def recur(self, wx_t: torch.Tensor, state):
        """One position from the input term ``W_x x_t + b`` (computed for all positions at once)."""
        raise NotImplementedError

    def _copy_torch(self, module: nn.RNNBase):
        """Take the weights of a one-layer torch recurrent module; its two biases become our one."""
        with torch.no_grad():
            self.w_x.weight.copy_(module.weight_ih_l0)
            self.w_x.bias.copy_(module.bias_ih_l0 + module.bias_hh_l0)
            self.w_h.weight.copy_(module.weight_hh_l0)
        return self

    def forward(self, x: torch.Tensor, state=None):
        """``(outputs, state)``: the hidden state after every position ``(B, T, d_model)`` and the last state.

        ``state`` defaults to zeros (``h_0 = 0``, and ``c_0 = 0`` for the LSTM). The input term
        does not depend on the state, so it is one matrix product for the whole sequence; only
        the recurrent term must wait for the previous position.
        """
        state = self.initial_state(x) if state is None else state
        self._check(x, state)
        wx = self.w_x(x)                                                        # (B, T, d_gates)
        outputs = []
        for t in range(x.shape[1]):
            state = self.recur(wx[:, t], state)                                 # (B, d_model) each
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, dim=1), state                              # (B, T, d_model)


class TanhRNN(_Recurrent):
    """The Elman recurrence for a batch: ``h_t = tanh(W_x x_t + W_h h_{t-1} + b)``.

    The hidden layer of Mikolov et al. (2010, Section 2), with tanh in place of their logistic
    sigmoid (the two differ by an affine change of units: tanh(a) = 2σ(2a) - 1). Equal to
    ``torch.nn.RNN(nonlinearity="tanh")`` with the same weights (:meth:`from_torch`).
    """

    def __init__(self, d_in: int, d_model: int):
        super().__init__()
        self.d_in, self.d_model = positive_int("d_in", d_in), positive_int("d_model", d_model)
        self.w_x = nn.Linear(d_in, d_model)                  # W_x and the bias b
        self.w_h = nn.Linear(d_model, d_model, bias=False)   # W_h, the recurrent weights

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.d_model)                            # (B, d_model)

    def recur(self, wx_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(wx_t + self.w_h(h))                                   # (B, d_model)

    @classmethod
    def from_torch(cls, rnn: nn.RNN) -> "TanhRNN":
        """A copy of a one-layer, batch-first ``torch.nn.RNN`` with tanh (its two biases summed)."""
        if rnn.num_layers != 1 or rnn.nonlinearity != "tanh" or rnn.bidirectional or not rnn.bias:
            raise ValueError("from_torch needs a one-layer, unidirectional tanh nn.RNN with biases")
        return cls(rnn.input_size, rnn.hidden_size)._copy_torch(rnn)


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997) with the forget gate of Gers et al. (2000).

    With ``z = W_x x_t + W_h h_{t-1} + b`` split into four blocks of ``d_model`` (torch's order):

    * input gate ``i = σ(z_i)``, forget gate ``f = σ(z_f)``, output gate ``o = σ(z_o)``,
    * candidate ``g = tanh(z_g)``,
    * cell ``c_t = f ⊙ c_{t-1} + i ⊙ g``, the *constant error carousel* when ``f = 1``,
    * output ``h_t = o ⊙ tanh(c_t)``.

    The 1997 LSTM had no forget gate (``f = 1``: ``∂c_t/∂c_{t-1} = I``); Gers et al. added it so
    that a cell can reset itself. ``forget_bias`` (if given) sets the forget gate's bias, a
    common initialisation that starts the carousel nearly open. Equal to ``torch.nn.LSTM``
    with the same weights (:meth:`from_torch`).
    """

    def __init__(self, d_in: int, d_model: int, forget_bias: float | None = None):
        super().__init__()
        self.d_in, self.d_model = positive_int("d_in", d_in), positive_int("d_model", d_model)
        self.w_x = nn.Linear(d_in, 4 * d_model)                  # the four W_x and b, stacked
        self.w_h = nn.Linear(d_model, 4 * d_model, bias=False)   # the four W_h, stacked
        if forget_bias is not None:
            with torch.no_grad():
                self.w_x.bias[d_model:2 * d_model] = number("forget_bias", forget_bias)

    def initial_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = x.new_zeros(x.shape[0], self.d_model)
        return zeros, zeros                                                      # h_0, c_0: (B, d_model)

    def recur(self, wx_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        h, c = state                                                             # (B, d_model) each
        z = wx_t + self.w_h(h)                                                   # (B, 4 d_model)
        i, f, _, o = torch.sigmoid(z).chunk(4, dim=-1)                           # gates in (0, 1)
        g = torch.tanh(z[:, 2 * self.d_model:3 * self.d_model])                  # candidate in (-1, 1)
        c = f * c + i * g                                                        # c_t = f c_{t-1} + i g
        return o * torch.tanh(c), c                                              # h_t, c_t

    @classmethod
    def from_torch(cls, lstm: nn.LSTM) -> "LSTM":
        """A copy of a one-layer, batch-first ``torch.nn.LSTM`` (its two biases summed)."""
        if lstm.num_layers != 1 or lstm.bidirectional or not lstm.bias or lstm.proj_size:
            raise ValueError("from_torch needs a one-layer, unidirectional nn.LSTM with biases, no projection")
        return cls(lstm.input_size, lstm.hidden_size)._copy_torch(lstm)


CELLS = ("tanh", "lstm")


@dataclass(frozen=True)
class RNNLMConfig:
    vocab_size: int
    d_model: int = 64
    n_layer: int = 1
    cell: str = "tanh"                 # "tanh" (Elman, Mikolov et al. 2010) or "lstm"
    forget_bias: float | None = None   # LSTM only: initial forget-gate bias

    def __post_init__(self):
        positive_fields(self, "vocab_size", "d_model", "n_layer")
        one_of("RNNLMConfig.cell", self.cell, CELLS)
        if self.forget_bias is not None and self.cell != "lstm":
            raise ValueError("RNNLMConfig.forget_bias applies to cell='lstm' only")


class RNNLM(Model):
    """A recurrent language model (Mikolov et al., 2010): embed, recur, predict the next token.

    Mikolov et al.'s input is the one-hot word concatenated with the previous state; multiplying
    a one-hot by a matrix is an embedding lookup, so ``tok_emb`` followed by the layer's ``W_x``
    is their input matrix ``U`` (factored). The output layer is a softmax over the vocabulary.
    ``forward`` has the interface of :class:`~llmnotes.models.gpt.GPT` (logits, and the loss
    with targets); :meth:`run` also takes and returns the recurrent state, for generation.
    """

    def __init__(self, cfg: RNNLMConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        layer = TanhRNN if cfg.cell == "tanh" else lambda d_in, d: LSTM(d_in, d, cfg.forget_bias)
        self.layers = nn.ModuleList(layer(cfg.d_model, cfg.d_model) for _ in range(cfg.n_layer))
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)

    def run(self, idx: torch.Tensor, state: list | None = None):
        """``(logits (B, T, vocab), state)``, starting from ``state`` (one entry per layer; None: zeros)."""
        token_ids("idx", idx, self.cfg.vocab_size)
        if state is not None and len(state) != self.cfg.n_layer:
            raise ValueError(f"state must have one entry per layer ({self.cfg.n_layer}), got {len(state)}")
        x = self.tok_emb(idx)                                                    # (B, T, d_model)
        new_state = []
        for i, layer in enumerate(self.layers):
            x, s = layer(x, None if state is None else state[i])                 # (B, T, d_model)
            new_state.append(s)
        return self.head(x), new_state                                           # (B, T, vocab)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits ``(B, T, vocab)``; with ``targets``, also the mean cross-entropy."""
        logits, _ = self.run(idx)                                                # (B, T, vocab)
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

"""Feed-forward layers as key-value memories: record, ablate and read the neurons of a decoder's FFN.

Geva, Schuster, Berant & Levy (2021), "Transformer Feed-Forward Layers Are Key-Value Memories"
(EMNLP), Section 2, write a two-layer feed-forward layer as an unnormalised key-value memory:

    FF(x) = f(x · Kᵀ) · V,    K, V ∈ R^{d_m × d},

whose ``i``-th *key* is row ``i`` of the first matrix, whose *memory coefficient* is
``m_i = f(x · k_i)``, and whose *value* ``v_i`` is row ``i`` of the second matrix (column ``i``
of ``W_down`` in ``nn.Linear``'s layout): the output is ``Σ_i m_i v_i``. In a SwiGLU layer
(LLaMA, SmolLM2) the coefficient is gated, ``m = SiLU(W_gate x) ⊙ (W_up x)``, so each neuron
has two keys (a row of ``W_gate`` and a row of ``W_up``) and one value, and the coefficient
can be negative. In both cases ``m`` is exactly the input of ``down_proj``: this module reads
and edits it there, with forward pre-hooks on ``model.blocks[layer].ffn.down_proj``, so it works
for every model of the book whose blocks have an ``ffn`` with a ``down_proj`` (:class:`Llama`,
:class:`GPT`).

* :class:`FFNRecorder` / :func:`record_ffn_activations`: the coefficients of chosen layers
  (Geva et al., Section 3: the prefixes that activate a key most are its *trigger examples*).
* :func:`scale_ffn_neurons` / :func:`ablate_ffn_neurons`: multiply chosen coefficients by a
  factor, 0 to knock neurons out, 2 to amplify them (Dai et al., 2022, "Knowledge Neurons in
  Pretrained Transformers", ACL, Section 4: suppressing and amplifying knowledge neurons).
* :func:`value_logits` / :func:`top_value_tokens`: a value projected onto the vocabulary by the
  output embedding, ``E · v_i`` (Geva et al. 2021, Section 4; Geva, Caciularu, Wang & Goldberg,
  2022, EMNLP, Section 2: each value is a "sub-update" that promotes tokens).
* :func:`neuron_attribution`: activation × gradient of ``log p(target)``, the one-step
  (first-order) version of Dai et al.'s integrated-gradients knowledge attribution (Eq. 3).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

from llmnotes.checks import non_negative_int, number, positive_int, token_ids

Neurons = Mapping[int, Sequence[int] | torch.Tensor]
"""Neurons to edit: ``{layer: neuron indices}``."""


def _blocks(model: nn.Module) -> nn.ModuleList:
    blocks = getattr(model, "blocks", None)
    if blocks is None or not len(blocks) or not all(hasattr(getattr(b, "ffn", None), "down_proj") for b in blocks):
        raise ValueError("model must have .blocks whose .ffn has a .down_proj (Llama, GPT)")
    return blocks


def ffn_width(model: nn.Module) -> int:
    """The number of memories (neurons) per layer, ``d_ff``."""
    return _blocks(model)[0].ffn.down_proj.in_features


def check_layer(model: nn.Module, layer: int) -> int:
    """``layer`` as an index in ``[0, n_layer)``, else a ``ValueError`` naming the range."""
    n_layer = len(_blocks(model))
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n_layer:
        raise ValueError(f"layer must be an int in [0, {n_layer}), got {layer!r}")
    return layer


def _layers(model: nn.Module, layers: Sequence[int] | None) -> list[int]:
    if layers is None:
        return list(range(len(_blocks(model))))
    layers = [check_layer(model, layer) for layer in layers]
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers must not repeat, got {layers}")
    return layers


def _neuron_index(model: nn.Module, layer: int, neurons: Sequence[int] | torch.Tensor) -> torch.Tensor:
    idx = torch.as_tensor(neurons, dtype=torch.long).flatten()
    d_ff = ffn_width(model)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= d_ff):
        raise ValueError(f"neuron indices of layer {layer} must be in [0, {d_ff}), "
                         f"got [{int(idx.min())}, {int(idx.max())}]")
    return idx


class FFNRecorder:
    """Context manager that records the memory coefficients ``m`` of chosen FFN layers.

    ``m`` is the input of ``down_proj`` (``SiLU(W_gate x) ⊙ W_up x`` in SwiGLU, ``act(W_up x + b)``
    in a ReLU/GELU MLP), shape ``(B, T, d_ff)``; after each forward pass inside the ``with``
    block, ``recorder.activations[layer]`` holds it (detached), or ``reduce(m)`` if ``reduce``
    is given (e.g. a maximum over positions, to keep memory small). With ``retain_grad=True``
    the live tensors are kept in ``recorder.live[layer]`` with ``retain_grad()``, so that
    after ``backward()`` their ``.grad`` is the gradient with respect to each coefficient.
    The hooks are removed on exit, also when an exception is raised.

        with FFNRecorder(model, layers=[0, 5]) as rec:
            model(ids)
        rec.activations[5]          # (B, T, d_ff)
    """

    def __init__(self, model: nn.Module, layers: Sequence[int] | None = None,
                 reduce: Callable[[torch.Tensor], torch.Tensor] | None = None, retain_grad: bool = False):
        self.model = model
        self.layers = _layers(model, layers)
        self.reduce = reduce
        self.retain_grad = bool(retain_grad)
        self.activations: dict[int, torch.Tensor] = {}
        self.live: dict[int, torch.Tensor] = {}
        self._handles: list = []

    def _hook(self, layer: int):
        def hook(module, args):
            m = args[0]                                                   # (B, T, d_ff) coefficients
            if self.retain_grad and m.requires_grad:
                m.retain_grad()
                self.live[layer] = m
            m = m.detach()
            self.activations[layer] = m if self.reduce is None else self.reduce(m)
        return hook

    def __enter__(self) -> "FFNRecorder":
        blocks = _blocks(self.model)
        self._handles = [blocks[layer].ffn.down_proj.register_forward_pre_hook(self._hook(layer))
                         for layer in self.layers]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@torch.no_grad()
def record_ffn_activations(model: nn.Module, ids: torch.Tensor, layers: Sequence[int] | None = None,
                           reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[int, torch.Tensor]:
    """Memory coefficients ``{layer: (B, T, d_ff)}`` of one forward pass over token ids ``(B, T)``.

    The forward pass runs only up to the last requested layer (the later blocks, the final norm
    and the output projection are skipped), through ``model.hidden``-like code: a
    :class:`FFNRecorder` on a pass that stops early. ``reduce`` is applied to each layer's
    tensor before it is stored (see :class:`FFNRecorder`).
    """
    layers = _layers(model, layers)
    token_ids("ids", ids, model.cfg.vocab_size)
    last = max(layers)

    class _Stop(Exception):
        pass

    def stop(module, args, out):
        raise _Stop

    with FFNRecorder(model, layers, reduce) as recorder:
        handle = _blocks(model)[last].register_forward_hook(stop)
        try:
            model(ids)
        except _Stop:
            pass
        finally:
            handle.remove()
    return recorder.activations


@contextmanager
def scale_ffn_neurons(model: nn.Module, neurons: Neurons, factor: float = 0.0,
                      positions: int | slice | Sequence[int] | None = None) -> Iterator[None]:
    """Inside the ``with`` block, multiply the coefficients ``m_i`` of ``neurons`` by ``factor``.

    ``neurons`` is ``{layer: indices}``. ``factor=0`` knocks the memories out (their values are
    no longer added to the residual stream), ``factor=2`` doubles them, as Dai et al. (2022,
    Section 4) suppress and amplify knowledge neurons. ``positions`` restricts the edit to some
    sequence positions (e.g. ``-1``, the position that predicts the next token); ``None`` edits
    every position. The hooks are removed on exit.
    """
    factor = number("factor", factor)
    if not isinstance(neurons, Mapping):
        raise ValueError(f"neurons must be a mapping {{layer: indices}}, got {type(neurons).__name__}")
    where = slice(None) if positions is None else positions
    if isinstance(where, int):
        where = [where]
    edits = {check_layer(model, layer): _neuron_index(model, layer, idx) for layer, idx in neurons.items()}
    blocks = _blocks(model)

    def hook_for(idx: torch.Tensor):
        def hook(module, args):
            m = args[0].clone()                                           # (B, T, d_ff)
            m[:, where, idx] = m[:, where, idx] * factor
            return (m,) + tuple(args[1:])
        return hook

    handles = [blocks[layer].ffn.down_proj.register_forward_pre_hook(hook_for(idx))
               for layer, idx in edits.items() if idx.numel()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def ablate_ffn_neurons(model: nn.Module, neurons: Neurons,
                       positions: int | slice | Sequence[int] | None = None):
    """Knock out ``neurons`` (``{layer: indices}``): :func:`scale_ffn_neurons` with ``factor=0``."""
    return scale_ffn_neurons(model, neurons, 0.0, positions)


def value_vectors(model: nn.Module, layer: int) -> torch.Tensor:
    """The values of one layer, ``(d_ff, d_model)``: row ``i`` is ``v_i``, column ``i`` of ``W_down``."""
    return _blocks(model)[check_layer(model, layer)].ffn.down_proj.weight.detach().T


@torch.no_grad()
def value_logits(model: nn.Module, layer: int, neurons: Sequence[int] | torch.Tensor | None = None,
                 norm_gain: bool = True) -> torch.Tensor:
    """Values projected onto the vocabulary, ``(n, vocab)``: ``E · (g ⊙ v_i)`` (Geva et al. 2021, Section 4).

    ``E`` is the output projection ``model.head.weight``; ``g`` is the gain of the final norm
    (``model.norm.weight``), which every vector passes through before ``E`` (the norm's division
    by the RMS rescales all logits of one vector alike and does not change their ranking).
    ``norm_gain=False`` projects ``v_i`` by ``E`` alone, as the paper does (its model has no
    final norm gain in front of the output embedding). ``neurons`` selects rows; all by default.
    """
    values = value_vectors(model, layer)                                  # (d_ff, d_model)
    if neurons is not None:
        values = values[_neuron_index(model, layer, neurons)]
    gain = getattr(getattr(model, "norm", None), "weight", None)
    if norm_gain and gain is not None:
        values = values * gain.detach()
    return values @ model.head.weight.detach().T                          # (n, vocab)


def top_value_tokens(model: nn.Module, layer: int, k: int = 10,
                     neurons: Sequence[int] | torch.Tensor | None = None, norm_gain: bool = True) -> torch.Tensor:
    """Ids of the ``k`` tokens each value promotes most, ``(n, k)`` (top of :func:`value_logits`)."""
    k = positive_int("k", k)
    return value_logits(model, layer, neurons, norm_gain).topk(k, dim=-1).indices


def neuron_attribution(model: nn.Module, ids: torch.Tensor, target: int, position: int = -1,
                       layers: Sequence[int] | None = None) -> dict[int, torch.Tensor]:
    """Attribution of every neuron to ``log p(target)`` at ``position``: ``m_i · ∂ log p / ∂ m_i``.

    ``{layer: (d_ff,)}`` for one prompt (``ids`` of shape ``(1, T)``), the coefficients taken at
    ``position``. This is the first-order (one-step) approximation of Dai et al.'s (2022,
    Eq. 3) integrated gradients, which integrate the gradient along ``α·m`` for ``α`` in
    ``[0, 1]``: one forward and one backward pass for all neurons of all layers. A large
    positive score marks a memory whose removal should lower ``p(target)`` the most.
    """
    token_ids("ids", ids, model.cfg.vocab_size)
    if ids.shape[0] != 1:
        raise ValueError(f"neuron_attribution takes one prompt, ids of shape (1, T), got {tuple(ids.shape)}")
    target = non_negative_int("target", target)
    if target >= model.cfg.vocab_size:
        raise ValueError(f"target must be in [0, {model.cfg.vocab_size}), got {target}")
    if isinstance(position, bool) or not isinstance(position, int) or not -ids.shape[1] <= position < ids.shape[1]:
        raise ValueError(f"position must be an int in [-{ids.shape[1]}, {ids.shape[1]}), got {position!r}")
    layers = _layers(model, layers)
    params = [p for p in model.parameters() if p.requires_grad]
    # the gradient is wanted for the coefficients only: freeze the weights, and let the
    # embedding output require grad so that every coefficient downstream of it does
    leaf = model.tok_emb.register_forward_hook(lambda module, args, out: out.detach().requires_grad_(True))
    try:
        for p in params:
            p.requires_grad_(False)
        with torch.enable_grad(), FFNRecorder(model, layers, retain_grad=True) as recorder:
            logits = model(ids)                                               # (1, T, vocab)
            logits = logits[0] if isinstance(logits, tuple) else logits       # GPT returns (logits, loss)
            logp = torch.log_softmax(logits[0, position].float(), dim=-1)[target]
            logp.backward()
    finally:
        leaf.remove()
        for p in params:
            p.requires_grad_(True)
    return {layer: (m[0, position] * m.grad[0, position]).detach() for layer, m in recorder.live.items()}



@torch.no_grad()
def embedding_moments(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(d_model,)`` and biased covariance ``(d_model, d_model)`` of the output embedding's rows."""
    emb = model.head.weight.detach()                                      # (vocab, d_model)
    mean = emb.mean(0)                                                    # (d_model,)
    centred = emb - mean                                                  # (vocab, d_model)
    return mean, centred.T @ centred / emb.shape[0]                       # (d_model,), (d_model, d_model)


@torch.no_grad()
def value_token_zscores(model: nn.Module, layer: int, tokens: Sequence[int] | torch.Tensor,
                        norm_gain: bool = True,
                        moments: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """How strongly each value promotes chosen tokens: z-scores ``(d_ff, n_tokens)``.

    Entry ``(i, j)`` is the logit of token ``tokens[j]`` in :func:`value_logits` row ``i``,
    minus the mean and divided by the standard deviation of that row over the whole
    vocabulary; ``z ≥ 3`` puts a token among the few tenths of a percent a value promotes most
    (for roughly Gaussian logits). Computed without forming the ``(d_ff, vocab)`` matrix: with
    ``u_i = g ⊙ v_i`` and the rows ``e_t`` of the output embedding, the row mean is ``ē · u_i``
    and its variance ``u_iᵀ C u_i``, with ``(ē, C)`` = :func:`embedding_moments` (pass them as
    ``moments`` to reuse them across layers).
    """
    values = value_vectors(model, layer)                                  # (d_ff, d_model)
    gain = getattr(getattr(model, "norm", None), "weight", None)
    if norm_gain and gain is not None:
        values = values * gain.detach()
    emb = model.head.weight.detach()                                      # (vocab, d_model)
    idx = torch.as_tensor(tokens, dtype=torch.long).flatten()
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= emb.shape[0]):
        raise ValueError(f"tokens must be in [0, {emb.shape[0]}), got [{int(idx.min())}, {int(idx.max())}]")
    mean, cov = embedding_moments(model) if moments is None else moments
    std = ((values @ cov) * values).sum(-1).clamp_min(1e-30).sqrt()       # (d_ff,)
    return (values @ (emb[idx] - mean).T) / std[:, None]                  # (d_ff, n_tokens)

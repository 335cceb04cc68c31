"""Differentially private training of the (conditional) TVAE with DP-SGD (opacus).

What is private and what is not
-------------------------------
With `"differential_privacy": {"epsilon": e, "delta": d}` in training_configs.json, the TVAE's
encoder and decoder weights are trained with DP-SGD: each step's per-row gradients are clipped to
`max_grad_norm`, Gaussian noise is added, and rows enter a step by Poisson sampling; opacus's RDP
accountant picks the noise so that the whole training run (all its epochs) spends (e, d). What the
networks learned is then (e, d)-differentially private with respect to one row of the training table.

Everything else fitted on the real rows is NOT covered, and the report says so:
- ctgan's DataTransformer (per numeric column a Gaussian mixture: its modes, means and spreads; per
  discrete column its categories) fitted before training;
- SDV's preprocessing (min/max clipping of every numeric column, rounding digits, categories);
- the domain layer (discovered rules, per-class quantiles, placeholder values, count grids) and
  the class shares the model is conditioned on and asked for.
These are statistics of the real table that a released model or its rows can reveal (a minimum
or maximum is one row's value). The guarantee is about what the trained networks add.

How
---
ctgan's TVAE keeps `sigma` (the decoder's per-output noise scale) as a bare parameter of its
Decoder, which opacus cannot give per-row gradients for, and returns a tuple. Training here runs
`PrivateVAE`: the encoder, the decoder's layers and `sigma` inside a one-parameter layer
(`SigmaLayer`), all of which opacus supports; the loss is ctgan's TVAE loss written per row, then
averaged. After training `sigma` goes back into ctgan's Decoder, so sampling, saving and loading
are the TVAE's own. The epoch loop uses ctgan's tvae module's `tqdm` (so the project's EpochClock
times it) and fills `loss_values` as ctgan does.
"""
from __future__ import annotations

import importlib
import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import Module, Parameter
from torch.nn.functional import cross_entropy

from common.synth.params import DifferentialPrivacy

log = logging.getLogger("tcpsynth")

TVAE_MODULE = "ctgan.synthesizers.tvae"


class SigmaLayer(Module):
    """The decoder's per-output noise scale as a layer: the same vector for every row of a batch
    (so opacus can compute each row's gradient of it)."""

    def __init__(self, sigma: torch.Tensor) -> None:
        super().__init__()
        self.sigma = Parameter(sigma.detach().clone())

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.sigma.expand(rows.shape[0], -1)


class PrivateVAE(Module):
    """ctgan's TVAE encoder and decoder as one module opacus can wrap: returns the reconstruction,
    the per-row sigmas, mu and logvar."""

    def __init__(self, encoder: Module, decoder: Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder_layers = decoder.seq
        self.sigma = SigmaLayer(decoder.sigma)
        self._decoder = [decoder]   # not a submodule: its bare `sigma` is trained through SigmaLayer

    def forward(self, rows: torch.Tensor):
        mu, std, logvar = self.encoder(rows)
        latent = torch.randn_like(std) * std + mu
        decoder = self._decoder[0]
        condition = getattr(decoder, "condition", None)
        if condition:   # the conditional TVAE's decoder: latent + condition in, condition echoed out
            given = condition.take(len(latent), latent.device)
            output = decoder.echo(self.decoder_layers(torch.cat([latent, given], dim=1)), given)
        else:
            output = self.decoder_layers(latent)
        return output, self.sigma(rows), mu, logvar


def per_row_loss(reconstruction, rows, sigmas, mu, logvar, output_info, factor) -> torch.Tensor:
    """ctgan's TVAE loss (`_loss_function`: reconstruction x factor + KL divergence) for each row,
    shape (rows,): its batch mean is ctgan's loss."""
    start = 0
    terms = []
    for column_info in output_info:
        for span in column_info:
            end = start + span.dim
            if span.activation_fn != "softmax":
                std = sigmas[:, start]
                error = rows[:, start] - torch.tanh(reconstruction[:, start])
                terms.append(error ** 2 / 2 / std ** 2 + torch.log(std))
            else:
                terms.append(cross_entropy(reconstruction[:, start:end], torch.argmax(rows[:, start:end], dim=-1),
                                           reduction="none"))
            start = end
    kld = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)
    return torch.stack(terms, dim=1).sum(dim=1) * factor + kld


def fit_privately(model: Any, encoded: np.ndarray, encoder: Module, privacy: DifferentialPrivacy) -> dict[str, Any]:
    """Train `model` (a ctgan TVAE whose `transformer` and `decoder` are built) and `encoder` on the
    encoded rows with DP-SGD spending `privacy`. Fills `model.loss_values` as ctgan does; returns the
    accounting: epsilon asked and spent, delta, noise multiplier, clipping bound, sample rate, steps."""
    from opacus import PrivacyEngine

    rows = len(encoded)
    delta = privacy.delta_for(rows)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(encoded.astype("float32")).to(model._device))
    loader = torch.utils.data.DataLoader(dataset, batch_size=min(int(model.batch_size), rows), shuffle=True)
    network = PrivateVAE(encoder, model.decoder).to(model._device)
    optimizer = torch.optim.Adam(network.parameters(), weight_decay=model.l2scale)
    with warnings.catch_warnings():
        _quiet_opacus()
        return _train(model, PrivacyEngine(accountant="rdp"), network, optimizer, loader, privacy, delta)


def _quiet_opacus() -> None:
    """opacus's notices that say nothing to a user: its RDP search reaching the largest order (a
    slightly loose bound, still an upper bound on epsilon), its note that the noise comes from torch's
    ordinary generator (opacus's secure_mode needs torchcsprng, not installed: the accounting holds, a
    floating-point side-channel attack on the noise is out of scope), and torch's note that the input
    rows need no gradient (they never do here)."""
    warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    warnings.filterwarnings("ignore", message="Secure RNG turned off")


def _train(model: Any, engine: Any, network: Module, optimizer: Any, loader: Any, privacy: DifferentialPrivacy,
           delta: float) -> dict[str, Any]:
    """The DP-SGD epochs (see fit_privately); returns the accounting."""
    network, optimizer, loader = engine.make_private_with_epsilon(
        module=network, optimizer=optimizer, data_loader=loader, target_epsilon=float(privacy.epsilon),
        target_delta=delta, epochs=int(model.epochs), max_grad_norm=float(privacy.max_grad_norm))
    tqdm = importlib.import_module(TVAE_MODULE).tqdm   # looked up now: the project's EpochClock patches it
    losses = []
    for epoch in tqdm(range(int(model.epochs)), disable=not model.verbose):
        for batch_index, (real,) in enumerate(loader):
            if len(real) == 0:   # Poisson sampling can draw an empty batch: a step of noise only
                continue
            optimizer.zero_grad()
            reconstruction, sigmas, mu, logvar = network(real)
            loss = per_row_loss(reconstruction, real, sigmas, mu, logvar, model.transformer.output_info_list,
                                model.loss_factor).mean()
            loss.backward()
            optimizer.step()
            sigma = network._module.sigma.sigma
            sigma.data.clamp_(0.01, 1.0)
            losses.append((epoch, batch_index, float(loss.detach().cpu())))
    model.decoder.sigma.data.copy_(network._module.sigma.sigma.data)
    model.loss_values = pd.DataFrame(losses, columns=["Epoch", "Batch", "Loss"])
    spent = float(engine.get_epsilon(delta))
    accounting = {
        "epsilon": float(privacy.epsilon), "epsilon_spent": spent, "delta": delta,
        "noise_multiplier": float(optimizer.noise_multiplier), "max_grad_norm": float(privacy.max_grad_norm),
        "sample_rate": float(loader.sample_rate), "steps": len(losses), "epochs": int(model.epochs),
        "accountant": "rdp (opacus)",
    }
    if not math.isfinite(spent) or spent > float(privacy.epsilon) * 1.01:
        raise RuntimeError(f"DP-SGD spent epsilon {spent:.3f}, more than the {privacy.epsilon} asked")
    log.info("   DP-SGD: epsilon %.3f of %.3f spent (delta %.2e), noise multiplier %.2f, clipping %.2f, %d steps",
             spent, privacy.epsilon, delta, accounting["noise_multiplier"], privacy.max_grad_norm, len(losses))
    return accounting

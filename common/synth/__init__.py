"""Synthesizers from the training config: device choice, fitting, streamed sampling, hashed saving.

One `FlowSynthesizer` per model (a spec of common.synth.registry: "ctgan", "tvae", "gaussian_copula") wraps an SDV 2.x single-table synthesizer
(`CTGANSynthesizer`, `TVAESynthesizer`) and, optionally, a reversible domain transformer
(common.domain.DomainTransformer) that encodes the flow table before SDV sees it and
decodes what SDV samples. Without a transformer SDV learns the modelled frame directly.

Files
-----
models/<model>_model.pkl         the SDV synthesizer, written with SDV's `save` (cloudpickle)
models/<model>_domain_layer.pkl  the domain transformer (only when one is used)
models/manifest.json             library versions, config, training facts and the SHA-256 of
                                 every file; `load_trained` refuses a pickle whose hash differs,
                                 because unpickling runs code.

Sampling is streamed: `FlowSynthesizer.sample` yields DataFrames of at most `batch_rows` rows,
and `sample_to_csv` appends them to a temporary file renamed over the target at the end, so a
million rows never sit in memory at once and an interrupted run leaves no partial CSV.

Modules (imports point down this list only)
-------
registry     one ModelSpec per model: SDV class, params, iterative or not, conditional or not,
             cost model, domain settings, colour; everything else reads it
params       CTGANParams, TVAEParams, GaussianCopulaParams: config keys, defaults, checks, help, SDV arguments
environment  device, torch threads, seeds, library versions and logs, fit progress
config       training_configs.json as a frozen TrainingConfig holding each model's params object
models       building a model from its spec: SDV class, "auto" resolution to new params (autotune)
ctgan_hooks  what SDV does not expose of ctgan: single-mode columns, the conditional generator,
             wide sampling passes
sampling     class quotas and generation with the validity guard
synthesizer  FlowSynthesizer: fit, sample, save, load
outputs      the synthetic CSV or Parquet file (streamed, atomic), its rule tally, loss CSV and plot
distributed  Ray: generation in seeded shards with exact class totals, models fitted concurrently
manifest     models/manifest.json
use_cases    fit_model / finish_model (train_model: both) and generate_to_csv, one model each
"""
from common.synth.environment import (
    DeviceChoice, available_cpus, choose_device, configure_torch_threads, library_versions, quiet_library_logs,
    seed_everything,
)
from common.synth.manifest import MANIFEST_VERSION, Manifest
from common.synth.autotune import steps_per_epoch
from common.synth.config import TrainingConfig
from common.synth.distributed import GenerationOptions, fit_concurrently, ray_session, write_rows
from common.synth.models import resolve_auto, synthesizer_class
from common.synth.params import CTGANParams, GaussianCopulaParams, ModelParams, TVAEParams
from common.synth.registry import DEFAULT_MODELS, MODEL_NAMES, MODELS, ModelSpec, model_spec
from common.synth.outputs import SamplingFacts, plot_loss_curve, sample_to_csv, write_loss_csv
from common.synth.synthesizer import DomainLayer, FitFacts, FlowSynthesizer, build_domain_transformer, verify_sha256
from common.synth.use_cases import (
    FittedModel, RowRequest, build_flow, class_mix, finish_model, fit_model, generate_to_csv, load_trained, train_model,
)

__all__ = [
    "CTGANParams", "DEFAULT_MODELS", "GaussianCopulaParams", "MODEL_NAMES", "MODELS", "ModelParams", "ModelSpec",
    "TVAEParams", "model_spec", "DeviceChoice", "DomainLayer", "FitFacts", "FittedModel", "FlowSynthesizer",
    "GenerationOptions", "MANIFEST_VERSION", "Manifest", "SamplingFacts", "TrainingConfig", "fit_concurrently",
    "ray_session", "write_rows",
    "RowRequest", "available_cpus", "build_domain_transformer", "build_flow", "choose_device", "class_mix",
    "configure_torch_threads", "finish_model", "fit_model", "generate_to_csv", "library_versions", "load_trained",
    "plot_loss_curve", "quiet_library_logs", "resolve_auto", "sample_to_csv", "seed_everything", "steps_per_epoch",
    "synthesizer_class", "train_model", "verify_sha256", "write_loss_csv",
]

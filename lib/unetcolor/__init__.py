"""unetcolor: a reproducible replication of "Coloring of Gray Scale Image using
U-net Architecture" (Acharya & Pokhrel) and a colorizer for your own photos.

Modules, in the order the paper uses them:
    paths     where every input and output lives (one place)
    config    the typed configuration of a training run
    color     the one definition of "gray", value ranges, L*a*b*
    download  the real dataset (CycleGAN summer2winter_yosemite) fetched safely
    data      scanning, cleaning and preparing photos; seeded splits
    samples   the smoke profile's license-clear photos (bundled with scikit-image)
    model     the paper's U-Net (Section 3.1)
    profiles  the paper's settings (profiles/paper.yaml) and the smoke profile's changes, read once
    train     training with checkpoints and resume (Sections 3.2, 3.4); devices spreads a run
              over several accelerators
    scoring   what a finished run scores on its validation and the common photos
    study     the one-factor-at-a-time hyperparameter study (Section 4), with seeds
    claims    the paper's Section 4 claims judged from the study's records
    metrics   PSNR (eq. 3), SSIM, colorfulness, Keras' "accuracy"; per-image
              evaluation against the gray baseline (Section 4.1)
    predict   colorizing photos of any size (Figure 8); cli is the `colorize` command
    plots     the figures
    colorizers  the shipped L*a*b* colorizers, beyond the paper (Section 6): a
              registry of recipes (accurate default, vivid, GAN, and the candidates
              tried), one module per head, training, decoding, the comparison tables;
              ab_bins is the bins head's math, adversarial the GAN's discriminator
              and training step
    half_weights  a finished run's weights in float16 (the committed form of the main run)
    precision     float32 or bfloat16, chosen by measuring the run's own model (speed)
    compiles      XLA compilations per epoch under JAX
    migrate       older run records brought up to the current cache key
    plan, reproduce   every run a profile needs with estimates measured here; `make reproduce`
    runner, staleness   papermill execution and its content-based reruns
    findings, results   each notebook's "What this shows"; the README's findings and docs/results.md
    bench, gpu_runs     speed measured here; what GPU runs brought back
    images, reproducibility  one photo reader/writer; seeding and environment records
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _import_keras_quietly() -> None:
    """Import Keras (and so its backend) with the process's stderr pointed at /dev/null.

    TensorFlow writes C++ start-up lines while it loads (oneDNN's notice, and absl's
    "All log messages before absl::InitializeLog() ..."); absl prints them before any log
    level applies, so TF_CPP_MIN_LOG_LEVEL cannot hide them and they would land in every
    executed notebook and in `make` output. Only the import itself is silenced: a failing
    import still raises its Python error, and everything after it logs as usual."""
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in _sys.modules:
        return
    try:
        _sys.stderr.flush()
        saved, quiet = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    except (OSError, ValueError):  # no file descriptor 2 to redirect (an embedded interpreter)
        return
    try:
        _os.dup2(quiet, 2)
        import keras  # noqa: F401
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(quiet)


_import_keras_quietly()

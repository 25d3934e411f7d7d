"""The shipped colorizers, beyond the paper: small L*a*b* U-Nets that train on a laptop CPU
within a training-time and size budget (``registry``, whose rule chooses the shipped ones),
following the paper's future work (Section 6: predict a*, b* from L*; a GAN).

Chroma varies slowly, so it is predicted at a reduced size:

    gray 256x256 --LANCZOS--> 64x64 (or 128x128) --U-Net--> a*, b* / 128
    --> joined with the small L*, made RGB, and only its colour differences
        (R - Y, B - Y) upscaled onto the full-resolution gray (predict.py)

so the output keeps every pixel of the input's luminance. Training sees the same shrunk gray
as ``predict.colorize_photo`` gives the model.

A recipe (a ``config.RecipeConfig``, written in a profile's `colorizers` section), all seeded:
    1. prepare the photos (data.prepare_dataset at the profile's image_size, its splits);
    2. carve a tuning subset (``tuning_share``) out of the split's *training* ids;
    3. train the head on the rest (``training``): random horizontal flips, Adam with a cosine
       learning-rate decay, keeping the epoch with the lowest tuning loss;
    4. choose the head's decoding knob on the tuning subset (``decoding``): the most colourful
       value whose tuning PSNR beats the gray copy by ``min_psnr_gain`` dB, else the best PSNR;
       optionally cancel the mean a*, b* cast measured there;
    5. score the saved model once on the split's validation ids, exactly as notebook 05 does,
       and write <name>.keras with <name>.json, its provenance (``build``).

The heads, one module each: ``regression`` (MSE, then per-image log-MSE; a chroma gain),
``bins`` (Zhang et al. 2016: a*, b* bins, annealed mean; a temperature) and ``gan``
(pix2pix-style; a chroma gain). ``registry`` reads a profile's recipes (the shipped ones and the
candidates tried for them) and holds the rule that chose between them; ``compare`` builds the
tables notebook 07 shows. A profile's prepared data is what the recipes train on, and its
candidates' records are kept in models/<profile>/colorizers/ (``paths.ProfilePaths.colorizers``).

Training precision (``RecipeConfig.precision``) is resolved by ``unetcolor.unet.precision``
and applies to training only; the saved model is float32.

Headless: ``python -m unetcolor colorizers train --recipe NAME`` (``make default-model`` and
its siblings write the shipped files).
"""

from __future__ import annotations

from .. import shipped
from .build import prepare, ship, train_colorizer
from .recipe import shrink_pairs, tuning_split
from .registry import HEADS, candidates, head_for, recipe, recipes

SHIPPED_DIR = shipped.WEIGHTS_DIR  # lib/unetcolor/weights: what colorize loads

__all__ = ["recipes", "candidates", "HEADS", "recipe", "head_for", "train_colorizer", "ship", "prepare",
           "shrink_pairs", "tuning_split", "SHIPPED_DIR"]

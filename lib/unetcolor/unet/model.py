"""The paper's U-Net (Section 3.1) in Keras 3: six stride-2 convolutions down, six UpSampling2D and
convolution steps up with skip connections, a tanh output."""

from __future__ import annotations

import functools
import hashlib
import json
import math

import keras
from keras import layers

from ..config import ModelConfig


def _down(x, filters: int, config: ModelConfig, index: int):
    x = layers.Conv2D(filters, 3, strides=2, padding="same", name=f"down{index}_conv")(x)
    if config.normalization == "batch":
        x = layers.BatchNormalization(name=f"down{index}_norm")(x)
    return layers.LeakyReLU(negative_slope=config.leaky_slope, name=f"down{index}_act")(x)


def _up(x, skip, filters: int, config: ModelConfig, index: int):
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{index}_upsample")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"up{index}_conv")(x)
    if config.normalization == "batch":
        x = layers.BatchNormalization(name=f"up{index}_norm")(x)
    x = layers.ReLU(name=f"up{index}_act")(x)
    if skip is None:
        return x
    return layers.Concatenate(name=f"up{index}_skip")([x, skip])


def build_unet(config: ModelConfig) -> keras.Model:
    """Gray (N, S, S, 1) in [0, 1] -> colour (N, S, S, C) in [-1, 1]: C = 3 (RGB) or 2 (a*, b* / 128)."""
    gray = keras.Input(shape=(config.image_size, config.image_size, 1), name="gray")
    skips = []
    x = gray
    for index, filters in enumerate(config.filters, start=1):
        x = _down(x, filters, config, index)
        skips.append(x)
    # each up step restores the width of the encoder stage it is joined with; the last joins the input
    decoder_filters = list(reversed(config.filters[:-1])) + [config.filters[0]]
    decoder_skips = list(reversed(skips[:-1])) + [gray if config.final_skip else None]
    for index, (filters, skip) in enumerate(zip(decoder_filters, decoder_skips), start=1):
        x = _up(x, skip, filters, config, index)
    channels = 3 if config.output == "rgb" else 2
    # float32 output even under mixed precision, so the loss is computed in float32
    color = layers.Conv2D(channels, 3, padding="same", activation="tanh", dtype="float32", name="color")(x)
    return keras.Model(gray, color, name=f"unet_{config.output}")


# the layer settings that shape what it computes; what Keras adds from one version to the next (dtype
# policies, initializers, constraints) stays out of the fingerprint
_ARCHITECTURE_KEYS = ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias",
                      "negative_slope", "size", "interpolation", "axis", "momentum", "epsilon", "center", "scale",
                      "units", "rate")


@functools.lru_cache(maxsize=None)
def architecture_fingerprint(config: ModelConfig) -> str:
    """12 hex digits of sha256 over each layer's kind, settings, output and weight shapes and inputs: part of a
    run's cache key."""
    described = []
    for layer in build_unet(config).layers:
        settings = layer.get_config()
        inbound = [getattr(tensor, "_keras_history", None) for tensor in keras.tree.flatten(layer.input)]
        described.append({
            "kind": type(layer).__name__,
            "settings": {key: settings[key] for key in _ARCHITECTURE_KEYS if key in settings},
            "output": list(layer.output.shape[1:]),
            "weights": [list(weight.shape) for weight in layer.weights],
            "reads": [history.operation.name for history in inbound if history is not None
                      and history.operation is not layer],
        })
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:12]


def conv_flops(model: keras.Model) -> int:
    """FLOPs of every Conv2D for one image in a forward pass (2 * H_out * W_out * k_h * k_w * C_in * C_out)."""
    return int(sum(2 * math.prod(layer.output.shape[1:3]) * math.prod(layer.kernel.shape)
                   for layer in model.layers if isinstance(layer, layers.Conv2D)))


def layer_table(model: keras.Model):
    """A pandas DataFrame: layer name, type, output shape and parameter count."""
    import pandas as pd

    return pd.DataFrame([{"layer": layer.name, "type": type(layer).__name__,
                          "output_shape": str(tuple(layer.output.shape)), "parameters": layer.count_params()}
                         for layer in model.layers])

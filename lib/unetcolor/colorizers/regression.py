"""The regression head: the U-Net's a*, b* trained with MSE (then, in the shared fine-tuning stage,
per-image log-MSE, which mean PSNR rewards); its decoding knob is a chroma gain."""

from __future__ import annotations

import keras
from keras import layers

from ..config import ModelConfig
from ..unet.model import build_unet
from .head import Head


def per_image_log_mse(y_true, y_pred):
    """Mean over images of ln(MSE_i + 1e-5): minimising it maximises the mean per-image PSNR."""
    error = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=(1, 2, 3))
    return keras.ops.mean(keras.ops.log(error + 1e-5))


def compile_log_mse(model: keras.Model, schedule) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule()), loss=per_image_log_mse)


def with_chroma_gain(trained: keras.Model, config: ModelConfig, gain: float) -> keras.Model:
    """trained's weights in a fresh float32 U-Net whose a*, b* are multiplied by gain (a Rescaling layer)."""
    model = build_unet(config)
    model.set_weights(trained.get_weights())
    return keras.Model(model.input, layers.Rescaling(gain, name="chroma_gain")(model.output), name="unet_ab_default")


class RegressionHead(Head):
    kind = "regression"
    description = "L*a*b* U-Net predicting a*, b* at reduced size; unetcolor.colorizers.regression"
    stage = "mse"

    def build(self) -> keras.Model:
        return build_unet(self.config.model)

    def compile(self, model, schedule) -> None:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule()), loss="mse")

    def export(self, trained, value) -> keras.Model:
        return with_chroma_gain(trained, self.config.model, value)

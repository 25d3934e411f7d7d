"""The regression head: the U-Net's a*, b* trained with MSE, then fine-tuned with the mean
over images of log(per-image MSE), which is what mean PSNR rewards (plain MSE is dominated by
the colourful photos and paints the near-gray ones, snow, fog, dusk, whose PSNR then drops
most). Its decoding knob is a chroma gain."""

from __future__ import annotations

import keras
from keras import layers

from ..config import ModelConfig
from ..unet.model import build_unet
from .head import Head


def per_image_log_mse(y_true, y_pred):
    """mean over images of ln(MSE_i + 1e-5): minimising it maximises the mean
    per-image PSNR (up to the eps), where plain MSE maximises PSNR of the mean error."""
    error = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=(1, 2, 3))
    return keras.ops.mean(keras.ops.log(error + 1e-5))


def compile_log_mse(model: keras.Model, schedule) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule()), loss=per_image_log_mse)


def with_chroma_gain(trained: keras.Model, config: ModelConfig, gain: float) -> keras.Model:
    """The trained U-Net's weights in a fresh uncompiled float32 model whose a*, b* are
    multiplied by gain (a Rescaling layer, loadable in safe mode)."""
    model = build_unet(config)
    model.set_weights(trained.get_weights())
    scaled = layers.Rescaling(gain, name="chroma_gain")(model.output)
    return keras.Model(model.input, scaled, name="unet_ab_default")


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

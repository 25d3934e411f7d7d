"""The adversarial head (pix2pix-style, the paper's other future-work item): the regression
head's U-Net trained with a mean absolute a*, b* error plus an adversarial term from a patch
discriminator (``unetcolor.adversarial``). It keeps its last epoch, as Isola et al. do: its
tuning MSE rises by design as its colours leave the safe mean. Its knob is a chroma gain."""

from __future__ import annotations

import keras

from .. import adversarial
from .head import Head
from .regression import with_chroma_gain


class GanHead(Head):
    kind = "gan"
    description = ("L*a*b* U-Net predicting a*, b* at reduced size, trained against a patch discriminator "
                   "(pix2pix-style); unetcolor.colorizers.gan")
    stage = "adversarial"
    keep_last = True

    def build(self) -> keras.Model:
        return adversarial.conditional_gan(self.config.model, self.config.adversarial_weight,
                                           self.config.discriminator_filters)

    def compile(self, model, schedule) -> None:
        model.compile(keras.optimizers.Adam(schedule(), beta_1=adversarial.ADAM_BETA_1),
                      keras.optimizers.Adam(schedule(), beta_1=adversarial.ADAM_BETA_1))

    def export(self, trained, value) -> keras.Model:
        return with_chroma_gain(trained.generator, self.config.model, value)

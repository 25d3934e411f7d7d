"""The adversarial head (Isola et al. 2017, pix2pix): the regression U-Net trained against a patch
discriminator; it keeps its last epoch, and its knob is a chroma gain."""

from __future__ import annotations

import keras
from keras import layers

from ..config import ModelConfig
from ..unet.model import build_unet
from .head import Head
from .regression import with_chroma_gain

ADAM_BETA_1 = 0.5  # Isola et al.'s setting for both networks


def patch_discriminator(size: int, filters: tuple[int, ...] = (32, 64, 128), leaky_slope: float = 0.2) -> keras.Model:
    """(gray (N, S, S, 1), a*, b* / 128) -> one real/fake logit per patch: 4x4 stride-2 convolutions
    with LeakyReLU, then a 3x3 convolution; no normalisation, so real and fake batches are judged alike."""
    gray, ab = keras.Input(shape=(size, size, 1), name="gray"), keras.Input(shape=(size, size, 2), name="ab")
    x = layers.Concatenate(name="pair")([gray, ab])
    for index, width in enumerate(filters, start=1):
        x = layers.Conv2D(width, 4, strides=2, padding="same", name=f"d{index}_conv")(x)
        x = layers.LeakyReLU(negative_slope=leaky_slope, name=f"d{index}_act")(x)
    logits = layers.Conv2D(1, 3, padding="same", dtype="float32", name="patch_logits")(x)
    return keras.Model([gray, ab], logits, name="patch_discriminator")


class ConditionalGAN(keras.Model):
    """Generator and discriminator trained together by ``fit`` (TensorFlow backend); calling it runs the generator."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, adversarial_weight: float = 0.01,
                 **kwargs):
        super().__init__(**kwargs)
        if adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be >= 0, got {adversarial_weight}")
        self.generator, self.discriminator = generator, discriminator
        self.adversarial_weight = float(adversarial_weight)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "reconstruction", "adversarial", "discriminator")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(f"the adversarial head trains with tf.GradientTape; KERAS_BACKEND is "
                               f"{keras.backend.backend()!r}: set KERAS_BACKEND=tensorflow")
        super().compile(**kwargs)
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer

    def losses_of(self, ab, fake, real_logits, fake_logits) -> dict:
        """Every loss term, from the batch and the discriminator's logits."""
        ops = keras.ops

        def bce(target, logits):
            return ops.mean(keras.losses.binary_crossentropy(target(logits), logits, from_logits=True))

        fooled, reconstruction = bce(ops.ones_like, fake_logits), ops.mean(ops.abs(ab - fake))
        return {"generator": reconstruction + self.adversarial_weight * fooled,
                "discriminator": 0.5 * (bce(ops.ones_like, real_logits) + bce(ops.zeros_like, fake_logits)),
                "adversarial": fooled, "reconstruction": reconstruction, "loss": ops.mean(ops.square(ab - fake))}

    def train_step(self, data):
        import tensorflow as tf

        gray, ab = data
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            fake = self.generator(gray, training=True)
            real_logits = self.discriminator([gray, ab], training=True)
            fake_logits = self.discriminator([gray, fake], training=True)
            terms = self.losses_of(ab, fake, real_logits, fake_logits)
        for tape, loss, network, optimizer in (
                (generator_tape, terms["generator"], self.generator, self.generator_optimizer),
                (discriminator_tape, terms["discriminator"], self.discriminator, self.discriminator_optimizer)):
            gradients = tape.gradient(loss, network.trainable_variables)
            optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        gray, ab = data
        fake = self.generator(gray, training=False)
        self.trackers["loss"].update_state(keras.ops.mean(keras.ops.square(ab - fake)))
        return {"loss": self.trackers["loss"].result()}


def conditional_gan(config: ModelConfig, adversarial_weight: float = 0.01,
                    discriminator_filters: tuple[int, ...] = (32, 64, 128)) -> ConditionalGAN:
    """The regression U-Net of config (output "ab") with a patch discriminator of its size."""
    if config.output != "ab":
        raise ValueError("the adversarial head colours in a*, b*: use ModelConfig(output='ab')")
    return ConditionalGAN(build_unet(config), patch_discriminator(config.image_size, discriminator_filters,
                                                                  config.leaky_slope),
                          adversarial_weight=adversarial_weight, name="conditional_gan")


class GanHead(Head):
    kind = "gan"
    description = ("L*a*b* U-Net predicting a*, b* at reduced size, trained against a patch discriminator "
                   "(pix2pix-style); unetcolor.colorizers.gan")
    stage = "adversarial"
    keep_last = True

    def build(self) -> keras.Model:
        return conditional_gan(self.config.model, self.config.adversarial_weight, self.config.discriminator_filters)

    def compile(self, model, schedule) -> None:
        model.compile(keras.optimizers.Adam(schedule(), beta_1=ADAM_BETA_1),
                      keras.optimizers.Adam(schedule(), beta_1=ADAM_BETA_1))

    def optimizers(self, model) -> list[tuple]:
        return [(model.generator_optimizer, model.generator.trainable_variables),
                (model.discriminator_optimizer, model.discriminator.trainable_variables)]

    def export(self, trained, value) -> keras.Model:
        return with_chroma_gain(trained.generator, self.config.model, value)

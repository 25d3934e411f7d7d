"""The adversarial head: the patch discriminator's shapes, every loss term against a
numpy reference, a real training step that moves both networks, and the recipe's
gan head end to end at toy scale (its saved generator loads in safe mode)."""

import dataclasses

import keras
import numpy as np
import pytest

from unetcolor import colorizers
from unetcolor.colorizers import gan as adversarial
from unetcolor.evaluation import predict

import tiny

SMALL = tiny.model(image_size=16, filters=(4, 8), normalization="batch", output="ab")


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def test_patch_discriminator_gives_one_logit_per_patch():
    critic = adversarial.patch_discriminator(32, filters=(4, 8, 8))
    gray, ab = np.zeros((3, 32, 32, 1), "float32"), np.zeros((3, 32, 32, 2), "float32")
    assert critic.predict([gray, ab], verbose=0).shape == (3, 4, 4, 1)  # 32 / 2^3
    assert adversarial.patch_discriminator(32, filters=(4,)).output_shape == (None, 16, 16, 1)


def test_loss_terms_match_a_numpy_reference():
    gan = adversarial.conditional_gan(SMALL, adversarial_weight=0.05, discriminator_filters=(4, 8))
    rng = np.random.default_rng(0)
    ab, fake = rng.uniform(-0.5, 0.5, (2, 2, 16, 16, 2)).astype("float32")
    real_logits, fake_logits = rng.normal(0, 2, (2, 2, 4, 4, 1)).astype("float32")
    terms = {k: float(v) for k, v in gan.losses_of(ab, fake, real_logits, fake_logits).items()}
    # binary cross-entropy from logits: -log(sigmoid(x)) = softplus(-x); -log(1 - sigmoid(x)) = softplus(x)
    fooled = _softplus(-fake_logits).mean()
    reconstruction = np.abs(ab - fake).mean()
    assert terms["adversarial"] == pytest.approx(fooled, rel=1e-5)
    assert terms["discriminator"] == pytest.approx(0.5 * (_softplus(-real_logits).mean()
                                                          + _softplus(fake_logits).mean()), rel=1e-5)
    assert terms["reconstruction"] == pytest.approx(reconstruction, rel=1e-5)
    assert terms["generator"] == pytest.approx(reconstruction + 0.05 * fooled, rel=1e-5)
    assert terms["loss"] == pytest.approx(np.square(ab - fake).mean(), rel=1e-5)


def test_fit_moves_both_networks_and_reports_the_generators_error():
    keras.utils.set_random_seed(0)
    gan = adversarial.conditional_gan(SMALL, discriminator_filters=(4, 8))
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    rng = np.random.default_rng(1)
    x = rng.random((16, 16, 16, 1)).astype("float32")
    y = (np.concatenate([x - 0.5, 0.5 - x], -1) * 0.4).astype("float32")
    before = [w.copy() for w in gan.generator.get_weights()], [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(x, y, batch_size=8, epochs=2, validation_data=(x[:8], y[:8]), verbose=0).history
    for network, old in zip((gan.generator, gan.discriminator), before):
        assert any(not np.allclose(w, o) for w, o in zip(network.get_weights(), old))
    assert set(history) == {"loss", "reconstruction", "adversarial", "discriminator", "val_loss"}
    # val_loss is the generator's a*, b* mean squared error on the validation pair, in inference mode
    direct = np.square(gan.generator.predict(x[:8], verbose=0) - y[:8]).mean()
    assert history["val_loss"][-1] == pytest.approx(direct, rel=1e-4)


def test_conditional_gan_refuses_bad_settings():
    with pytest.raises(ValueError, match="a\\*, b\\*"):
        adversarial.conditional_gan(dataclasses.replace(SMALL, output="rgb"))
    with pytest.raises(ValueError, match="adversarial_weight"):
        adversarial.conditional_gan(SMALL, adversarial_weight=-1.0)


def test_gan_recipe_saves_only_the_generator_with_its_chosen_gain(tiny_processed, tmp_path):
    recipe = dataclasses.replace(colorizers.recipe("regression"), name="gan", head="gan", model=SMALL, epochs=2,
                                 finetune_epochs=0, batch_size=4, seed=3, chroma_gains=(1.0, 1.5), tuning_share=0.2,
                                 discriminator_filters=(4, 8), learning_rate=2e-4)
    out = tmp_path / "weights"
    record = colorizers.train_colorizer(tiny_processed, out, recipe, verbose=False)
    assert sorted(p.name for p in out.iterdir()) == ["gan.json", "gan.keras"]
    assert record["chroma_gain"] in (1.0, 1.5) and record["config"]["head"] == "gan"
    assert {row["stage"] for row in record["training"]["history"]} == {"adversarial"}
    assert record["training"]["best_epoch"] == record["training"]["epochs_run"] == 2  # the last epoch is kept
    assert {"discriminator", "adversarial", "val_loss"} <= set(record["training"]["history"][0])
    model = predict.load_model(out / "gan.keras")  # safe mode; no discriminator inside
    assert not any("d1_conv" == layer.name for layer in model.layers)
    assert model.get_layer("chroma_gain").scale == pytest.approx(record["chroma_gain"])
    assert list(model.output_shape[1:]) == [16, 16, 2]

"""The U-Net's structure checked against values computed by hand from the paper's description."""

import numpy as np
import pytest

from unetcolor import profiles
from unetcolor.config import ModelConfig
from unetcolor.unet.model import build_unet, conv_flops, layer_table

import tiny


def expected_parameters(config: ModelConfig) -> int:
    """Count by hand: 3x3 convolutions with biases, encoder, mirrored decoder with skips, output."""
    count, in_channels = 0, 1
    for width in config.filters:  # encoder
        count += 9 * in_channels * width + width
        in_channels = width
    decoder = list(reversed(config.filters[:-1])) + [config.filters[0]]
    skips = list(reversed(config.filters[:-1])) + [1 if config.final_skip else 0]
    for width, skip in zip(decoder, skips):
        count += 9 * in_channels * width + width
        in_channels = width + skip
    channels = 3 if config.output == "rgb" else 2
    return count + 9 * in_channels * channels + channels


@pytest.mark.parametrize("config", [
    profiles.load("paper").model,
    tiny.model(image_size=64, filters=(8, 16, 32, 32, 32, 32)),
    tiny.model(image_size=32, filters=(4, 8), final_skip=False, output="ab"),
])
def test_parameter_count_matches_hand_count(config):
    assert build_unet(config).count_params() == expected_parameters(config)


def test_paper_model_shapes_and_size():
    model = build_unet(profiles.load("paper").model)
    table = layer_table(model).set_index("layer")
    assert model.input_shape == (None, 256, 256, 1)
    assert model.output_shape == (None, 256, 256, 3)
    # six stride-2 stages halve 256 down to 4; the bottleneck has 512 features
    assert [table.loc[f"down{i}_conv", "output_shape"] for i in (1, 6)] == ["(None, 128, 128, 64)", "(None, 4, 4, 512)"]
    assert sum(table["type"] == "UpSampling2D") == 6
    assert model.count_params() == 16_520_926


def test_flops_of_a_tiny_net_by_hand():
    config = tiny.model(image_size=8, filters=(2,), final_skip=True)
    # down: 4x4 out, 3x3x1x2 ; up: 8x8 out, 3x3x2x2 ; output: 8x8 out, 3x3x(2+1)x3
    expected = 2 * (4 * 4 * 9 * 1 * 2 + 8 * 8 * 9 * 2 * 2 + 8 * 8 * 9 * 3 * 3)
    assert conv_flops(build_unet(config)) == expected


def test_output_is_in_tanh_range_on_extreme_inputs():
    model = build_unet(tiny.model(image_size=32, filters=(4, 8)))
    inputs = np.stack([np.zeros((32, 32, 1)), np.ones((32, 32, 1))]).astype("float32")
    output = model.predict(inputs * 1e3, verbose=0)
    assert output.shape == (2, 32, 32, 3)
    assert np.all(np.abs(output) <= 1.0)


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="divisible"):
        tiny.model(image_size=100)
    with pytest.raises(ValueError, match="normalization"):
        tiny.model(normalization="layer")

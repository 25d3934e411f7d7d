"""The one definition of gray, ITU-R BT.601 luma of the 8-bit sRGB values rounded to 8 bits (as Pillow's
``convert("L")``), and the model's ranges: gray input float32 in [0, 1], RGB target float32 in [-1, 1]."""

from __future__ import annotations

import warnings

import numpy as np

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float64)


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) -> uint8 gray (...), BT.601 luma rounded to nearest."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB with a last axis of 3, got {rgb.dtype} {rgb.shape}")
    luma = rgb.astype(np.float32) @ LUMA_WEIGHTS.astype(np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def gray_to_input(gray: np.ndarray) -> np.ndarray:
    """uint8 gray (N, H, W) or (N, H, W, 1) -> float32 model input in [0, 1], (N, H, W, 1)."""
    gray = np.asarray(gray)
    return (gray[..., None] if gray.ndim == 3 else gray).astype(np.float32) / 255.0


def rgb_to_target(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 in [-1, 1] (tanh's range)."""
    return np.asarray(rgb).astype(np.float32) / 127.5 - 1.0


def output_to_rgb(output: np.ndarray) -> np.ndarray:
    """Model output float in [-1, 1] -> uint8 RGB, rounded and clipped."""
    return np.clip(np.rint((np.asarray(output, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def gray_baseline(gray: np.ndarray) -> np.ndarray:
    """The trivial colorizer: the gray image copied into all three channels (uint8)."""
    gray = np.asarray(gray)
    if gray.ndim >= 3 and gray.shape[-1] == 1:
        gray = gray[..., 0]
    return np.repeat(gray[..., None], 3, axis=-1)


def chroma(rgb: np.ndarray) -> np.ndarray:
    """Per-image mean chroma C*ab of uint8 RGB (N, H, W, 3) or (H, W, 3); 0 for a neutral gray photo."""
    from skimage.color import rgb2lab

    rgb = np.asarray(rgb)
    values = np.array([np.hypot(*rgb2lab(image)[..., 1:].transpose(2, 0, 1)).mean()
                       for image in (rgb[None] if rgb.ndim == 3 else rgb)])
    return float(values[0]) if rgb.ndim == 3 else values


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> float32 CIE L*a*b* (D65): L* in [0, 100], a*, b* about [-128, 127]."""
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb)).astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float CIE L*a*b* (..., 3) -> uint8 sRGB, out-of-gamut values clipped."""
    from skimage.color import lab2rgb

    with warnings.catch_warnings():  # scikit-image warns of the clipping this function promises
        warnings.filterwarnings("ignore", message=".*negative Z values that have been clipped", category=UserWarning)
        rgb = lab2rgb(np.asarray(lab, dtype=np.float64))
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)

"""One call for seeding, and a record of the environment a result came from."""

from __future__ import annotations

import os
import platform
import random
import re
import sys
from importlib import metadata
from pathlib import Path

import keras
import numpy as np

RECORDED_PACKAGES = ("keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "numpy", "pandas", "scikit-image",
                     "pillow", "matplotlib", "seaborn", "papermill", "nbval")
PROGRESS_ENV = "UNETCOLOR_PROGRESS"  # "epoch": a batch run (papermill, headless) that wants log lines, not bars
LOG_TAG_ENV = "UNETCOLOR_LOG_TAG"  # put before each log line: which of several parallel runs wrote it


def log(*parts, **options) -> None:
    """print, every line led by $UNETCOLOR_LOG_TAG when it is set."""
    text, tag = " ".join(map(str, parts)), os.environ.get(LOG_TAG_ENV, "")
    print("\n".join(tag + line for line in text.splitlines()) if tag else text, **options)


def batch_mode() -> bool:
    """True under papermill or a headless command, where progress bars would flood the log."""
    return os.environ.get(PROGRESS_ENV) == "epoch"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras' backend; on TensorFlow also ask for deterministic kernels."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # the only backend-specific call: determinism is a TF switch

        tf.config.experimental.enable_op_determinism()


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cores() -> int:
    """The cores this process may use (containers, taskset), else all the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def device_description() -> str:
    """A short description of the accelerator Keras will use, e.g. 'cpu' or 'gpu: NVIDIA H200'."""
    if keras.backend.backend() == "jax":
        import jax

        return ", ".join(f"{d.platform}: {getattr(d, 'device_kind', d)}" for d in jax.devices())
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return ", ".join(g.name for g in tf.config.list_physical_devices("GPU")) or "cpu"
    return keras.backend.backend()


def accelerator_name() -> str | None:
    """The model name of the first accelerator Keras will use (e.g. 'NVIDIA H200'), None on a CPU."""
    if keras.backend.backend() == "jax":
        import jax

        return next((getattr(d, "device_kind", str(d)) for d in jax.devices() if d.platform != "cpu"), None)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    return None


def machine() -> dict:
    """This machine as records name it: backend, CPU model, usable cores, accelerator (None on a CPU)."""
    return {"keras_backend": keras.backend.backend(), "cpu": cpu_model(), "cores": usable_cores(),
            "accelerator": accelerator_name()}


def machine_key(described: dict | None = None) -> str:
    """A filesystem-safe name for a machine ('jax-nvidia-h200-amd-epyc-16cpu') as machine() describes it."""
    described = described or machine()
    parts = [described["keras_backend"], described.get("accelerator") or "cpu", described["cpu"],
             f"{described['cores']}cpu"]
    words = re.sub(r"\((r|tm|c)\)", " ", " ".join(str(part) for part in parts).lower())
    return re.sub(r"[^a-z0-9]+", "-", words).strip("-")


def environment_info() -> dict:
    """Package versions, Keras backend, device, Python and platform, as a flat dict."""
    info = {"python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.machine(),
            "cpu_count": os.cpu_count(), "keras_backend": keras.backend.backend(), "device": device_description()}
    for name in RECORDED_PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return info

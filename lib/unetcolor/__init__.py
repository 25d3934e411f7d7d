"""unetcolor: a reproducible replication of "Coloring of Gray Scale Image using
U-net Architecture" (Acharya & Pokhrel) and a colorizer for your own photos.

Modules, in the order the paper uses them:
    paths     where every input and output lives (one place)
    config    the typed configuration of a training run
    color     the one definition of "gray", value ranges, L*a*b*
    download  the real dataset (CycleGAN summer2winter_yosemite) fetched safely
    data      scanning, cleaning and preparing photos; seeded splits
    samples   the smoke profile's license-clear photos (bundled with scikit-image)
    model     the paper's U-Net (Section 3.1)
    train     training with checkpoints and resume (Sections 3.2, 3.4)
    study     the one-factor-at-a-time hyperparameter study (Section 4), with seeds
    claims    the paper's Section 4 claims judged from the study's records
    metrics   PSNR (eq. 3), SSIM, colorfulness, Keras' "accuracy"; per-image
              evaluation against the gray baseline (Section 4.1)
    predict   colorizing photos of any size (Figure 8); cli is the `colorize` command
    plots     the figures
    colorizers  the shipped L*a*b* colorizers, beyond the paper (Section 6): a
              registry of recipes (accurate default, vivid, GAN, and the candidates
              tried), one module per head, training, decoding, the comparison tables;
              ab_bins is the bins head's math, adversarial the GAN's discriminator
              and training step
    half_weights  a finished run's weights in float16 (the committed form of the main run)
    precision     float32 or bfloat16, chosen by CPU flags and a cached probe
    compiles      XLA compilations per epoch under JAX
    migrate       older run records brought up to the current cache key
    runner, staleness, results, bench   papermill execution and its content-based reruns,
              the README's results, speed
    images, reproducibility  one photo reader/writer; seeding and environment records
"""

__version__ = "0.1.0"

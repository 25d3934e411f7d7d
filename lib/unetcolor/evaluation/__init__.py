"""Scoring and looking: PSNR, SSIM and the colour measures (``metrics``), colorizing photos of
any size with any model (``predict``), and every figure (``plots``)."""

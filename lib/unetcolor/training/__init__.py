"""Training the paper's U-Net: a run (``train``), what a finished run scores (``scoring``), the
hyperparameter study (``study``), and the paper's claims judged from it (``claims``)."""

"""The paper's U-Net and what a run of it is: the network (``model``), a run's folder and when
it is finished (``runs``), training precision (``precision``), speed measurement (``speed``) and
float16 weight export (``half_weights``)."""

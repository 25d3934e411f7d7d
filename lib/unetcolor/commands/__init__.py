"""The command-line tools: ``colorize`` (``cli``), ``make bench`` (``bench``) and the GPU runs'
summaries (``gpu_runs``). ``python -m unetcolor`` lists every command."""

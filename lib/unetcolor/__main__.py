"""python -m unetcolor COMMAND [options]: every command of the project, each a module's ``main``."""

from __future__ import annotations

import importlib
import sys

# command -> (module whose main(argv) runs it, what it does), imported only when its command runs
COMMANDS = {
    "reproduce": ("unetcolor.reproduction.reproduce", "the training plan, missing runs (--train), stale notebooks"),
    "notebooks": ("unetcolor.reproduction.runner", "execute named notebooks through papermill, if stale"),
    "results": ("unetcolor.reproduction.results", "rewrite the README's summary and docs/results.md"),
    "data": ("unetcolor.photos.data", "prepare a folder of photos (what notebook 01 does)"),
    "train": ("unetcolor.training.train", "train one run headless; --rescore scores a finished run"),
    "study": ("unetcolor.training.study", "train the hyperparameter study's runs headless"),
    "colorize": ("unetcolor.commands.cli", "colorize photos (the `colorize` command)"),
    "colorizers": ("unetcolor.colorizers.__main__", "train, choose and ship the colorizers; try levers"),
    "bench": ("unetcolor.commands.bench", "measure speed into reports/bench/"),
    "gpu-runs": ("unetcolor.commands.gpu_runs", "summarize the records brought back from GPU runs"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "usage: python -m unetcolor COMMAND [options]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[command][0]).main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())

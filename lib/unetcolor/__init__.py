"""unetcolor: a reproducible replication of "Coloring of Gray Scale Image using U-net Architecture"
(Acharya & Pokhrel) and a colorizer for your own photos."""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _import_keras_quietly() -> None:
    """Import Keras with stderr pointed at /dev/null, hiding TensorFlow's C++ start-up lines that no log level
    reaches; a failing import still raises."""
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in _sys.modules:
        return
    try:
        _sys.stderr.flush()
        saved, quiet = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    except (OSError, ValueError):  # no file descriptor 2 to redirect (an embedded interpreter)
        return
    try:
        _os.dup2(quiet, 2)
        import keras  # noqa: F401
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(quiet)


_import_keras_quietly()

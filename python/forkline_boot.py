"""What the runner execs: ``python -I -B forkline_boot.py``. Loads the tracer
and lets it run the program (see forkline_trace/__init__.py for the contract)."""
import os
import sys

sys.path.insert(0, os.environ.get("FORKLINE_TRACER_DIR") or os.path.dirname(os.path.abspath(__file__)))
import forkline_trace  # noqa: E402

forkline_trace.main()

"""What the runner execs: ``python -I -B forkline_boot.py``. Loads the tracer
and lets it run the program (see forkline_trace/__init__.py for the contract)."""
import os
import sys

sys.path.insert(0, os.environ.get("FORKLINE_TRACER_DIR") or os.path.dirname(os.path.abspath(__file__)))
# -B stays in force for everything but the tracer's own modules, whose
# cached bytecode saves every traced process ~7 ms of compiling (boot.py
# turns the flag back on before the program runs).
sys.dont_write_bytecode = False
import forkline_trace  # noqa: E402

forkline_trace.main()

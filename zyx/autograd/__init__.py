"""Automatic differentiation: ``GradientTape`` records primitive operations while it is
open; ``rules.py`` holds one backward rule per primitive; ``no_grad`` pauses recording.
See ``tape.py`` for the design (records keyed by graph node, memory, nesting)."""
from __future__ import annotations

from .rules import RULES
from .tape import GradientTape, composite, is_recording, no_grad

__all__ = ["GradientTape", "no_grad", "composite", "is_recording", "RULES"]

"""mug-pyodide: the ``browser`` runtime for MUG game scenes.

The env of a ``GymScene`` runs in the participant's page, in Pyodide inside a module Web
Worker, so it keeps stepping at the scene's fps while the tab is in the background. The page
side (keyboard, canvas, countdown, uploads) is ``mug_core``'s ``gym`` scene module; this
plugin provides the runtime it starts (``/static/pyodide/runtime.js``).
"""

from mug_pyodide.plugin import PYODIDE_VERSION, BrowserRuntime

__all__ = ["PYODIDE_VERSION", "BrowserRuntime"]

"""The web dashboard at ``/ui``: models, runs, comparisons, a live view, promote and rollback.

Server-rendered pages (Jinja2 templates and one small script, all shipped in this package:
no CDN). ``create_app`` mounts :func:`create_ui` at ``/ui``; ``modelloop ui`` serves
:func:`ui_app`, the dashboard alone.

>>> from modelloop.serving.ui import create_ui
>>> app = create_ui(settings, store)  # doctest: +SKIP
"""

from modelloop.serving.ui._app import create_ui, ui_app

__all__ = ["create_ui", "ui_app"]

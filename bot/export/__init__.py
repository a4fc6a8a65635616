"""Timeline and post-mortem export: the read model, metrics and renderers.

Pure parts (``metrics``, ``document``, ``escape``, ``chat_pages``) do no I/O; ``loader``
reads the database; ``chat``, ``http`` and ``cli`` are the three ways out, which the
composition root (bot/container.py) plugs in. Nothing is imported here so
``firebreak --help`` stays fast.
"""

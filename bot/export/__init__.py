"""Timeline and post-mortem export: the read model, metrics, renderers and their wiring.

Pure parts (``metrics``, ``document``, ``escape``, ``chat_pages``) do no I/O; ``loader``
reads the database; ``chat``, ``http`` and ``cli`` are the three ways out; ``install``
wires them into the container. Nothing is imported here so ``firebreak --help`` stays fast.
"""

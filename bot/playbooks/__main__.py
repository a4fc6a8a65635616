"""``python -m bot.playbooks lint|import``: the playbook commands without the full CLI."""

import sys

from bot.playbooks.cli import main

sys.exit(main())

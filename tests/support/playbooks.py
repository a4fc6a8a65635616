"""Playbooks that tests write into a folder of their own."""

from __future__ import annotations

#: A fallback playbook whose first step escalates when its deadline passes (the shipped
#: default reminds at its first deadline and leaves paging to the escalation policy).
ESCALATING_FALLBACK = """\
id: fallback
title: Fallback
default: true
phases:
  - kind: symptoms
    title: Confirm and scope
    steps:
      - text: Acknowledge the incident and name a commander (/incident role commander @you).
        deadline: 5m
        on_deadline: escalate
"""

"""Connections between features that must not know each other.

Each feature installs itself from the composition root; the few places where one feature
feeds another (a playbook's escalation policy drives the escalation engine, a missed step
deadline escalates) are connected here, so neither package imports the other.
"""

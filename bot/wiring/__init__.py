"""Connections between features that must not know each other.

The composition root (bot/container.py) builds each feature and hands it what it needs; the
few places where one feature feeds another (a playbook's escalation policy drives the
escalation engine, a missed step deadline escalates, the pinned Slack summary shows the
playbook's steps) are small functions here, passed into constructors, so neither package
imports the other.
"""

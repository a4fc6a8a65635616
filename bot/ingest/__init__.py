"""Inbound webhooks: Alertmanager and PagerDuty payloads turned into incident changes.

Each source has its own subpackage (payload models, auth, mapping, store, route); the
shared rules (what a 4xx is, 503 on database trouble, metrics) live in ``webhook.py``.
"""

"""Prometheus Alertmanager webhooks (format version 4): one ``groupKey`` is one incident."""

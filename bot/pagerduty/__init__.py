"""Talking to PagerDuty: REST API v2 and Events API v2 through the official ``pagerduty``
package, delivered from the outbox, plus the on-call lookup and the two-way sync policy."""

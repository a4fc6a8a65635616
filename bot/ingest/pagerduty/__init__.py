"""PagerDuty Webhooks V3: signed incident events mapped onto the same incident commands."""

"""Errors the domain raises; adapters turn them into user-facing replies or 4xx answers."""


class DomainError(Exception):
    """A request that can never succeed as asked; the message is shown to the person."""


class IllegalTransition(DomainError):
    pass


class IncidentNotFound(DomainError):
    pass


class InvalidCommand(DomainError):
    pass

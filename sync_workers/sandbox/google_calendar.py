"""Placeholder: being written."""


def register(app, state) -> None:
    pass

"""The question console (docs/console.md): a plain-language question, one SELECT written by a
model from the reflected schema, checked (``guard``) and run read-only (``runner``). No HTTP:
the endpoint is ``tablegate.api.console``, the command ``python -m tablegate.console``."""

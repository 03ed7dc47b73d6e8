"""The local playground: a small chat platform in the browser, served by copbot itself."""

from adapters.local.adapter import PERSONAS, LocalAdapter, Persona

__all__ = ["PERSONAS", "LocalAdapter", "Persona"]

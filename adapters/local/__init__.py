"""The local playground: a small chat platform in the browser, served by copbot itself."""

from adapters.local.adapter import LocalAdapter
from adapters.local.world import PERSONAS, Persona

__all__ = ["PERSONAS", "LocalAdapter", "Persona"]

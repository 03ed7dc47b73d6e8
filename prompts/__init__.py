"""The reflection prompt library: one TOML file a topic, and the loader that checks them."""

from prompts.library import (
    LIBRARY_DIR,
    Library,
    LibraryError,
    check_prompt,
    load_library,
    load_topic,
)

__all__ = [
    "LIBRARY_DIR",
    "Library",
    "LibraryError",
    "check_prompt",
    "load_library",
    "load_topic",
]

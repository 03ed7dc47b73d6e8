"""The features of copbot. Each registers what it handles in a ``Registry``."""

"""What the adapters ask of JSON from the network, shared by their translators."""

from __future__ import annotations

from collections.abc import Mapping

# A JSON object, parsed, is a dict: asked first, because isinstance against the Mapping
# ABC costs ten times as much, and translating one request asks it a dozen times or more.
OBJECT = (dict, Mapping)

"""A JSON object from the network is asked for as a dict first, for speed; any other
mapping still counts as one, and anything else still does not."""

from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest

from adapters.slack.schema import Malformed, obj, objects
from adapters.teams.translate import well_formed


def activity(sender: Any) -> dict[str, Any]:
    return {"type": "message", "id": "1", "from": sender, "text": "hi"}


@pytest.mark.parametrize("mapping", [MappingProxyType, OrderedDict, dict])
def test_any_mapping_is_an_object(mapping: Any) -> None:
    inner = mapping({"id": "U1"})
    assert obj({"user": inner}, "user") is inner
    assert objects({"users": [inner]}, "users") == [inner]
    assert well_formed(activity(mapping({"id": "29:1", "name": "Sam"})))
    assert well_formed(activity({"id": "29:1", "extra": mapping({"a": "b"})}))


@pytest.mark.parametrize("value", [["U1"], "U1", 1, ("id", "U1")])
def test_anything_else_is_not(value: Any) -> None:
    with pytest.raises(Malformed):
        obj({"user": value}, "user")
    assert not well_formed(activity(value))
    assert not well_formed(activity({"id": "29:1", "extra": 1.5}))

"""JSON encoding of model dataclasses: inbound events wait in the inbox in this form, and
the playground keeps the bot's messages in it.

Encoding is driven by the dataclasses' own type hints: no per-type code to keep in step.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from bot import model

T = TypeVar("T")

_EVENT_TYPES: dict[str, type] = {t.__name__: t for t in model.INBOUND_EVENT_TYPES}


def encode_event(event: model.InboundEvent) -> str:
    return json.dumps(
        {"type": type(event).__name__, "data": _to_json(event)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_event(text: str) -> model.InboundEvent:
    doc = json.loads(text)
    cls = _EVENT_TYPES[doc["type"]]
    event: model.InboundEvent = _from_json(cls, doc["data"])
    return event


def dumps(value: object) -> str:
    """Any model dataclass as compact JSON."""
    return json.dumps(_to_json(value), ensure_ascii=False, separators=(",", ":"))


def loads(cls: type[T], text: str) -> T:
    return from_json(cls, json.loads(text))


def to_json(value: object) -> Any:
    """A model dataclass as plain JSON values (to embed in a larger document)."""
    return _to_json(value)


def from_json(cls: type[T], value: Any) -> T:
    decoded: T = _from_json(cls, value)
    return decoded


@cache
def _field_names(cls: Any) -> tuple[str, ...] | None:
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls))


def _to_json(value: Any) -> Any:
    # Strings first: most values are; str enums (ChannelKind) are strings too.
    if value is None or isinstance(value, str | bool | int | float):
        return value.value if isinstance(value, enum.Enum) else value
    names = _field_names(value.__class__)
    if names is not None:
        out = {name: _to_json(getattr(value, name)) for name in names}
        out["__type__"] = type(value).__name__
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(_to_json(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if isinstance(value, dict) and "__type__" in value:
            for option in options:
                if getattr(option, "__name__", None) == value["__type__"]:
                    return _from_json(option, value)
        return _from_json(options[0], value)
    if origin is frozenset:
        (item,) = typing.get_args(tp)
        return frozenset(_from_json(item, v) for v in value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in value)
        return tuple(_from_json(a, v) for a, v in zip(args, value, strict=True))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {
            f.name: _from_json(hints[f.name], value[f.name])
            for f in dataclasses.fields(tp)
            if f.name in value
        }
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if tp is datetime:
        return datetime.fromisoformat(value)
    return value

"""JSON encoding of model dataclasses: inbound events wait in the inbox in this form, and
the playground keeps the bot's messages in it. Also the reading of a request's JSON.

Encoding is driven by the dataclasses' own type hints: no per-type code to keep in step.
orjson writes and reads the JSON: every event accepted is parsed from its request and
encoded into the inbox while the platform waits, and the standard library's json took
four to ten times as long for each.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

import orjson

from bot import model

T = TypeVar("T")

_EVENT_TYPES: dict[str, type] = {t.__name__: t for t in model.INBOUND_EVENT_TYPES}


def parse_json(data: bytes | str) -> Any:
    """JSON text as ``json.loads`` reads it, but for an integer past 64 bits, read as a
    float: no platform's request and no inbox event holds one. What orjson refuses (a lone
    surrogate, NaN, text that is not JSON at all), and text that may nest deeper than the
    interpreter's recursion allows, go to json.loads: so the value, or the error, is the
    one json.loads gives."""
    if len(data) < _DEEP or _openings(data) < _DEEP:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


# json.loads raises RecursionError some way short of 1,000 levels; orjson reads 1,024.
# Text with fewer brackets than this can't nest as deep as json's limit.
_DEEP = 500


def _openings(data: bytes | str) -> int:
    if isinstance(data, str):
        return data.count("{") + data.count("[")
    return data.count(b"{") + data.count(b"[")


def encode_event(event: model.InboundEvent) -> str:
    cls: type = type(event)
    if _native(cls):
        # orjson writes the dataclass itself, field by field, as _to_json would have.
        # Datetimes through ``default``: orjson would round an offset to whole minutes.
        try:
            doc = {"type": cls.__name__, "data": event}
            option = orjson.OPT_PASSTHROUGH_DATETIME
            return orjson.dumps(doc, default=_isoformat, option=option).decode()
        except orjson.JSONEncodeError:
            pass  # an integer past 64 bits, or a lone surrogate: written as json writes it
    return _dump({"type": cls.__name__, "data": _to_json(event)})


def decode_event(text: str) -> model.InboundEvent:
    doc = parse_json(text)
    cls = _EVENT_TYPES[doc["type"]]
    event: model.InboundEvent = _from_json(cls, doc["data"])
    return event


def dumps(value: object) -> str:
    """Any model dataclass as compact JSON."""
    return _dump(_to_json(value))


def loads(cls: type[T], text: str) -> T:
    return from_json(cls, json.loads(text))  # records may hold any integer: read exactly


def _dump(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _COMPACT.encode(value)  # an integer past 64 bits, or a lone surrogate


# For what orjson does not write; made once (json.dumps with options builds one a call).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _isoformat(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


@cache
def _native(cls: Any) -> bool:
    """Whether orjson can write ``cls`` as a plain dataclass: its union fields have one
    option besides None (the others need ``__type__`` to be read back), and its fields
    hold only strings, integers, enums, datetimes, tuples and such dataclasses."""
    hints = _hints(cls)
    # orjson leaves out a field whose name starts with "_": such a class is written by hand.
    return all(
        not name.startswith("_") and _native_hint(hints[name]) for name in _field_names(cls) or ()
    )


def _native_hint(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    args: Iterable[Any] = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return len(options) == 1 and _native_hint(options[0])
    if origin is tuple:
        return all(a is Ellipsis or _native_hint(a) for a in args)
    if origin is not None or not isinstance(hint, type):
        return False  # a frozenset (written sorted), a mapping, a type alias: by hand
    if dataclasses.is_dataclass(hint):
        return _native(hint)
    return issubclass(hint, str | bool | int | enum.Enum | datetime)


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
    return _encoder(value.__class__)(value)


def _same(value: Any) -> Any:
    return value


_PLAIN = frozenset({str, bool, int, float, types.NoneType})  # JSON as they are


# Each class's way of becoming JSON, worked out once: every event accepted is encoded while
# the platform waits for its answer.
@cache
def _encoder(cls: Any) -> Callable[[Any], Any]:
    if issubclass(cls, enum.Enum):
        return _enum_value
    if issubclass(cls, str | bool | int | float | types.NoneType):
        return _same
    names = _field_names(cls)
    if names is not None:
        type_name = cls.__name__

        def dataclass_(value: Any) -> Any:
            out = {}
            for name in names:
                field = getattr(value, name)
                out[name] = field if field.__class__ in _PLAIN else _to_json(field)
            out["__type__"] = type_name
            return out

        return dataclass_
    if issubclass(cls, datetime):
        return datetime.isoformat
    if issubclass(cls, tuple | list):
        return lambda value: [_to_json(v) for v in value]
    if issubclass(cls, frozenset):
        return lambda value: sorted(_to_json(v) for v in value)
    return _same


def _enum_value(value: enum.Enum) -> Any:
    return value.value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(tp: Any, value: Any) -> Any:
    return _decoder(tp)(value)


# Each type's reader, worked out once from its hints: every event handled is decoded.
# A dataclass's fields are worked out on its first use, so types may refer to themselves.
@cache
def _decoder(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        # One option besides None: its own reader, which lets None through.
        return _decoder(options[0]) if len(options) == 1 else _union(options)
    if origin is frozenset:
        (item,) = typing.get_args(tp)
        return _none_or(lambda value: frozenset(_from_json(item, v) for v in value))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return _none_or(lambda value: tuple(_from_json(args[0], v) for v in value))
        return _none_or(
            lambda value: tuple(_from_json(a, v) for a, v in zip(args, value, strict=True))
        )
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _none_or(tp)
    if tp is datetime:
        return _none_or(datetime.fromisoformat)
    return _same


def _none_or(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else read(value)


def _union(options: list[Any]) -> Callable[[Any], Any]:
    by_name = {getattr(option, "__name__", None): option for option in options}

    def read(value: Any) -> Any:
        if isinstance(value, dict) and "__type__" in value and value["__type__"] in by_name:
            return _from_json(by_name[value["__type__"]], value)
        return _from_json(options[0], value)

    return _none_or(read)


def _dataclass_decoder(cls: type) -> Callable[[Any], Any]:
    plan: list[tuple[str, Callable[[Any], Any] | None]] = []  # None: taken as it is

    def read(value: Any) -> Any:
        if not plan:
            hints = _hints(cls)
            for f in dataclasses.fields(cls):
                reader = _decoder(hints[f.name])
                plan.append((f.name, None if reader is _same else reader))
        fields = {}
        for name, decode in plan:
            if name in value:
                field = value[name]
                fields[name] = field if decode is None else decode(field)
        return cls(**fields)

    return _none_or(read)

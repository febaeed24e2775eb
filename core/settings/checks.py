"""Checking config data against the settings Structs, every problem at once.

msgspec stops at the first error of a Struct, so a table is checked key by key: unknown
keys, missing required keys, then each key's value against its field's type (a nested
Struct is checked the same way, key by key).  A table whose keys are all valid is then
decoded whole, which runs its cross-field checks (``__post_init__``).  Every problem is
one line, ``<file>: <dotted path>: <what is wrong>``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import msgspec
import msgspec.inspect as mi

from agorakit.settings.base import ConfigError


class _Unresolved:
    """What an ``{"$env" = ...}`` reference that could not be resolved is replaced with;
    its problem is already reported, so the key is not checked again."""

    def __repr__(self) -> str:
        return "<unresolved>"


UNRESOLVED: Any = _Unresolved()


class Problems:
    """The problems found in one config, each ``<source>: <path>: <message>``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{self.source}: {path or '(top level)'}: {message}")

    def extend(self, error: ConfigError) -> None:
        self.lines.extend(error.messages)

    def raise_if_any(self) -> None:
        if self.lines:
            raise ConfigError(*self.lines)


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_struct(data: Any, struct_type: type, path: str, problems: Problems) -> Any:
    """``data`` decoded as ``struct_type``, or None after adding each of its problems."""
    if not isinstance(data, Mapping):
        problems.add(path, f"expected a table of settings, got {_kind(data)}")
        return None
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct_type)}
    valid = True
    config = getattr(struct_type, "__struct_config__", None)
    if config is None or config.forbid_unknown_fields:
        for key in data:
            if key not in fields:
                problems.add(join(path, key), unknown_key(key, fields))
                valid = False
    for key, field in fields.items():
        if key not in data:
            if field.required:
                problems.add(join(path, key), "missing; this key has no default")
                valid = False
        elif not _check_value(data[key], field.type, join(path, key), problems):
            valid = False
    if not valid:
        return None
    try:
        return msgspec.convert(data, struct_type, strict=False)
    except msgspec.ValidationError as exc:  # the Struct's own cross-field checks
        problems.add(*_located(path, exc, struct_type, fields))
        return None


def unknown_key(key: str, known: Mapping[str, Any] | list[str], what: str = "key") -> str:
    """``unknown key; did you mean `x`?`` (or the keys there are, without a close one)."""
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1)
    if close:
        return f"unknown {what}; did you mean `{close[0]}`?"
    return f"unknown {what}; expected one of: {', '.join(names) or 'none'}"


def _check_value(value: Any, type_: Any, path: str, problems: Problems) -> bool:
    if _unresolved_in(value):
        return False
    if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
        return check_struct(value, type_, path, problems) is not None
    try:
        msgspec.convert(value, type_, strict=False)
    except msgspec.ValidationError as exc:
        problems.add(*_located(path, exc, type_))
        return False
    return True


def _unresolved_in(value: Any) -> bool:
    if value is UNRESOLVED:
        return True
    if isinstance(value, Mapping):
        return any(_unresolved_in(v) for v in value.values())
    if isinstance(value, list):
        return any(_unresolved_in(v) for v in value)
    return False


def _kind(value: Any) -> str:
    return f"`{type(value).__name__}`"


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD_FIRST = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*): (?P<rest>.*)$", re.DOTALL)


def _located(
    path: str, exc: msgspec.ValidationError, type_: Any, fields: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """Where a msgspec error is (``path`` and the error's own path) and what it says."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any string
    sub = match.group("path") or ""
    message = match.group("message")
    if fields is not None and not sub:
        # a cross-field check that names its field first ("terms_url: ..."): put it in the path
        named = _FIELD_FIRST.match(message)
        if named and named.group("field") in fields:
            return join(path, named.group("field")), named.group("rest")
    where = path + sub if sub.startswith("[") or not sub else join(path, sub.lstrip("."))
    if message.startswith("Invalid enum value"):
        choices = _literal_choices(type_, sub)
        if choices:
            message += f"; expected one of: {', '.join(map(str, choices))}"
    return where, message


def _literal_choices(type_: Any, sub: str) -> list[Any]:
    """The allowed values of the Literal at ``sub`` (msgspec's path below ``type_``)."""
    info: Any = mi.type_info(type_)
    for name, index in re.findall(r"\.([^.\[\]]+)|(\[[^\]]*\])", sub):
        info = _unwrap(info)
        if name and isinstance(info, mi.StructType):
            info = next((f.type for f in info.fields if f.encode_name == name), None)
        elif name and isinstance(info, mi.DictType):
            info = info.value_type
        elif index and isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
            info = info.item_type
        else:
            return []
    info = _unwrap(info)
    if isinstance(info, mi.UnionType):
        info = next((t for t in info.types if isinstance(t, mi.LiteralType)), None)
    return list(info.values) if isinstance(info, mi.LiteralType) else []


def _unwrap(info: Any) -> Any:
    while isinstance(info, mi.Metadata):
        info = info.type
    return info

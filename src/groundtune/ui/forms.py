"""Form fields from the `core` config models: each field's value (a recipe's, else the model's
default), its default and its help text, so a form shows what a job will run with before it runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel

from groundtune.core.recipes import recipes_dir


@dataclass(frozen=True)
class Field_:
    name: str
    """Dotted path in the config (`lora.r`)."""
    value: Any
    default: Any
    help: str
    kind: str
    """number, integer, text, bool or choice."""
    choices: tuple[str, ...] = ()
    optional: bool = False


def default_of(model: type[BaseModel], name: str) -> Any:
    """The default of a top-level field of `model`."""
    return _default(model.model_fields[name])


def _default(info: Any) -> Any:
    if info.default_factory is not None:
        return info.default_factory()
    return None if info.is_required() else info.default


def _kind(annotation: Any) -> tuple[str, tuple[str, ...], bool]:
    args = get_args(annotation)
    optional = type(None) in args
    if optional:
        annotation = next(a for a in args if a is not type(None))
    if get_origin(annotation) is Literal:
        return "choice", tuple(str(a) for a in get_args(annotation)), optional
    if annotation is bool:
        return "bool", (), optional
    if annotation is int:
        return "integer", (), optional
    if annotation is float:
        return "number", (), optional
    return "text", (), optional


def fields(model: type[BaseModel], names: list[str], values: dict[str, Any]) -> list[Field_]:
    """`names` (dotted for nested models) of `model` with the value `values` gives, else the default."""
    out = []
    for name in names:
        owner, key = model, name
        default_owner: Any = None
        if "." in name:
            head, key = name.split(".", 1)
            default_owner = _default(model.model_fields[head])
            owner = type(default_owner)
        info = owner.model_fields[key]
        default = getattr(default_owner, key) if default_owner is not None else _default(info)
        value = values
        for part in name.split("."):
            value = value.get(part, {}) if isinstance(value, dict) else {}
        kind, choices, optional = _kind(info.annotation)
        out.append(
            Field_(
                name=name,
                value=default if value == {} else value,
                default=default,
                help=info.description or "",
                kind=kind,
                choices=choices,
                optional=optional,
            )
        )
    return out


def recipes(section: str) -> dict[str, dict[str, Any]]:
    """Shipped recipes by name -> their `section` ('data' or 'train'; a flat recipe is a train one)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(recipes_dir()).glob("*.yaml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            continue
        if section in loaded and isinstance(loaded[section], dict):
            out[path.stem] = loaded[section]
        elif section == "train" and "data" not in loaded and "train" not in loaded:
            out[path.stem] = loaded
    return out

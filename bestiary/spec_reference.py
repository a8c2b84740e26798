"""The sweep spec's reference, generated from its pydantic models (``docs/sweep-spec.md``).

Every key's type, default and description come from the models themselves, so the
reference cannot drift from what ``bestiary sweep`` accepts; a test regenerates it and
compares (``python scripts/write_docs.py`` rewrites it).
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bestiary.sweep_spec import SweepSpec


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]


def _type(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")
    for m in _models_in(annotation):
        text = text.replace(f"{m.__module__}.{m.__qualname__}", m.__name__)
    return text.replace("NoneType", "None").replace(" | ", " or ")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "(see below)" if isinstance(value, BaseModel) else f"`{value!r}`"
    if field.default is PydanticUndefined:
        return "**required**"
    return f"`{field.default!r}`"


def reference_markdown() -> str:
    """The whole reference, as Markdown."""
    out = [
        "# Sweep spec reference",
        "",
        "Generated from the spec's models by `python scripts/write_docs.py`; a test keeps it current.",
        "A sweep spec is one YAML file; unknown keys are refused, with the valid ones listed.",
        "",
    ]
    seen: set[str] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("(top level)", SweepSpec)]
    while queue:
        path, model = queue.pop(0)
        if model.__name__ in seen:
            continue
        seen.add(model.__name__)
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        out += [
            f"## `{path}` — {model.__name__}",
            "",
            doc,
            "",
            "| key | type | default | description |",
            "|---|---|---|---|",
        ]
        for name, field in model.model_fields.items():
            desc = (field.description or "").replace("|", "/")
            out.append(f"| `{name}` | `{_type(field.annotation)}` | {_default(field)} | {desc} |")
            for sub in _models_in(field.annotation):
                queue.append((f"{path}.{name}" if path != "(top level)" else name, sub))
        out.append("")
    return "\n".join(out).rstrip() + "\n"

"""The endpoints' option fields, derived from the options schema (app/core/options.py).

Each field of a Form becomes one multipart form field with the schema's default, range or choices and help
text, so the OpenAPI document describes it and FastAPI refuses an out-of-range value with 422 before any
work starts; the options object is then built by the same code as every other front end's."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Form as FormField

from app.core.options import Form, SwapOptions


def _annotation(field: Any) -> Any:
    spec = field.spec
    constraints: dict[str, Any] = {"description": spec.help}
    if field.kind == "choice":
        kind: Any = Literal[tuple(v for v, _ in spec.choices)]
    elif field.kind == "bool":
        kind = bool
    else:
        kind = int if field.kind == "int" else float
        if spec.low is not None:
            constraints["ge"] = spec.low
        if spec.high is not None:
            constraints["le"] = spec.high
        if spec.multiple_of is not None:
            constraints["multiple_of"] = spec.multiple_of
    return Annotated[kind, FormField(**constraints)]


def options_dependency(form: Form[SwapOptions]) -> Callable[..., SwapOptions]:
    """A FastAPI dependency taking `form`'s fields (by their API names) and returning the options."""
    params = [
        inspect.Parameter(f.api_name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=_annotation(f))
        for f in form
    ]

    def options(**values: Any) -> SwapOptions:
        return form.build({f.key: values[f.api_name] for f in form})

    options.__signature__ = inspect.Signature(params, return_annotation=SwapOptions)  # type: ignore[attr-defined]
    return options

"""Parse pydantic models at public entry points, raising our ValidationError."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeVar

import pydantic

from evservice.errors import ValidationError

__all__ = ["parse_model"]

M = TypeVar("M", bound=pydantic.BaseModel)


def parse_model(cls: type[M], data: Any, *, prefix: str = "") -> M:
    """``cls.model_validate(data)`` (or JSON text/bytes) with errors from our tree."""
    try:
        if isinstance(data, str | bytes):
            # JSON numbers become Decimal exactly (1.1 stays 1.1), never float.
            try:
                data = json.loads(data, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                raise ValidationError(prefix or "(document)", f"is not valid JSON: {exc}") from exc
        if isinstance(data, cls):
            return data
        return cls.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError.from_pydantic(exc, prefix=prefix) from exc

"""The pain.001.001.09 schema: the ISO 20022 XSD the `sepaxml` package ships
(sepaxml/schemas/pain.001.001.09.xsd, unmodified), read with xmlschema. Every pain.001
file the test suite writes is validated: the file drop of tests.dispatch_support
records each invalid file in INVALID, and conftest fails the test that wrote it."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import xmlschema

INVALID: list[str] = []


@lru_cache(maxsize=1)
def pain001_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"))


def pain001_errors(source: bytes | Path) -> list[str]:
    data = source.read_bytes() if isinstance(source, Path) else source
    return [f"{e.path}: {e.reason}" for e in pain001_schema().iter_errors(data.decode("utf-8"))]


def assert_valid_pain001(source: bytes | Path) -> None:
    errors = pain001_errors(source)
    assert not errors, "pain.001.001.09 schema violations:\n" + "\n".join(errors)

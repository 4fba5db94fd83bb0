"""User trackers named on the command line: `FILE.py:Class` or `package.module:Class`,
constructed with `--param key=value` (every tracker that takes `key`) or
`--param Class.key=value` (that one only). A value is read as JSON when it is JSON (`5`,
`0.5`, `true`, `"text"`, `[1, 2]`), else taken as text.

A spec is plain text, so a replay of several days in worker processes loads the same
trackers in each worker: `TrackerSpec.load()` there gives what `load_trackers` gives here.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vnrec.errors import BadInputError


@dataclass(frozen=True)
class TrackerSpec:
    """Where a tracker class is and the parameters it is constructed with."""

    spec: str
    params: dict[str, Any] = field(default_factory=dict)

    def load(self) -> object:
        cls = _tracker_class(self.spec)
        try:
            return cls(**self.params)
        except Exception as exc:
            raise BadInputError(
                f"--tracker {self.spec}: constructing {cls.__name__} failed:"
                f" {type(exc).__name__}: {exc}"
            ) from exc


def parse_params(texts: Sequence[str]) -> list[tuple[str | None, str, Any]]:
    """`--param` values as (class name or None, key, value)."""
    params = []
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInputError(f"--param {text!r}: expected key=value or Class.key=value")
        scope, dot, name = key.rpartition(".")
        if not name.isidentifier() or (dot and not scope):
            raise BadInputError(f"--param {text!r}: {key!r} is not a parameter name")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        params.append((scope or None, name, value))
    return params


def tracker_specs(specs: Sequence[str], param_texts: Sequence[str]) -> list[TrackerSpec]:
    """Each `--tracker` with the parameters its class takes; every parameter must be taken
    by some tracker (a typo is an error, not a silently ignored value)."""
    params = parse_params(param_texts)
    classes = [_tracker_class(spec) for spec in specs]
    used = [False] * len(params)
    result = []
    for spec, cls in zip(specs, classes, strict=True):
        accepted = _parameters(cls)
        given: dict[str, Any] = {}
        for index, (scope, key, value) in enumerate(params):
            if scope is not None and scope != cls.__name__:
                continue
            if key in accepted or "**" in accepted:
                given[key] = value
                used[index] = True
            elif scope is not None:
                raise BadInputError(
                    f"--param {scope}.{key}: {cls.__name__} takes no parameter {key!r}"
                    f" (it takes: {', '.join(sorted(accepted - {'**'})) or 'none'})"
                )
        result.append(TrackerSpec(_located(spec), given))
    for (scope, key, _), taken in zip(params, used, strict=True):
        if not taken:
            what = f"{scope}.{key}" if scope else key
            raise BadInputError(f"--param {what}: no --tracker takes a parameter {key!r}")
    return result


def load_trackers(specs: Sequence[TrackerSpec]) -> list[object]:
    return [spec.load() for spec in specs]


def _parameters(cls: type) -> set[str]:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return set()
    names = set()
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            names.add("**")
        elif parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            names.add(parameter.name)
    return names


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _located(spec: str) -> str:
    """The spec with its file made absolute: a worker process (or a cluster's worker, on a
    shared file system) loads it from another working directory."""
    where, _, name = spec.rpartition(":")
    if not _is_file(where):
        return spec
    return f"{Path(where).resolve()}:{name}"


def _tracker_class(spec: str) -> type:
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise BadInputError(f"--tracker {spec}: expected FILE.py:Class or package.module:Class")
    module = _module_of(spec, where)
    cls = getattr(module, name, None)
    if cls is None:
        raise BadInputError(f"--tracker {spec}: {where} has no {name}")
    if not isinstance(cls, type):
        raise BadInputError(f"--tracker {spec}: {name} is not a class")
    return cls


def _module_of(spec: str, where: str) -> Any:
    if _is_file(where):
        path = Path(where).resolve()
        if not path.is_file():
            raise BadInputError(f"--tracker {spec}: no such file {where}")
        # One module per file, named by its path: the same file is loaded once.
        module_name = "vnrec_tracker_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
        if module_name in sys.modules:
            return sys.modules[module_name]
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise BadInputError(f"--tracker {spec}: cannot load {where} as Python")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            del sys.modules[module_name]
            raise BadInputError(
                f"--tracker {spec}: importing {where} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return module
    # As `python -m` would: a module in the working directory is found too.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))
    try:
        return importlib.import_module(where)
    except (Exception, SystemExit) as exc:
        raise BadInputError(
            f"--tracker {spec}: importing {where} failed: {type(exc).__name__}: {exc}"
        ) from exc

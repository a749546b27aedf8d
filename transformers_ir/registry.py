"""What ``class:`` in a config may name: our stages by name, plugins by their entry-point name (group
``transformers_ir.stages``), and any ``pt.Transformer`` by its dotted path (``mypkg.rerankers.MyReranker``).

A plugin declares, in its package metadata::

    [project.entry-points."transformers_ir.stages"]
    MyReranker = "mypkg.rerankers:MyReranker"

``tir.to_yaml`` writes a class by the name that resolves back to it: ours and plugins by name, others dotted.
"""
from __future__ import annotations

import importlib
from importlib import metadata
from typing import Iterator, Mapping

import pyterrier as pt

ENTRY_POINTS = "transformers_ir.stages"


class UnknownStageClass(KeyError):
    """A ``class:`` that names nothing usable; the message says what was tried."""

    def __str__(self) -> str:
        return self.args[0]


def _ours() -> dict[str, type]:
    import transformers_ir
    return {name: obj for name in transformers_ir.__all__
            if isinstance(obj := getattr(transformers_ir, name), type) and issubclass(obj, pt.Transformer)}


def _plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINTS)}


def _transformer(cls: object, name: str) -> type:
    if not (isinstance(cls, type) and issubclass(cls, pt.Transformer)):
        raise UnknownStageClass(f"{name!r} is not a PyTerrier transformer class (it is {cls!r})")
    return cls


class Registry(Mapping[str, type]):
    """The stage classes configs can name (see the module); iterating gives ours and the plugins'."""

    def __init__(self, extra: Mapping[str, type] | None = None):
        self._named = {**_ours(), **(extra or {})}
        self._plugins = _plugins()

    def __getitem__(self, name: str) -> type:
        if name in self._named:
            return self._named[name]
        if name in self._plugins:
            try:
                return _transformer(self._plugins[name].load(), name)
            except ImportError as e:
                raise UnknownStageClass(f"plugin stage {name!r} ({self._plugins[name].value}) cannot be loaded: "
                                        f"{e}") from None
        module, _, attr = name.rpartition(".")
        if not module:
            raise UnknownStageClass(f"unknown stage class {name!r}; available: {', '.join(sorted(self))}, or a "
                                    f"dotted path to a pt.Transformer class (mypkg.module.Class)")
        try:
            return _transformer(getattr(importlib.import_module(module), attr), name)
        except (ImportError, AttributeError) as e:
            raise UnknownStageClass(f"stage class {name!r} cannot be imported: {e}") from None

    def __iter__(self) -> Iterator[str]:
        return iter([*self._named, *(p for p in self._plugins if p not in self._named)])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
            return True
        except KeyError:
            return False

    def name_of(self, cls: type) -> str:
        """The ``class:`` that names ``cls``: its registered or plugin name, else its dotted path."""
        for name, known in self._named.items():
            if known is cls:
                return name
        for name, ep in self._plugins.items():
            if ep.value.replace(":", ".") == f"{cls.__module__}.{cls.__qualname__}":
                return name
        return f"{cls.__module__}.{cls.__qualname__}"


def stage_registry() -> Registry:
    """The registry configs use."""
    return Registry()

"""YAML loading that remembers the line of every key, so errors can name file, line and key.

Stricter than plain ``yaml.safe_load``: a key written twice in one mapping is an error naming both lines (PyYAML
silently keeps the last), and aliases may not expand the document beyond :data:`MAX_NODES` nodes (a few hundred
bytes of nested aliases would otherwise grow to gigabytes when the config is walked or validated).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..core import TirError

Key = tuple  # a path of mapping keys / sequence indices
MAX_NODES = 100_000


class ConfigError(TirError, ValueError):
    """A problem in a config file, located by file, line and key."""

    def __init__(self, path: str | Path, line: int | None, key: str | None, message: str):
        self.path, self.line, self.key = str(path), line, key
        where = self.path + (f":{line}" if line else "") + (f": key '{key}'" if key else "")
        super().__init__(f"{where}: {message}")


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes in the document once aliases are expanded (each distinct node counted once per use), in linear time."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a recursive alias counts once; PyYAML refuses to construct it anyway
        children = ([child for pair in node.value for child in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        sizes[id(node)] = 1 + sum(_expanded_size(c, sizes) for c in children)
    return sizes[id(node)]


class LocatedYaml:
    """A parsed YAML document and the line (1-based) of each key path."""

    def __init__(self, path: str | Path, text: str | None = None):
        self.path = Path(path)
        if text is None:
            try:
                text = self.path.read_bytes().decode("utf-8-sig")
            except UnicodeDecodeError as e:
                raise ConfigError(self.path, None, None, f"invalid UTF-8 at byte {e.start}; save the file as UTF-8") from None
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            raise self._yaml_error(e) from None
        except RecursionError:
            raise ConfigError(self.path, None, None, "the document is nested too deeply") from None
        if node is not None and _expanded_size(node, {}) > MAX_NODES:
            raise ConfigError(self.path, None, None, f"the document expands to more than {MAX_NODES:,} values "
                                                     f"(nested YAML aliases?); refusing to load it")
        self.lines: dict[Key, int] = {}
        self.files: dict[Key, Path] = {}  # keys merged in from another file (an include) and where they came from
        if node is not None:
            self._walk(node, ())
        try:
            self.data = yaml.load(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            raise self._yaml_error(e) from None

    def _yaml_error(self, e: yaml.YAMLError) -> ConfigError:
        mark = getattr(e, "problem_mark", None)
        return ConfigError(self.path, mark.line + 1 if mark else None, None,
                           f"invalid YAML: {getattr(e, 'problem', None) or e}")

    def _walk(self, node: yaml.Node, key: Key) -> None:
        self.lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for k, v in node.value:
                name = k.value if isinstance(k, yaml.ScalarNode) else id(k)
                line = k.start_mark.line + 1
                if name in seen and k.tag != "tag:yaml.org,2002:merge":
                    raise ConfigError(self.path, line, ".".join(str(p) for p in key + (name,)),
                                      f"written twice in one mapping (first on line {seen[name]}); "
                                      f"YAML would silently keep only the last")
                seen[name] = line
                child = key + (name,)
                self._walk(v, child)
                self.lines[child] = line
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, key + (i,))

    def _located(self, key: Key) -> Key:
        while key not in self.lines and key:
            key = key[:-1]
        return key

    def line(self, key: Key) -> int | None:
        """The line of ``key``, or of its nearest ancestor that exists."""
        return self.lines.get(self._located(key))

    def file(self, key: Key) -> Path:
        """The file ``key`` was written in (an included one, or this one)."""
        located = self._located(key)
        while located not in self.files and located:
            located = located[:-1]
        return self.files.get(located, self.path)

    def merge(self, other: "LocatedYaml", section: str, name: str) -> None:
        """Take ``other``'s ``section.name`` (e.g. ``stages.bm25``) into this document, with its lines and file."""
        self.data.setdefault(section, {})[name] = other.data[section][name]
        prefix = (section, name)
        for key, line in other.lines.items():
            if key[:2] == prefix:
                self.lines[key] = line
        self.files[prefix] = other.file(prefix)
        for key, path in other.files.items():
            if key[:2] == prefix:
                self.files[key] = path

    def error(self, key: Key, message: str) -> ConfigError:
        return ConfigError(self.file(key), self.line(key), ".".join(str(k) for k in key) or None, message)

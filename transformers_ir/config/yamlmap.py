"""YAML loading that remembers the line of every key, so errors can name file, line and key."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..core import TirError

Key = tuple  # a path of mapping keys / sequence indices


class ConfigError(TirError, ValueError):
    """A problem in a config file, located by file, line and key."""

    def __init__(self, path: str | Path, line: int | None, key: str | None, message: str):
        self.path, self.line, self.key = str(path), line, key
        where = self.path + (f":{line}" if line else "") + (f": key '{key}'" if key else "")
        super().__init__(f"{where}: {message}")


class LocatedYaml:
    """A parsed YAML document and the line (1-based) of each key path."""

    def __init__(self, path: str | Path, text: str | None = None):
        self.path = Path(path)
        text = self.path.read_text() if text is None else text
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark else None
            raise ConfigError(self.path, line, None, f"invalid YAML: {getattr(e, 'problem', None) or e}") from None
        self.lines: dict[Key, int] = {}
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, key: Key) -> None:
        self.lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                child = key + (k.value,)
                self._walk(v, child)
                self.lines[child] = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, key + (i,))

    def line(self, key: Key) -> int | None:
        """The line of ``key``, or of its nearest ancestor that exists."""
        while key not in self.lines and key:
            key = key[:-1]
        return self.lines.get(key)

    def error(self, key: Key, message: str) -> ConfigError:
        return ConfigError(self.path, self.line(key), ".".join(str(k) for k in key) or None, message)

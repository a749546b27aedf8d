"""``include:``: configs pull named stages and pipelines from recipe files (the project's ``pipelines/`` folder).

A recipe is a YAML file with ``stages:`` and ``pipelines:`` (the form ``tir.to_yaml`` writes), an optional
``description:`` and its own ``include:``. ``include: [bm25, fastforward]`` names recipes: a bare name is
``pipelines/<name>.yaml`` of the project (or a folder on ``$TIR_PIPELINES_PATH``), a path (``./mine.yaml``,
``../recipes/x.yaml``) is relative to the including file. Included stages and pipelines merge into the including
file; what the including file defines itself overrides an included definition (explicitly: it is written there),
and one name defined in two different included places is an error naming both. Errors inside an included file name
that file and line.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .yamlmap import ConfigError, LocatedYaml

SECTIONS = ("stages", "pipelines")
RECIPE_KEYS = {"description", "include", *SECTIONS}
PIPELINES_PATH_VAR = "TIR_PIPELINES_PATH"


def recipe_folders() -> list[Path]:
    """Where bare recipe names are looked up: ``$TIR_PIPELINES_PATH`` folders, then the project's ``pipelines/``
    (a source checkout), then where an installed package put them (``<prefix>/share/transformers-ir/pipelines``)."""
    extra = [Path(p) for p in os.environ.get(PIPELINES_PATH_VAR, "").split(os.pathsep) if p]
    return extra + [Path(__file__).resolve().parents[2] / "pipelines",
                    Path(sys.prefix) / "share" / "transformers-ir" / "pipelines"]


def recipe_path(name: str, including: Path) -> Path | None:
    """The file ``name`` refers to from the file ``including``, or None."""
    if name.endswith((".yaml", ".yml")) or "/" in name or os.sep in name:
        path = (including.parent / name).resolve()
        return path if path.is_file() else None
    return next((folder / f"{name}.yaml" for folder in recipe_folders() if (folder / f"{name}.yaml").is_file()), None)


def available_recipes() -> dict[str, Path]:
    """Bare recipe names and their files (earlier folders win)."""
    found: dict[str, Path] = {}
    for folder in reversed(recipe_folders()):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
            found[path.stem] = path
    return dict(sorted(found.items()))


def resolve_includes(doc: LocatedYaml, seen: tuple[Path, ...] = ()) -> None:
    """Merge the stages and pipelines of every file ``doc`` includes (recursively) into ``doc``; see the module."""
    includes = doc.data.get("include") or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        raise doc.error(("include",), "include: takes a list of recipe names or paths")
    taken: dict[tuple[str, str], tuple[Path, int | None]] = {}
    own = {(section, name) for section in SECTIONS for name in (doc.data.get(section) or {})}
    for i, name in enumerate(includes):
        path = recipe_path(str(name), doc.path)
        if path is None:
            known = ", ".join(available_recipes()) or "none"
            raise doc.error(("include", i), f"no recipe {name!r} (a name from {known}, or a path relative to "
                                            f"{doc.path.parent})")
        if path in seen or path == doc.path.resolve():
            raise doc.error(("include", i), f"{path} includes itself (through {' -> '.join(map(str, seen))})")
        recipe = load_recipe(path, seen + (doc.path.resolve(),))
        for section in SECTIONS:
            for entry in recipe.data.get(section) or {}:
                where = (recipe.file((section, entry)), recipe.line((section, entry)))
                if (section, entry) in own:
                    continue  # the including file defines it: its definition wins
                if (section, entry) in taken and taken[(section, entry)] != where:
                    first = taken[(section, entry)]
                    raise ConfigError(where[0], where[1], f"{section}.{entry}",
                                      f"{section[:-1]} {entry!r} is also defined at {first[0]}:{first[1]}; "
                                      f"define it in {doc.path.name} to choose")
                taken[(section, entry)] = where
                doc.merge(recipe, section, entry)
    for section in SECTIONS:  # included definitions first, in include order, then the including file's own
        if section in doc.data and doc.data[section] is not None:
            entries = doc.data[section]
            included = [name for (s, name) in taken if s == section]
            doc.data[section] = {**{n: entries[n] for n in included if n in entries},
                                 **{n: v for n, v in entries.items() if n not in included}}


def load_recipe(path: Path, seen: tuple[Path, ...] = ()) -> LocatedYaml:
    """A recipe file, checked (only recipe keys) and with its own includes merged."""
    recipe = LocatedYaml(path)
    if recipe.data is None:
        recipe.data = {}
    if not isinstance(recipe.data, dict):
        raise recipe.error((), "a recipe is a mapping with stages: and pipelines:")
    for key in recipe.data:
        if key not in RECIPE_KEYS:
            raise recipe.error((key,), f"unknown key in a recipe (a recipe holds {', '.join(sorted(RECIPE_KEYS))})")
    resolve_includes(recipe, seen)
    return recipe

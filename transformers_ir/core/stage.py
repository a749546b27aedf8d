"""The contract every transformers-ir stage keeps, declared once: its ``__init__`` signature.

A stage subclasses :class:`Stage`, annotates each ``__init__`` parameter with its type and range
(``k1: NonNegative = 0.9``, ``b: Fraction = 0.4``, ``num_results: Count = 1000``, ``mode: Literal[...]``) and
stores each parameter ``p`` as ``self._p`` or ``self.p`` (normalised: a dataset name becomes the dataset; ``_p``
when ``p`` is a derived attribute, e.g. ``_index`` the index given, ``index`` the one used). From that:

- **validation**: every argument is checked against its annotation (pydantic, lax: YAML's ``"5e-4"`` is a float)
  before ``__init__`` runs — one :class:`ParameterError` naming the stage and parameter, the same check for a
  Python call and for a YAML config (:meth:`Stage.check_params`, which the config maps to file:line:key);
- ``__repr__`` (pyterrier-alpha's convention): required arguments, then those that differ from their defaults;
- ``to_config()``: every argument that is set, as plain values (what ``tir.to_yaml`` writes);
- ``fingerprint()``: every parameter except the runtime ones (:attr:`Stage.runtime_params`: device, threads,
  batch sizes, verbosity), datasets and indexes by their content identity, overlaid by :meth:`Stage.identity`
  (e.g. model weights) — computed without building or training anything.
"""
from __future__ import annotations

import functools
import inspect
import math
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar, Mapping, Protocol

import pandas as pd
import pyterrier as pt
from annotated_types import Ge, Gt, Le

from .errors import TirError
from .hashing import value_sha256
from .paths import cache_dir

NonNegative = Annotated[float, Ge(0)]
Positive = Annotated[float, Gt(0)]
Fraction = Annotated[float, Ge(0), Le(1)]
Count = Annotated[int, Ge(1)]
NonNegativeInt = Annotated[int, Ge(0)]

_EMPTY = inspect.Parameter.empty
TRAINING_LOG = "training.json"  # written last by every fit(): a checkpoint folder holding it is finished
_UnionType = type(int | None)


class ParameterError(TirError, ValueError):
    """An argument a stage cannot take; names the stage and the parameter."""

    def __init__(self, stage: str, param: str, message: str):
        self.stage, self.param = stage, param
        super().__init__(f"{stage}: parameter {param!r} {message}")


def plain(value: Any) -> Any:
    """A parameter value as YAML writes it: a dataset by name, an index or path as a string, tuples as lists."""
    if hasattr(value, "corpus_iter") and hasattr(value, "name"):  # a Dataset (core does not import data/)
        return value.name
    if isinstance(value, Path) or hasattr(value, "manifest") and hasattr(value, "path"):
        return str(getattr(value, "path", value))
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def identity_of(value: Any) -> Any:
    """What a parameter value contributes to a fingerprint: a dataset's corpus content hash, an index's
    :meth:`identity`, a path as a string; plain values as they are."""
    if hasattr(value, "corpus_iter") and hasattr(value, "fingerprint"):
        return {"corpus": value.fingerprint()}
    if hasattr(value, "identity") and hasattr(value, "manifest"):
        return value.identity()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return [identity_of(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _describe(annotation: Any) -> str:
    """``str | Dataset | None`` -> ``a str, a Dataset or None``."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, _UnionType) else (annotation,)
    names = ["None" if o is type(None) else f"a {getattr(o, '__name__', str(o))}" for o in options]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class Stage(pt.Transformer):
    """Base of every transformers-ir stage: parameters declared by the ``__init__`` signature (see the module).

    ``cache_output = False`` keeps the stage's output out of the stage cache (e.g. looking text up again is cheaper
    than storing it). :meth:`prepare` builds what the stage needs (indexes, models) before queries are timed.
    """

    runtime_params: ClassVar[frozenset[str]] = frozenset({"device", "threads", "batch_size", "encode_batch",
                                                          "verbose"})
    cache_output: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_stage_checked", False):
            return

        @functools.wraps(init)
        def checked(self, *args, **kw):
            if type(self).__init__ is checked:  # the outermost __init__: its class declares the parameters
                args, kw = type(self)._check_call(args, kw)
            init(self, *args, **kw)

        checked._stage_checked = True
        cls.__init__ = checked

    # --- declaration ------------------------------------------------------------------------------------------

    @classmethod
    def parameters(cls) -> dict[str, inspect.Parameter]:
        """The declared parameters: ``__init__``'s, without ``self``."""
        return _parameters(cls)

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` validated against the declared types and ranges, converted where lax (``"5e-4"`` -> 0.0005);
        raises :class:`ParameterError` naming the first bad one, ``TypeError`` for an unknown one."""
        declared = cls.parameters()
        out = {}
        for name, value in params.items():
            if name not in declared:
                raise TypeError(f"{cls.__name__} has no parameter {name!r} (parameters: {', '.join(declared)})")
            out[name] = _validate(cls, name, value)
        return out

    @classmethod
    def _check_call(cls, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except TypeError:
            return args, kwargs  # let __init__ raise Python's own error
        checked = cls.check_params({k: v for k, v in bound.arguments.items() if k in _parameters(cls)})
        bound.arguments.update(checked)
        return bound.args[1:], bound.kwargs

    # --- what derives from it ---------------------------------------------------------------------------------

    def _value(self, name: str) -> Any:
        for attr in (f"_{name}", name):  # pyterrier-alpha's order: ``_name`` (the argument as given) first
            if attr in self.__dict__ or hasattr(type(self), attr):
                return getattr(self, attr)
        raise AttributeError(f"{type(self).__name__} does not store its parameter {name!r} as self.{name} "
                             f"(the stage contract, transformers_ir/core/stage.py)")

    def _non_default(self, skip_runtime: bool) -> list[tuple[inspect.Parameter, Any]]:
        """(parameter, value) for the required parameters and those that differ from their defaults."""
        out = []
        for p in self.parameters().values():
            if skip_runtime and p.name in self.runtime_params:
                continue
            value = self._value(p.name)
            if p.default is _EMPTY or not _equal(plain(value), plain(p.default)):
                out.append((p, value))
        return out

    def __repr__(self) -> str:
        parts, positional = [], True
        shown = dict((p.name, v) for p, v in self._non_default(skip_runtime=True))
        for p in self.parameters().values():
            if p.name not in shown:
                positional = False
                continue
            positional = positional and p.kind is p.POSITIONAL_OR_KEYWORD
            text = repr(plain(shown[p.name]))
            parts.append(text if positional else f"{p.name}={text}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_config(self) -> dict:
        """Constructor arguments as plain values: every parameter that is set (defaults written out, so the YAML
        means the same when a default changes), runtime ones only when they differ from their defaults."""
        changed = {p.name for p, _ in self._non_default(skip_runtime=False)}
        return {name: plain(self._value(name)) for name in self.parameters()
                if (name in changed or name not in self.runtime_params) and self._value(name) is not None}

    def identity(self) -> dict:
        """What the parameters do not say about the output (e.g. a model's weights, keyed by its parameter's
        name); overlays the parameters in :meth:`fingerprint`. Must not build or train anything."""
        return {}

    def fingerprint(self) -> dict:
        """What this stage computes: its parameters (not the runtime ones), data and model identity."""
        params = {name: identity_of(self._value(name)) for name in self.parameters()
                  if name not in self.runtime_params}
        return {**params, **self.identity()}

    def prepare(self) -> "Stage":
        """Build or load what the stage needs before queries run (not part of query time)."""
        return self

    def replace(self, **changes: Any) -> "Stage":
        """A new stage of this class with these parameters changed and the others as they are here."""
        return type(self)(**{**{name: self._value(name) for name in self.parameters()}, **changes})


class Trainable(Protocol):
    """What every trainable stage's ``fit`` looks like: train on ``train_topics`` / ``train_qrels`` (hard negatives
    mined from ``negatives``, a pipeline run on the train topics, where the stage needs them; documents from
    ``dataset``, default the stage's), save the checkpoint in ``output_dir`` (default: a folder under the cache keyed
    by everything training depends on, reused when it exists) and return a stage that uses it."""

    def fit(self, train_topics: pd.DataFrame, train_qrels: pd.DataFrame, *, negatives: pt.Transformer | None = None,
            dataset: Any = None, output_dir: str | Path | None = None, **training: Any) -> Stage: ...


def training_output_dir(stage: Stage, output_dir: str | Path | None, train_topics: pd.DataFrame,
                        train_qrels: pd.DataFrame, negatives: Any, training: Mapping[str, Any]) -> tuple[Path, bool]:
    """Where ``stage.fit`` saves its checkpoint, and whether a finished one is already there (only ever true for
    the default folder, which is keyed by the stage, the training data, the negatives pipeline and the settings)."""
    if output_dir is not None:
        return Path(output_dir), False
    from .fingerprint import frame_fingerprint, stage_fingerprint
    key = {"stage": stage_fingerprint(stage), "topics": frame_fingerprint(train_topics),
           "qrels": frame_fingerprint(train_qrels),
           "negatives": None if negatives is None else stage_fingerprint(negatives) or repr(negatives),
           "training": dict(training)}
    folder = cache_dir() / "models" / f"{type(stage).__name__.lower()}-{value_sha256(key)[:16]}"
    return folder, (folder / TRAINING_LOG).exists()


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


@functools.lru_cache(maxsize=None)
def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    signature = inspect.signature(cls.__init__)
    params = list(signature.parameters.values())[1:]
    try:
        hints = typing.get_type_hints(inspect.unwrap(cls.__init__), include_extras=True)
    except Exception as e:  # an annotation that does not resolve is a bug of the stage, not of the user
        raise TypeError(f"{cls.__name__}.__init__: annotations do not resolve ({e})") from e
    return {p.name: p.replace(annotation=hints.get(p.name, Any)) for p in params
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


@functools.lru_cache(maxsize=None)
def _adapter(cls: type, name: str):
    from pydantic import ConfigDict, TypeAdapter
    annotation = _parameters(cls)[name].annotation
    return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True, allow_inf_nan=False))


def _validate(cls: type, name: str, value: Any) -> Any:
    from pydantic import ValidationError
    annotation = _parameters(cls)[name].annotation
    if annotation is Any:
        return value
    try:
        checked = _adapter(cls, name).validate_python(value)
    except ValidationError as e:
        errors = e.errors()
        message = (errors[0]["msg"].removeprefix("Value error, ").removeprefix("Input ") if len(errors) == 1
                   else f"should be {_describe(annotation)}")
        raise ParameterError(cls.__name__, name, f"{message} (got {value!r})") from None
    return checked

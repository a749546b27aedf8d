"""Bottom floor: errors, column contracts, hashing, atomic writes, cache paths."""
from .atomic import atomic_open, atomic_write_text
from .columns import QUERY_COLUMNS, RESULT_COLUMNS, require_columns
from .errors import (DatasetNotFoundError, IndexBuildError, InputFormatError, MissingColumnError, StageError,
                     TirError, UnknownMetricError)
from .hashing import file_sha256, files_sha256, value_sha256
from .paths import cache_dir

__all__ = ["atomic_open", "atomic_write_text", "QUERY_COLUMNS", "RESULT_COLUMNS", "require_columns",
           "DatasetNotFoundError", "IndexBuildError", "InputFormatError", "MissingColumnError", "StageError", "TirError",
           "UnknownMetricError", "file_sha256", "files_sha256", "value_sha256", "cache_dir"]

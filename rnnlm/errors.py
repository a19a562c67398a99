"""User-facing errors: each carries one line that names the problem and the fix.

The CLI turns any RnnlmError into that line on stderr and a non-zero exit code, with no traceback.
"""


class RnnlmError(Exception):
    """A problem the user can fix; str(err) is the one-line message."""

    exit_code = 2


class ConfigError(RnnlmError):
    """The YAML config or a --set override is wrong."""


class DataError(RnnlmError):
    """The corpus or a text cannot be read or is unusable."""


class CheckpointError(RnnlmError):
    """A checkpoint or run directory is missing, corrupt or does not fit."""


class UnknownSymbolsError(DataError):
    """A text has symbols the tokenizer's vocabulary lacks; callers say which text in their words.

    ``symbols`` holds up to five of them, in order of appearance; ``count`` how many distinct."""

    def __init__(self, message, symbols=(), count=0):
        super().__init__(message)
        self.symbols, self.count = tuple(symbols), count


class TextFileError(DataError):
    """A text file cannot be used: missing, a directory, empty, binary or not UTF-8.

    ``path`` is the file, ``problem`` what is wrong ("not found", "is not valid UTF-8 at byte
    offset 3", ...) and ``fix`` the advice for a training corpus (the config's data.corpus); a
    command reading another file (`eval --text`) words its own fix from ``problem``."""

    def __init__(self, path, problem, fix, what="corpus"):
        super().__init__(f"{what} '{path}' {problem}: {fix}")
        self.path, self.problem, self.fix = path, problem, fix

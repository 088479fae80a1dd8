"""The exceptions of files that cannot be opened: rowflow's own class and
the OSError Python users catch, at once.

`rowflow.load("missing.pb")` raises what the CLI reports (a ModelError,
exit code 3, its one line as str(e)); the instance is also a rowflow.IoError
and the OSError subclass of its errno (FileNotFoundError, PermissionError,
IsADirectoryError), with errno, strerror and filename set, so that
`except FileNotFoundError` and `except OSError` catch it as they catch
open()'s errors.
"""

import os

_classes = {}


def _class(kind, io_error, os_error):
    key = (kind, os_error)
    cls = _classes.get(key)
    if cls is None:
        bases = (kind, io_error) if os_error is OSError else (kind, io_error, os_error)
        cls = type(kind.__name__, bases, {
            "__module__": "rowflow",
            "__qualname__": kind.__qualname__,
            "__doc__": kind.__doc__,
            "exit_code": kind.exit_code,
            # The CLI's line, not OSError's "[Errno 2] ...: 'path'".
            "__str__": BaseException.__str__,
            # Pickles (to a Dask client, from a worker process) as the
            # plain class, the one rowflow.<name> names.
            "__reduce__": lambda self: (kind, self.args),
        })
        _classes[key] = cls
    return cls


def file_error(kind, io_error, message, err, filename):
    """An instance of `kind` (ModelError, InputError) carrying `message`
    that is also `io_error` (rowflow.IoError) and the OSError of `err`."""
    os_error = type(OSError(err, os.strerror(err)))
    e = _class(kind, io_error, os_error)(message)
    e.errno, e.strerror, e.filename = err, os.strerror(err), filename
    return e

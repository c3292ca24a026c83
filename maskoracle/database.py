"""The example database: where failing inputs are saved, so that every later run replays them first.

``--db`` / ``--mask-db`` / ``$MASKORACLE_DB`` name it:

| value | database |
|---|---|
| ``none`` | no database: nothing is saved or replayed |
| ``default`` | Hypothesis's own (``.hypothesis/examples`` in the working directory) |
| a directory | a directory database; put it on a shared filesystem to share it between machines |
| ``redis://HOST:PORT/N`` (``rediss://``, ``unix://``) | a Redis server (``pip install 'maskoracle[redis]'``) |
| ``A,B,...`` | all of them: a failure is written to each and read from each (e.g. ``.hypothesis,redis://...``) |

Keys are Hypothesis's: the check and its options (``checking.check`` builds them), so workers with the same
options share failures and workers with different ones never mix them. Redis databases are cached per value,
so the checks of one process share one Redis connection (pinged once, when first opened).
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from typing import Any

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase, MultiplexedDatabase

from .errors import UsageError

ENVIRONMENT_VARIABLE = "MASKORACLE_DB"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
REDIS_KEY_PREFIX = b"maskoracle-example:"
REDIS_EXPIRE_AFTER = timedelta(days=30)  # a campaign's failures outlive a month of nightly runs
REDIS_CONNECT_TIMEOUT_S = 5.0

_opened: dict[str, ExampleDatabase | None] = {}


def chosen_database(db: str | None) -> str | None:
    """The database value in force: the option, else ``$MASKORACLE_DB``, else ``None`` (not chosen)."""
    return db or os.environ.get(ENVIRONMENT_VARIABLE) or None


def resolve_database(db: str | None, seed_given: bool, option: str = "--db") -> ExampleDatabase | None:
    """The database ``check()`` uses. Without any choice, Hypothesis's default, except that an explicit seed
    then runs without one, so that the run repeats exactly whatever earlier runs saved.
    """
    chosen = chosen_database(db)
    if chosen is None:
        return None if seed_given else settings().database
    return open_database(chosen, option)


def open_database(value: str, option: str = "--db") -> ExampleDatabase | None:
    """Open the database ``value`` names (see the module docstring); a bad value raises ``UsageError``."""
    value = value.strip()
    if value.lower() == "none":
        return None
    if value in _opened:
        return _opened[value]
    parts = [part.strip() for part in value.split(",")]
    if any(not part for part in parts):
        raise UsageError(f"{option}: empty entry in {value!r}; separate databases with single commas")
    database: ExampleDatabase | None
    if len(parts) == 1:
        database = _open_one(parts[0], option)
    elif any(part.lower() == "none" for part in parts):
        raise UsageError(f"{option}: 'none' cannot be combined with other databases ({value!r})")
    else:
        opened = [_open_one(part, option) for part in parts]
        database = MultiplexedDatabase(*(one for one in opened if one is not None))
    if any(part.startswith(REDIS_SCHEMES) for part in parts):
        _opened[value] = database  # one connection pool per Redis URL and process
    return database


def _open_one(value: str, option: str) -> ExampleDatabase | None:
    if value.lower() == "default":
        return settings().database
    if value.startswith(REDIS_SCHEMES):
        return _open_redis(value, option)
    if "://" in value:
        raise UsageError(f"{option}: unsupported database URL {value!r}; use a directory or "
                         f"redis://HOST:PORT/N")
    if os.path.exists(value) and not os.path.isdir(value):
        raise UsageError(f"{option}: {value!r} is a file; the example database is a directory")
    return DirectoryBasedExampleDatabase(value)


def _open_redis(url: str, option: str) -> ExampleDatabase:
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise UsageError(f"{option}: a Redis database needs the redis client: "
                         f"pip install 'maskoracle[redis]'") from None
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
                                      socket_timeout=REDIS_CONNECT_TIMEOUT_S)
        client.ping()
    except ValueError as error:  # a malformed URL
        raise UsageError(f"{option}: bad Redis URL {url!r}: {error}") from None
    except redis.RedisError as error:
        raise UsageError(f"{option}: cannot reach Redis at {url}: {_one_line(error)}") from None
    return TolerantDatabase(RedisExampleDatabase(client, expire_after=REDIS_EXPIRE_AFTER, key_prefix=REDIS_KEY_PREFIX),
                            url)


class TolerantDatabase(ExampleDatabase):
    """A database that may go away mid-run (a Redis outage): its failures become one warning, not failed checks.

    Once it fails, it is left alone for the rest of the process; beside other databases (``a,b``) they go on.
    """

    def __init__(self, inner: ExampleDatabase, name: str) -> None:
        super().__init__()
        self.inner, self.name, self.broken = inner, name, False

    def _guard(self, action: Any, default: Any = None) -> Any:
        if self.broken:
            return default
        try:
            return action()
        except Exception as error:  # the server went away, timed out, refused: the run goes on without it
            self.broken = True
            warnings.warn(f"maskoracle: example database {self.name} stopped answering ({_one_line(error)}); "
                          "the run goes on without it", RuntimeWarning, stacklevel=2)
            return default

    def save(self, key: bytes, value: bytes) -> None:
        self._guard(lambda: self.inner.save(key, value))

    def fetch(self, key: bytes) -> Any:
        yield from self._guard(lambda: list(self.inner.fetch(key)), [])

    def delete(self, key: bytes, value: bytes) -> None:
        self._guard(lambda: self.inner.delete(key, value))

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self._guard(lambda: self.inner.move(src, dest, value))


def _one_line(error: Any) -> str:
    return " ".join(str(error).split()) or type(error).__name__

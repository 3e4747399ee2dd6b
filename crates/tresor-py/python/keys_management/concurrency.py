"""Per-key locks (``EnvironemtType`` SINGLE: none, MULTITHREADED: a thread lock,
MULTIPROCESS: a multiprocessing lock), as keys-management's ``concurrency``."""

from __future__ import annotations

import multiprocessing
import threading
from contextlib import contextmanager
from enum import Enum


class Synchronizer(object):
    """A read/write lock protocol."""

    @contextmanager
    def read(self):
        try:
            yield self.acquire_read()
        finally:
            self.release_read()

    @contextmanager
    def write(self):
        try:
            yield self.acquire_write()
        finally:
            self.release_write()

    def acquire_read(self) -> bool:
        raise NotImplementedError()

    def release_read(self):
        raise NotImplementedError()

    def acquire_write(self) -> bool:
        raise NotImplementedError()

    def release_write(self):
        raise NotImplementedError()

    def is_locked_read(self) -> bool:
        raise NotImplementedError()

    def is_locked_write(self) -> bool:
        raise NotImplementedError()


class StubLock:
    """A lock that never blocks (single-threaded use)."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def locked(self) -> bool:
        return False


class DefaultSynchronizer(Synchronizer):
    """One lock for reads and writes. Re-entrant for threads, so a callback may call
    ``get_key`` on its own key (the original deadlocks there with MULTITHREADED)."""

    def __init__(self, lock) -> None:
        self._lock = lock

    def acquire_read(self) -> bool:
        return self._lock.acquire()

    def release_read(self):
        self._lock.release()

    def acquire_write(self) -> bool:
        return self._lock.acquire()

    def release_write(self):
        self._lock.release()

    def is_locked_read(self) -> bool:
        return _locked(self._lock)

    def is_locked_write(self) -> bool:
        return _locked(self._lock)


def _locked(lock) -> bool:
    if hasattr(lock, "locked"):
        return lock.locked()
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


class SynchronizerFactory:
    """Makes one ``Synchronizer`` per defined key."""

    def create(self) -> Synchronizer:
        raise NotImplementedError()

    def __ceil__(self) -> Synchronizer:
        return self.create()


class EnvironemtType(Enum):
    """How ``KeysManagementImpl`` is used (the original's spelling)."""

    SINGLE = 1
    MULTITHREADED = 2
    MULTIPROCESS = 3


EnvironmentType = EnvironemtType


class DefaultSynchronizerFactory(SynchronizerFactory):
    """Locks for ``environemt_type``."""

    def __init__(self, environemt_type: EnvironemtType) -> None:
        self._environemt_type = environemt_type

    def create(self) -> Synchronizer:
        if self._environemt_type == EnvironemtType.SINGLE:
            return DefaultSynchronizer(StubLock())
        if self._environemt_type == EnvironemtType.MULTITHREADED:
            return DefaultSynchronizer(threading.RLock())
        return DefaultSynchronizer(multiprocessing.RLock())

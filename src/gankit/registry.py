"""Name -> builder maps, so that every choice can be listed and every typo explained."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gankit.errors import GankitError

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered map from a name to an object (usually a builder) with a one-line summary."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, tuple[T, str]] = {}

    def register(self, name: str, summary: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            self.add(name, obj, summary)
            return obj

        return add

    def add(self, name: str, obj: T, summary: str) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = (obj, summary)

    def get(self, name: str) -> T:
        try:
            return self._items[name][0]
        except KeyError:
            raise GankitError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._items)}"
            ) from None

    def summaries(self) -> dict[str, str]:
        return {name: summary for name, (_, summary) in self._items.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

"""The adapter base class: a `SourceAdapter` is one source format, which `discover`s episodes and `read`s one (the
records: `adapters.base`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, get_args

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, RawEpisode, reraised
from adapters.hostile.isolated import confined_discover, flagged_first, isolated_check
from adapters.storage.location import Location
from adapters.storage.root import Root
from schemas.containment import OutsideRoot
from schemas.findings import Severity, SourceFinding
from schemas.spelling import did_you_mean
from schemas.storage import StorageOptions
from schemas.tiers import SOURCE_NO_ACTION, QualityTier, TierVerdict, source_default

OptionsT = TypeVar("OptionsT", bound=AdapterOptions)


class SourceAdapter(ABC, Generic[OptionsT]):
    """One source format. Subclasses name their options model as the class's parameter (`SourceAdapter[XOptions]`,
    which becomes `options_model`), set `name`, `expects`, and implement `discover` and `read`."""

    name: ClassVar[str]
    options_model: ClassVar[type[AdapterOptions]] = AdapterOptions
    options: OptionsT
    # what a root of this source holds, said when a root yields no episode ("meta/info.json here or ..."), or empty
    expects: ClassVar[str] = ""
    # why no episode of this source can hold an action, for a source that never has one ("" when some may): a job
    # spec's `tier: high|low` is then refused, since the judging step lowers every episode to actionless
    no_actions: ClassVar[str] = ""
    # the one set of camera names every episode of this source has (a video source's "video"), for the spec check of
    # the `cameras` option; None: the names depend on the data (`spec_problems` of the adapter says them)
    camera_names: ClassVar[tuple[str, ...] | None] = None
    refs_seen: ClassVar[bool] = False  # a ref names only files discovery found (`Root.vanished` all_seen)

    def __init__(
        self, options: AdapterOptions | dict[str, Any] | None = None, storage: StorageOptions | None = None
    ) -> None:
        self.options = (
            options if isinstance(options, self.options_model) else self.options_model.model_validate(options or {})
        )
        self.storage = storage  # the object store's options (endpoint, credential) for this source's URLs
        self.root: Root | None = None  # the source root its files are read beneath (`source_root`, `read_under`)
        self._noted: list[SourceFinding] = []

    def no_action_verdicts(self) -> tuple[TierVerdict, ...]:
        """Its episodes' verdict for a source none of whose episodes holds an action (`no_actions`): actionless, coded
        `source_no_action` so a curator overrules it like any other (issue 77: it was the default tier, which no
        code names); none where an episode may hold one."""
        why = f"source default actionless: {self.no_actions}"
        return source_default(QualityTier.actionless, why, SOURCE_NO_ACTION) if self.no_actions else ()

    def source_root(self, where: str | PathLike[str] | Location | Root) -> Location:
        """The root discovery reads, made once here for every adapter: a folder resolved, an object-store prefix as
        named, read with this source's storage options unless `where` is a `Root` holding its own."""
        self.root = where if isinstance(where, Root) else Root(where, self.storage)
        return self.root.location()

    def read_under(self, ref: EpisodeRef) -> None:
        """Read `ref` beneath the root its discovery stamped on it (one made by hand: the root discovered, if any)."""
        if ref.root is not None and (self.root is None or str(self.root.where) != ref.root):
            self.root = Root(ref.root, self.storage)

    def file(self, where: str | PathLike[str] | Location) -> Location:
        """The root's file or folder `where` (a ref's path, a locator's folder) through its one resolver (`Root.file`,
        with the source's storage options); this adapter's error when it leaves the root, or with no root known."""
        if self.root is None:
            raise self.error(f"{where}: no source root to read it beneath (a ref not discovered)", file=str(where))
        with reraised(OutsideRoot, lambda e: self.error(str(e), file=e.path)):
            return self.root.file(where)

    def note(
        self,
        code: str,
        message: str,
        *,
        root: Path | str,
        severity: Severity = "warning",
        subset: str | None = None,
        path: Path | str | None = None,
        episodes: Iterable[str] | None = None,
    ) -> SourceFinding:
        """Record a source finding while discovering (a folder skipped and why, files the layout does not name)."""
        found = SourceFinding(
            source=self.name,
            adapter=self.name,
            root=str(root),
            subset=subset,
            code=code,
            severity=severity,
            message=message,
            path=None if path is None else str(path),
            episodes=None if episodes is None else tuple(episodes),
        )
        if found not in self._noted:
            self._noted.append(found)
        return found

    def note_too_short(self, root: Path | str, skipped: list[tuple[str, float]], bound: float, option: str) -> None:
        """Name the episodes discovery skipped as shorter than the option `option` (`bound` seconds), never silently:
        one finding with every skipped episode and its length (the shortest first in the message)."""
        if not skipped:
            return
        shown = ", ".join(f"{rid} ({length:.3g} s)" for rid, length in sorted(skipped, key=lambda x: x[1])[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        msg = f"{len(skipped)} episodes shorter than {option} ({bound:g} s) skipped: {shown}{more}"
        msg += f"; lower {option} to read them"
        self.note("too_short", msg, root=root, episodes=[rid for rid, _ in skipped])

    def findings(self) -> list[SourceFinding]:
        """What discovery learned about the source as a whole, once `discover` has been iterated: the findings it
        noted, in the order noted. An adapter that keeps them elsewhere (a dataset's quirks) overrides this."""
        return list(self._noted)

    def inside(self, root: Any, path: Any, *, field: str | None = None, episode: str | None = None) -> Any:
        """`path` (a Location) when it lies under `root` once resolved (`adapters.storage.location.contained`), else
        this adapter's AdapterError naming it: for the files a discovery reads before it yields a ref (annotation
        tables, sidecars, a header probed), which the check of each ref's `paths` comes too late for."""
        with reraised(OutsideRoot, lambda e: self.error(str(e), file=e.path, episode=episode, field=field)):
            return root.file(path)

    @classmethod
    def root_problem(cls, root: Location) -> str | None:
        """Why the folder or prefix `root` cannot be a root of this source, found at a glance (a spec error, before any
        work); None when it may be one. The default knows no layout: a root that yields nothing is then said by
        discovery (`schemas.findings.NO_EPISODES`)."""
        return None

    def spec_problems(self, root: Location) -> list[tuple[tuple[str, ...], str]]:
        """What the spec's options say that the root, read at a glance (meta files, folder names), shows to be a typo:
        `(field path under the source, e.g. ("options", "cameras"), message)` each, refused before any work with
        "did you mean" (`schemas.spelling`); none by default. A name only the data itself declares (a bag's topics) is
        checked at discovery instead, with the same message. By default: the `cameras` option against `camera_names`."""
        names, asked = self.camera_names, self.options.cameras or []
        return [
            (("options", "cameras"), f"camera {n!r} is not one of {self.name}'s; " + did_you_mean(n, names or ()))
            for n in asked
            if names is not None and n not in names
        ]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """The class's parameter is its `options_model`; every adapter's `discover` and `read` pass through
        containment and the per-file boundary (`isolated.py`), and its `spec_problems` through the per-file boundary
        (`isolated.isolated_check`), so no adapter can forget them."""
        super().__init_subclass__(**kwargs)
        given = [
            a
            for b in cls.__dict__.get("__orig_bases__", ())
            for a in get_args(b)
            if isinstance(a, type) and issubclass(a, AdapterOptions)
        ]
        if given and "options_model" not in cls.__dict__:  # a model set in the class body is kept
            cls.options_model = given[0]
        if "discover" in cls.__dict__ and not getattr(cls.discover, "_confined", False):
            cls.discover = confined_discover(cls.__dict__["discover"], AdapterError)  # type: ignore[method-assign]
        if "read" in cls.__dict__ and not getattr(cls.read, "_confined", False):
            cls.read = flagged_first(cls.__dict__["read"], AdapterError)  # type: ignore[method-assign]
        if "spec_problems" in cls.__dict__ and not getattr(cls.spec_problems, "_confined", False):
            cls.spec_problems = isolated_check(cls.__dict__["spec_problems"], AdapterError)  # type: ignore[method-assign]

    def discover(self, root: str | PathLike[str] | Location | Root) -> Iterator[EpisodeRef]:
        """Cheap enumeration (no video decoding), deterministic order, stable ids: the first `max_episodes` of the
        `refs` under the root (`source_root`), pulled lazily inside the per-file boundary (a generator). Bad
        episodes come back with `error` set instead of stopping discovery."""
        yield from self.capped(self.refs(root))  # type: ignore[arg-type]  # a Location once confined_discover ran

    def refs(self, root: Location) -> Iterable[EpisodeRef]:
        """Every episode under `root` (a Location, read with this source's storage options), in discovery order."""
        raise NotImplementedError(f"{type(self).__name__} implements neither refs nor discover")

    def raise_discovered(self, ref: EpisodeRef) -> None:
        """Raise the error discovery found for `ref` (`AdapterError.locator`), naming its episode; else nothing."""
        err = ref.locator.get("error")
        if err is not None:
            raise self.error(err["message"], file=err["file"], episode=ref.raw_id, field=err["field"])

    def capped(self, refs: Iterable[EpisodeRef]) -> Iterator[EpisodeRef]:
        """The first `max_episodes` of `refs` (all when unset), pulled lazily: discovery stops reading there."""
        return islice(refs, self.options.max_episodes)

    def new_ref(
        self,
        raw_id: str,
        paths: Iterable[str],
        *,
        subset: str | None = None,
        source: str | None = None,
        locator: dict[str, Any] | None = None,
        error: AdapterError | None = None,
    ) -> EpisodeRef:
        """A ref of this adapter (`source`: its name unless given; `subset`: given, else the `subset` option, else
        "default"); an `error` flags it, its `AdapterError.locator` form kept for `raise_discovered`."""
        return EpisodeRef(
            adapter=self.name,
            source=source or self.name,
            subset=subset or self.options.subset or "default",
            raw_id=raw_id,
            paths=tuple(paths),
            locator={**(locator or {}), **(error.locator() if error is not None else {})},
            error=None if error is None else str(error),
        )

    @abstractmethod
    def read(self, ref: EpisodeRef) -> RawEpisode:
        """Read one episode; raise `AdapterError` naming file, episode and field on bad input."""

    def error(
        self, message: str, *, file: Path | str | None = None, episode: str | None = None, field: str | None = None
    ) -> AdapterError:
        return AdapterError(message, adapter=self.name, file=file, episode=episode, field=field)

    def failing(self, file: Any, episode: str | None) -> Callable[[str, str | None], AdapterError]:
        """A parser's `fail(message, field)`: this adapter's error naming `file`, `episode` and the field."""
        return lambda message, field: self.error(message, file=file, episode=episode, field=field)


SourceAdapter.discover = confined_discover(SourceAdapter.discover, AdapterError)  # type: ignore[method-assign]

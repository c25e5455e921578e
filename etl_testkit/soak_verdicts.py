"""The soak benchmark's arithmetic, kept free of processes and I/O so a fast test can check it: samples taken
while thousands of batches flow become one row per interval of batches, and each metric gets a verdict, flat
or bounded, from its last interval against its first.

Why first against last: a slow leak or a table that grows with history shows as a later interval costing more
than the first one did; noise on a shared machine is absorbed by each rule's factor and absolute slack.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

MB = 1_000_000


@dataclass(frozen=True)
class Sample:
    """What the soak saw at one moment."""

    at: float
    batches_done: int
    dagster_db_bytes: int
    etl_db_bytes: int
    runs_stored: int
    partitions: int
    #: Resident set size in MB by process name (daemon, webserver, code server).
    rss_mb: dict[str, float]
    #: How long the webserver took to answer the Runs page and a partition count; None on an error.
    ui_query_s: float | None = None
    #: Compute-log files in the instance's storage folder.
    compute_log_files: int = 0


@dataclass(frozen=True)
class RunTiming:
    """A run's creation and start (epoch seconds); `started` None while it waits."""

    created: float
    started: float | None


@dataclass(frozen=True)
class Interval:
    """One interval of batches: what it added, how fast ticks and run start-ups were, what the processes held."""

    batches: int
    seconds: float
    dagster_db_growth_mb: float
    etl_db_growth_mb: float
    dagster_db_mb: float
    runs_created: int
    runs_deleted: int
    runs_stored: int
    partitions: int
    compute_log_files: int
    tick_median_s: float | None
    startup_median_s: float | None
    ui_query_median_s: float | None
    rss_max_mb: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def split_intervals(
    samples: Sequence[Sample],
    runs: Sequence[RunTiming],
    ticks: Sequence[tuple[float, float]],
    every: int,
) -> list[Interval]:
    """Rows per `every` batches done: an interval ends at the first sample with that many batches done.

    `samples` are in time order, the first taken before any batch; `ticks` are (start, end) of the file sensor's
    ticks; a run or tick belongs to the interval in which it started. A last, partial interval is left out.
    """
    boundaries = [samples[0]]
    for sample in samples[1:]:
        if sample.batches_done >= every * len(boundaries):
            boundaries.append(sample)
    intervals = []
    for before, end in zip(boundaries, boundaries[1:], strict=False):
        inside = [s for s in samples if before.at < s.at <= end.at]
        created = [r for r in runs if before.at < r.created <= end.at]
        names = sorted({name for s in inside for name in s.rss_mb})
        intervals.append(
            Interval(
                batches=end.batches_done,
                seconds=round(end.at - before.at, 1),
                dagster_db_growth_mb=(end.dagster_db_bytes - before.dagster_db_bytes) / MB,
                etl_db_growth_mb=(end.etl_db_bytes - before.etl_db_bytes) / MB,
                dagster_db_mb=end.dagster_db_bytes / MB,
                runs_created=len(created),
                runs_deleted=max(0, before.runs_stored + len(created) - end.runs_stored),
                runs_stored=end.runs_stored,
                partitions=end.partitions,
                compute_log_files=end.compute_log_files,
                tick_median_s=_median([e - s for s, e in ticks if before.at < s <= end.at]),
                startup_median_s=_median([r.started - r.created for r in created if r.started is not None]),
                ui_query_median_s=_median([s.ui_query_s for s in inside if s.ui_query_s is not None]),
                rss_max_mb={n: max(s.rss_mb[n] for s in inside if n in s.rss_mb) for n in names},
            )
        )
    return intervals


@dataclass(frozen=True)
class Rule:
    """`last <= factor * first + slack`: the metric stayed flat (factor about 1) or bounded (factor below 1 for
    a growth that must level off)."""

    metric: str
    kind: str
    factor: float
    slack: float
    unit: str
    value: Callable[[Interval], float | None]


@dataclass(frozen=True)
class Verdict:
    metric: str
    kind: str
    first: float | None
    last: float | None
    limit: float | None
    ok: bool

    @property
    def word(self) -> str:
        if self.first is None or self.last is None:
            return "NOT MEASURED"
        return self.kind if self.ok else f"NOT {self.kind}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "verdict": self.word}


def soak_rules(process_names: Sequence[str]) -> list[Rule]:
    """The rules of the soak: what must level off, and what must stay flat."""
    rules = [
        # With housekeeping deleting runs past a retention shorter than the soak, the instance stops growing:
        # the last interval adds at most half of what the first (before anything expired) added.
        Rule("Dagster database growth", "bounded", 0.5, 1.0, " MB", lambda i: i.dagster_db_growth_mb),
        # The ETL tables keep every batch by design: each interval of batches costs about the same.
        Rule("ETL database growth", "flat", 1.5, 1.0, " MB", lambda i: i.etl_db_growth_mb),
        Rule("batch partitions registered", "bounded", 1.25, 100, "", lambda i: float(i.partitions)),
        Rule("compute-log files", "bounded", 1.25, 50, "", lambda i: float(i.compute_log_files)),
        Rule("batch_file_sensor tick (median)", "flat", 1.5, 0.25, " s", lambda i: i.tick_median_s),
        Rule(
            "run start-up, created -> started (median)", "flat", 1.5, 1.0, " s", lambda i: i.startup_median_s
        ),
        Rule(
            "webserver: Runs page + partition count (median)",
            "flat",
            1.5,
            0.5,
            " s",
            lambda i: i.ui_query_median_s,
        ),
    ]
    for name in process_names:
        rules.append(
            Rule(f"{name} RSS (max)", "flat", 1.25, 16.0, " MB", lambda i, n=name: i.rss_max_mb.get(n))
        )
    return rules


def judge(intervals: Sequence[Interval], rules: Sequence[Rule]) -> list[Verdict]:
    """Each rule's verdict on the last interval against the first; fewer than two intervals judge nothing."""
    verdicts = []
    for rule in rules:
        first = rule.value(intervals[0]) if len(intervals) >= 2 else None
        last = rule.value(intervals[-1]) if len(intervals) >= 2 else None
        if first is None or last is None:
            verdicts.append(Verdict(rule.metric, rule.kind, first, last, None, False))
            continue
        limit = rule.factor * first + rule.slack
        verdicts.append(Verdict(rule.metric, rule.kind, first, last, limit, last <= limit))
    return verdicts

"""The soak benchmark's arithmetic (`make bench --only soak`): samples become one row per interval of batches,
and a metric that keeps growing is judged so, whatever the machine's speed. No process, no timing."""

from etl_testkit.soak_verdicts import RunTiming, Sample, judge, soak_rules, split_intervals

MB = 1_000_000


def _sample(at, done, dagster_mb, etl_mb, stored, partitions=500, daemon_mb=200.0, ui_s=0.3):
    return Sample(
        at=at,
        batches_done=done,
        dagster_db_bytes=int(dagster_mb * MB),
        etl_db_bytes=int(etl_mb * MB),
        runs_stored=stored,
        partitions=partitions,
        rss_mb={"daemon": daemon_mb},
        ui_query_s=ui_s,
    )


def _steady_soak(dagster_mb=(10, 30, 40, 41), daemon_mb=(200, 210, 212, 214)):
    """Three intervals of 100 batches; one run created every 10 s, each started 2 s later."""
    samples = [
        _sample(0, 0, dagster_mb[0], 50, 0, daemon_mb=daemon_mb[0]),
        _sample(50, 60, 20, 53, 5, daemon_mb=daemon_mb[1]),
        _sample(100, 100, dagster_mb[1], 56, 10, daemon_mb=daemon_mb[1]),
        _sample(200, 200, dagster_mb[2], 62, 12, daemon_mb=daemon_mb[2]),
        _sample(300, 300, dagster_mb[3], 68, 12, daemon_mb=daemon_mb[3]),
        _sample(330, 350, dagster_mb[3], 71, 12),  # a partial interval: left out
    ]
    runs = [RunTiming(created=t + 1, started=t + 3) for t in range(0, 300, 10)]
    ticks = [(t + 0.5, t + 1.0) for t in range(0, 300, 10)]
    return split_intervals(samples, runs, ticks, every=100)


def test_samples_become_one_row_per_interval_of_batches():
    intervals = _steady_soak()

    assert [i.batches for i in intervals] == [100, 200, 300]
    first, second = intervals[0], intervals[1]
    assert (first.seconds, first.dagster_db_growth_mb, first.etl_db_growth_mb) == (100, 20, 6)
    assert (first.runs_created, first.runs_deleted, first.runs_stored) == (10, 0, 10)
    assert (second.runs_created, second.runs_deleted) == (10, 8)  # 10 stored + 10 created - 12 stored
    assert (first.tick_median_s, first.startup_median_s, first.ui_query_median_s) == (0.5, 2, 0.3)
    assert first.rss_max_mb == {"daemon": 210}


def test_a_soak_that_levels_off_is_flat_and_bounded():
    verdicts = judge(_steady_soak(), soak_rules(["daemon"]))

    assert [v.word for v in verdicts if not v.ok] == []
    growth = next(v for v in verdicts if v.metric == "Dagster database growth")
    assert (growth.first, growth.last, growth.limit, growth.word) == (20, 1, 11, "bounded")


def test_an_instance_that_keeps_growing_is_not_bounded():
    verdicts = judge(_steady_soak(dagster_mb=(10, 30, 50, 70)), soak_rules(["daemon"]))

    assert [v.word for v in verdicts if not v.ok] == ["NOT bounded"]


def test_a_process_that_leaks_is_not_flat():
    verdicts = judge(_steady_soak(daemon_mb=(200, 210, 260, 320)), soak_rules(["daemon"]))

    assert [(v.metric, v.word) for v in verdicts if not v.ok] == [("daemon RSS (max)", "NOT flat")]


def test_one_interval_judges_nothing():
    verdicts = judge(_steady_soak()[:1], soak_rules(["daemon"]))

    assert {v.word for v in verdicts} == {"NOT MEASURED"}
    assert not any(v.ok for v in verdicts)

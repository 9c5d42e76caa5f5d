"""benchmarks/merge_throughput.py: a partial ladder run replaces its (arch, size) records."""

from fixtures.scripts import benchmark_module

PROVENANCE = {"measured": "t", "settings": {}, "load_average": {}, "complete": True, "wall_s": 1}


def _record(arch: str, n_atoms: int, path: str, steps_per_s: float) -> dict:
    return {"arch": arch, "n_atoms": n_atoms, "path": path, "ranks": 1,
            "steps_per_s": steps_per_s}  # fmt: skip


def test_partial_run_replaces_only_its_sizes_and_is_recorded():
    merge = benchmark_module("merge_throughput").merge
    ladder = {**PROVENANCE, "measured": "first", "records": [
        _record("gap", 160, "raw_eval", 4.0), _record("mace", 640, "raw_eval", 4.6),
        _record("mace", 160, "raw_eval", 15.0)]}  # fmt: skip
    partial = {**PROVENANCE, "measured": "second",
               "records": [_record("mace", 640, "raw_eval", 4.7)]}  # fmt: skip
    merged = merge(ladder, partial)
    assert [(r["arch"], r["n_atoms"], r["steps_per_s"]) for r in merged["records"]] == [
        ("mace", 160, 15.0), ("mace", 640, 4.7), ("gap", 160, 4.0)]  # fmt: skip
    assert [run["measured"] for run in merged["merged_runs"]] == ["first", "second"]
    assert merged["merged_runs"][1]["replaces"] == ["mace/640"]
    again = merge(merged, {**partial, "measured": "third"})
    assert [run["measured"] for run in again["merged_runs"]] == ["first", "second", "third"]

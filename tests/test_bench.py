"""`make bench-quick`'s code path runs to the end and writes the results file (no timing asserted here).

Timing belongs to the benchmark itself (``python -m bench``); this test only
checks that every part runs offline and that the JSON has the documented shape.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TOP_LEVEL_KEYS = {"date", "mode", "machine", "settings", "api_calls", "latency", "cold_start", "memory",
                  "package", "policies", "runtime_s", "targets"}
TARGET_NAMES = {"api_calls_skip_tick", "api_calls_enqueue_tick", "latency_ratio_skip_tick",
                "latency_ratio_enqueue_tick", "cold_start_ratio", "import_touches_network",
                "worker_peak_memory", "package_without_sdk", "policies_invariants"}


def test_bench_quick_writes_results(tmp_path):
    out = tmp_path / "results.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Targets:" in proc.stdout

    results = json.loads(out.read_text())
    assert TOP_LEVEL_KEYS <= set(results)
    assert results["mode"] == "quick"
    assert {"platform", "cpu_count", "python_version"} <= set(results["machine"])
    errors = {name: section["error"] for name, section in results.items()
              if isinstance(section, dict) and "error" in section}
    assert not errors

    for variant in ("seed", "fifo_gate"):
        for kind in ("skip", "enqueue"):
            assert {"calls", "operations"} <= set(results["api_calls"][variant][kind])
            assert {"median_s", "p90_s", "n"} <= set(results["latency"][variant][kind])
        assert {"import_s", "invoke_s", "total_s", "process_s", "max_rss_mb"} <= set(results["cold_start"][variant])
    assert {"skip", "enqueue"} <= set(results["latency"]["ratio"])
    assert {"worker_max_rss_mb", "configured_mb"} <= set(results["memory"])
    assert {"zip_bytes", "files", "vendored_sdk"} <= set(results["package"])
    assert set(results["policies"]["results"]) == {"skip", "buffer_one", "buffer_all"}
    for summary in results["policies"]["results"].values():
        assert {"busy_fraction", "mean_result_age_s", "enqueued", "skipped", "max_concurrent_runs",
                "lost", "real_s"} <= set(summary)

    assert {row["name"] for row in results["targets"]} == TARGET_NAMES
    for row in results["targets"]:
        assert {"name", "target", "value", "met"} <= set(row)
        assert isinstance(row["met"], bool), row

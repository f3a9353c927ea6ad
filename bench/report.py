"""Targets and the printed table, from the results dict (see :mod:`bench.run`)."""

LATENCY_TARGETS = {"skip": 1.5, "enqueue": 1.6}  # seed / fifo-gate median tick latency, at least
API_CALL_TARGETS = {"skip": (1, 2), "enqueue": (2, 4)}  # (fifo-gate, seed) calls per tick


def targets(results):
    """Every target, its measured value and whether it was met.

    Returns:
        list[dict]: ``{"name", "target", "value", "met"}``; ``met`` is ``None`` when
        the part did not run (its error is in the results).
    """
    rows = []
    calls = results.get("api_calls")
    for kind, (fifo_target, seed_expected) in API_CALL_TARGETS.items():
        name = "api_calls_%s_tick" % kind
        if not _ok(calls):
            rows.append(_missing(name, "%d (seed %d)" % (fifo_target, seed_expected)))
            continue
        fifo, seed = calls["fifo_gate"][kind]["calls"], calls["seed"][kind]["calls"]
        rows.append({"name": name, "target": "fifo-gate %d, seed %d" % (fifo_target, seed_expected),
                     "value": "fifo-gate %d, seed %d" % (fifo, seed), "met": fifo == fifo_target})
    latency = results.get("latency")
    for kind, minimum in LATENCY_TARGETS.items():
        name = "latency_ratio_%s_tick" % kind
        if not _ok(latency):
            rows.append(_missing(name, ">= %.1f" % minimum))
            continue
        ratio = latency["ratio"][kind]
        rows.append({"name": name, "target": ">= %.1f" % minimum, "value": round(ratio, 3), "met": ratio >= minimum})
    cold = results.get("cold_start")
    if _ok(cold):
        rows.append({"name": "cold_start_ratio", "target": ">= 1.0 (fifo-gate no slower than the seed)",
                     "value": round(cold["ratio"], 3), "met": cold["ratio"] >= 1.0})
        net = cold["import_network"]["fifo_gate"]
        touched = net["api_calls_at_import"] + net["socket_connects_at_import"]
        rows.append({"name": "import_touches_network", "target": "0 API calls, 0 socket connects",
                     "value": "%d API calls, %d socket connects" % (net["api_calls_at_import"],
                                                                   net["socket_connects_at_import"]),
                     "met": touched == 0})
    else:
        rows += [_missing("cold_start_ratio", ">= 1.0"), _missing("import_touches_network", "0")]
    memory = results.get("memory")
    if _ok(memory):
        rows.append({"name": "worker_peak_memory", "target": "<= %d MB (configured)" % memory["configured_mb"],
                     "value": "%.1f MB" % memory["worker_max_rss_mb"],
                     "met": memory["worker_max_rss_mb"] <= memory["configured_mb"]})
    else:
        rows.append(_missing("worker_peak_memory", "<= configured MB"))
    package = results.get("package")
    if _ok(package):
        rows.append({"name": "package_without_sdk", "target": "no boto3/botocore/s3transfer in deployment.zip",
                     "value": "%d SDK files, %d bytes" % (len(package["vendored_sdk"]), package["zip_bytes"]),
                     "met": not package["vendored_sdk"]})
    else:
        rows.append(_missing("package_without_sdk", "no SDK vendored"))
    policies = results.get("policies")
    if _ok(policies):
        broken = [policy for policy, r in policies["results"].items()
                  if r.get("exit_code") != 0 or r.get("lost", 1) != 0 or r.get("max_concurrent_runs", 2) > 1]
        rows.append({"name": "policies_invariants", "target": "max_concurrent_runs <= 1, lost 0, exit 0",
                     "value": "broken: %s" % ", ".join(broken) if broken else "held for all",
                     "met": not broken})
    else:
        rows.append(_missing("policies_invariants", "held"))
    return rows


def _ok(section):
    return isinstance(section, dict) and "error" not in section


def _missing(name, target):
    return {"name": name, "target": target, "value": None, "met": None}


def _yes(met):
    return {True: "yes", False: "NO", None: "n/a"}[met]


def _table(header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = []
    for index, row in enumerate([header] + rows):
        cells = [str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _ms(seconds):
    return "%.2f" % (seconds * 1000.0)


def render(results):
    """The human table (str): one block per measurement, targets marked yes/NO."""
    met = {row["name"]: row["met"] for row in results["targets"]}
    machine = results["machine"]
    out = ["fifo-gate benchmark (%s run), %s" % (results["mode"], results["date"]),
           "%s, %s CPUs, Python %s" % (machine["platform"], machine["cpu_count"], machine["python_version"]), ""]

    calls = results.get("api_calls")
    if _ok(calls):
        rows = []
        for kind in ("skip", "enqueue"):
            rows.append(["%s tick" % kind, calls["seed"][kind]["calls"], calls["fifo_gate"][kind]["calls"],
                         "%d (seed %d)" % API_CALL_TARGETS[kind], _yes(met["api_calls_%s_tick" % kind])])
        out.append("1. AWS API calls per tick")
        out.append(_table(["", "seed", "fifo-gate", "target", "met"], rows))
        out.append("   seed: skip %s; enqueue %s" % (" + ".join(calls["seed"]["skip"]["operations"]),
                                                    " + ".join(calls["seed"]["enqueue"]["operations"])))
        out.append("   fifo-gate: skip %s; enqueue %s" % (" + ".join(calls["fifo_gate"]["skip"]["operations"]),
                                                         " + ".join(calls["fifo_gate"]["enqueue"]["operations"])))
        by_name = calls["fifo_gate_with_queue_name"]
        out.append("   fifo-gate with QUEUE_NAME instead of QUEUE_URL: first tick in a container %d, then %d / %d"
                   % (by_name["first_tick"]["calls"], by_name["later_skip_tick"]["calls"],
                      by_name["later_enqueue_tick"]["calls"]))
        out.append("")
    else:
        out += ["1. AWS API calls per tick: not measured (%s)" % _error(calls), ""]

    latency = results.get("latency")
    if _ok(latency):
        rows = []
        for kind in ("skip", "enqueue"):
            rows.append(["%s tick" % kind, _ms(latency["seed"][kind]["median_s"]),
                         _ms(latency["fifo_gate"][kind]["median_s"]), "%.2f" % latency["ratio"][kind],
                         ">= %.1f" % LATENCY_TARGETS[kind], _yes(met["latency_ratio_%s_tick" % kind])])
        for kind in ("skip", "enqueue"):
            rows.append(["bare calls, %s" % kind, _ms(latency["bare_seed"][kind]["median_s"]),
                         _ms(latency["bare_fifo_gate"][kind]["median_s"]), "%.2f" % latency["bare_ratio"][kind],
                         "(context)", ""])
        out.append("2. Tick latency against moto on loopback, median of %d ticks each (ms)"
                   % latency["ticks_per_kind"])
        out.append(_table(["", "seed", "fifo-gate", "seed/fifo-gate", "target", "met"], rows))
        out.append("")
    else:
        out += ["2. Tick latency: not measured (%s)" % _error(latency), ""]

    cold = results.get("cold_start")
    if _ok(cold):
        rows = [
            ["import", _ms(cold["seed"]["import_s"]), _ms(cold["fifo_gate"]["import_s"]), "", "", ""],
            ["first invocation", _ms(cold["seed"]["invoke_s"]), _ms(cold["fifo_gate"]["invoke_s"]), "", "", ""],
            ["import + first invocation, as shipped", _ms(cold["seed"]["total_s"]), _ms(cold["fifo_gate"]["total_s"]),
             "%.2f" % cold["ratio"], ">= 1.0", _yes(met["cold_start_ratio"])],
            ["whole process, spawn to exit", _ms(cold["seed"]["process_s"]), _ms(cold["fifo_gate"]["process_s"]),
             "%.2f" % (cold["seed"]["process_s"] / cold["fifo_gate"]["process_s"]), "", ""],
            ["same, both precompiled", _ms(cold["seed_pyc"]["total_s"]), _ms(cold["fifo_gate_pyc"]["total_s"]),
             "%.2f" % cold["ratio_with_bytecode"], "(context)", ""],
        ]
        net = cold["import_network"]
        rows.append(["API calls / connects at import",
                     "%d / %d" % (net["seed"]["api_calls_at_import"], net["seed"]["socket_connects_at_import"]),
                     "%d / %d" % (net["fifo_gate"]["api_calls_at_import"],
                                  net["fifo_gate"]["socket_connects_at_import"]),
                     "", "0 / 0", _yes(met["import_touches_network"])])
        out.append("3. Cold start, median of %d fresh processes each (ms; as each design ships: fifo-gate with bytecode, the seed source only)"
                   % cold["processes"])
        out.append(_table(["", "seed", "fifo-gate", "seed/fifo-gate", "target", "met"], rows))
        out.append("")
    else:
        out += ["3. Cold start: not measured (%s)" % _error(cold), ""]

    memory = results.get("memory")
    if _ok(memory):
        rows = [["python alone", "%.1f" % memory["python_alone_max_rss_mb"], "", ""]]
        if _ok(cold):
            rows.append(["seed producer: import + 1 tick", "%.1f" % cold["seed"]["max_rss_mb"], "", ""])
            rows.append(["fifo-gate enqueue: import + 1 invocation", "%.1f" % cold["fifo_gate"]["max_rss_mb"], "", ""])
        rows.append(["fifo-gate worker: import + 1 run (%.0f%% of %d MB)"
                     % (100 * memory["share_of_configured"], memory["configured_mb"]),
                     "%.1f" % memory["worker_max_rss_mb"], "<= %d" % memory["configured_mb"],
                     _yes(met["worker_peak_memory"])])
        out.append("4. Peak memory, max RSS of a fresh process (MB)")
        out.append(_table(["", "MB", "target", "met"], rows))
        out.append("")
    else:
        out += ["4. Peak memory: not measured (%s)" % _error(memory), ""]

    package = results.get("package")
    if _ok(package):
        out.append("5. Deployment package (make package: chalice package --stage dev + bytecode)")
        out.append(_table(["", "value", "met"], [
            ["deployment.zip", "%d bytes (%d files, %d bytes unpacked)"
             % (package["zip_bytes"], package["files"], package["uncompressed_bytes"]), ""],
            ["contents", " ".join(package["top_level"]), ""],
            ["boto3/botocore vendored", "yes" if package["vendored_sdk"] else "no",
             _yes(met["package_without_sdk"])],
        ]))
        out.append("")
    else:
        out += ["5. Deployment package: not measured (%s)" % _error(package), ""]

    policies = results.get("policies")
    if _ok(policies):
        rows = []
        distorted = []
        for policy, r in policies["results"].items():
            if r.get("tick_errors"):
                distorted.append(policy)
            rows.append([policy + (" *" if r.get("tick_errors") else ""), "%gx" % r["effective_speed"], r.get("ticks"),
                         r.get("enqueued"), r.get("skipped"), r.get("tick_errors", "?"),
                         r.get("backlog_at_end", "?"), "%.3f" % r["busy_fraction"], "%.0f" % r["mean_result_age_s"],
                         r.get("max_concurrent_runs"), r.get("lost"), "%.0f" % r["real_s"]])
        out.append("6. Overlap policies, %d simulated minutes each, jobs %s s, fail rate 0, %s%s (invariants: %s)"
                   % (policies["minutes"], policies["job_seconds"],
                      "in parallel" if policies["parallel"] else "one after another",
                      ", speed capped" if policies["capped"] else "", _yes(met["policies_invariants"])))
        out.append(_table(["policy", "speed", "ticks", "enqueued", "skipped", "tick_errors", "backlog_at_end",
                           "busy_fraction", "mean_result_age_s", "max_concurrent", "lost", "real_s"], rows))
        if distorted:
            out.append("   * %s: some ticks overran their scaled timeout (moto's calls slow down as the queue "
                       "grows, and the machine is shared), so enqueued and busy_fraction are understated"
                       % ", ".join(distorted))
        out.append("")
    else:
        out += ["6. Policies: not measured (%s)" % _error(policies), ""]

    missed = [row["name"] for row in results["targets"] if row["met"] is False]
    out.append("Targets: %d met, %d missed%s. Runtime %.0f s."
               % (sum(1 for row in results["targets"] if row["met"]), len(missed),
                  (" (" + ", ".join(missed) + ")") if missed else "", results["runtime_s"]["total"]))
    return "\n".join(out)


def _error(section):
    if isinstance(section, dict) and "error" in section:
        return section["error"]
    return "skipped"

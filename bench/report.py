# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's results as text: the summary table, the batch-size sweep, Markdown for
docs/PERFORMANCE.md and the growth across scales. Pure functions of the results JSON (bench.harness
writes it); bench.plot draws the same results."""

from __future__ import annotations

import statistics

from bench.common import COMPLIANCE_JOBS


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return None if a is None or not b else a / b


def _fmt(value, pattern="%.2f") -> str:
    if value is None:
        return "-"
    return pattern.format(value) if "{" in pattern else pattern % value


def summary_rows(results: dict) -> list:
    """One row per measured pair: (what, collection median, baseline median, ratio, extra)."""
    rows = []
    jobs = results["jobs"]
    for short in COMPLIANCE_JOBS:
        if short not in jobs:
            continue
        e = jobs[short]
        f, b = median(e["function"]), median(e["baseline"])
        rows.append({
            "job": short, "collection_s": f, "baseline_s": b, "ratio": ratio(f, b),
            "playbook_s": median(e["playbook"]), "check_s": median(e["check"]),
            "check_over_execute": ratio(median(e["check"]), f), "peak_rss_mb": max(e["function_rss_mb"] or [0]),
            "rows": e["rows"], "rows_per_s_collection": e["rows"] / f if f else None,
            "rows_per_s_baseline": e["rows"] / b if b else None, "counts_match": e.get("counts_match"),
            "same_effect": e.get("same_effect"), "batches": e.get("batches"),
            "cpu_collection_s": median(e.get("function_cpu") or []), "cpu_baseline_s": median(e.get("baseline_cpu") or []),
            "cpu_ratio": ratio(median(e.get("function_cpu") or []), median(e.get("baseline_cpu") or []))})
    for key, label in (("seed", ""), ("seed-text", " (text release)")):
        if key not in jobs:
            continue
        e = jobs[key]
        f, b, r = median(e["first_seed"]), median(e["baseline"]), median(e["reseed"])
        rows.append({"job": "first seed" + label, "collection_s": f, "baseline_s": b, "ratio": ratio(f, b),
                     "check_s": median(e["first_seed_check"]), "check_over_execute": ratio(median(e["first_seed_check"]), f),
                     "peak_rss_mb": max(e["first_seed_rss_mb"] or [0]), "rows": e.get("rows"),
                     "cpu_collection_s": median(e.get("first_seed_cpu") or []),
                     "cpu_baseline_s": median(e.get("baseline_cpu") or []),
                     "cpu_ratio": ratio(median(e.get("first_seed_cpu") or []), median(e.get("baseline_cpu") or [])),
                     "rows_per_s_collection": e["rows"] / f if f else None, "read_s": median(e["first_seed_read"])})
        rows.append({"job": "no-change re-seed" + label, "collection_s": r, "ratio_to_first_seed": ratio(r, f),
                     "check_s": median(e["reseed_check"]), "check_over_execute": ratio(median(e["reseed_check"]), r),
                     "rows_written": max(e["reseed_rows_written"] or [0]), "changed": e.get("reseed_changed"),
                     "playbook_s": median(e["playbook_reseed"]), "peak_rss_mb": max(e["reseed_rss_mb"] or [0]),
                     "cpu_collection_s": median(e.get("reseed_cpu") or [])})
    if "migrate" in jobs:
        e = jobs["migrate"]
        f, b = median(e["function"]), median(e["baseline"])
        rows.append({"job": "migrate (empty db)", "collection_s": f, "baseline_s": b, "ratio": ratio(f, b),
                     "check_s": median(e["check"]), "check_over_execute": ratio(median(e["check"]), f),
                     "playbook_s": median(e["playbook"]), "peak_rss_mb": max(e["function_rss_mb"] or [0])})
    if "overhead" in jobs:
        e = jobs["overhead"]
        j, q = median(e["job_playbook"]), median(e["query_playbook"])
        rows.append({"job": "ansible overhead", "collection_s": j, "baseline_s": q, "ratio": ratio(j, q)})
    return rows


def print_summary(results: dict) -> None:
    print("\nusers=%d tenants=%d runs=%d layout=%s stale_share=%s (medians, seconds)" % (
        results["users"], results["tenants"], results["runs"], results.get("layout", "time"),
        results.get("stale_share", 0.4)))
    header = "%-20s %9s %9s %7s %9s %9s %7s %8s %12s %12s" % (
        "job", "coll.", "baseline", "ratio", "playbook", "check", "chk/ex", "RSS MB", "rows/s coll", "rows/s base")
    print(header)
    print("-" * len(header))
    for row in summary_rows(results):
        print("%-20s %9s %9s %7s %9s %9s %7s %8s %12s %12s" % (
            row["job"], _fmt(row.get("collection_s")), _fmt(row.get("baseline_s")),
            _fmt(row.get("ratio") if "ratio" in row else row.get("ratio_to_first_seed")),
            _fmt(row.get("playbook_s")), _fmt(row.get("check_s")), _fmt(row.get("check_over_execute")),
            _fmt(row.get("peak_rss_mb"), "%.0f"), _fmt(row.get("rows_per_s_collection"), "%.0f"),
            _fmt(row.get("rows_per_s_baseline"), "%.0f")))
        notes = {k: (round(row[k], 2) if isinstance(row[k], float) else row[k])
                 for k in ("counts_match", "same_effect", "rows", "rows_written", "changed", "read_s", "batches",
                           "cpu_collection_s", "cpu_baseline_s", "cpu_ratio") if row.get(k) is not None}
        if notes:
            print("%-20s %s" % ("", notes))


def print_sweeps(results: dict) -> None:
    """The tables of ``--batch-sizes`` or ``--parallel``: each value's median and ratio to the SQL."""
    for short, entry in results.get("sweep", {}).items():
        print("\n%s at %d users, %d run(s) per side: baseline %.2fs (median); same counts: %s" % (
            short, results["users"], results["runs"], median(entry["baseline"]), entry["counts_match"]))
        print("%-12s %9s %7s %8s %8s  %s" % (entry.get("option", "batch_size"), "coll.", "ratio", "batches", "RSS MB",
                                             "ratio per run"))
        for size, times in entry["function"].items():
            print("%-12s %9s %7s %8s %8s  %s" % (size, _fmt(median(times)), _fmt(entry["ratio"][size]),
                                                 entry["batches"][size], _fmt(entry["rss_mb"][size], "%.0f"),
                                                 entry["ratio_per_run"][size]))


def markdown(results: dict) -> str:
    """The summary as a Markdown table (what docs/PERFORMANCE.md shows)."""
    lines = ["| job | collection (s) | baseline (s) | ratio | CPU ratio | playbook (s) | check (s) | check / execute |"
             " peak RSS (MB) | rows | rows/s collection | rows/s baseline |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in summary_rows(results):
        ratio = row.get("ratio") if "ratio" in row else row.get("ratio_to_first_seed")
        rows = row.get("rows") if row.get("rows") is not None else row.get("rows_written")
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["job"], _fmt(row.get("collection_s")), _fmt(row.get("baseline_s")), _fmt(ratio), _fmt(row.get("cpu_ratio")),
            _fmt(row.get("playbook_s")), _fmt(row.get("check_s")), _fmt(row.get("check_over_execute")),
            _fmt(row.get("peak_rss_mb"), "%.0f"), "-" if rows is None else "{:,}".format(rows),
            _fmt(row.get("rows_per_s_collection"), "{:,.0f}"), _fmt(row.get("rows_per_s_baseline"), "{:,.0f}")))
    return "\n".join(lines)


def growth_markdown(all_results: list) -> str:
    """Median seconds per job and side across scales, and the factor from one scale to the next."""
    all_results = sorted(all_results, key=lambda r: r["users"])
    scales = [r["users"] for r in all_results]
    header = "| job | side | " + " | ".join("{:,} users".format(u) for u in scales) + " | " + " | ".join(
        "x (%s to %s)" % (_short(a), _short(b)) for a, b in zip(scales, scales[1:])) + " |"
    lines = [header, "| --- | --- |" + " ---: |" * (2 * len(scales) - 1)]
    for short in COMPLIANCE_JOBS:
        for key, label in (("function", "collection"), ("baseline", "hand-written SQL"), ("check", "check mode"),
                           ("function_rss_mb", "peak RSS (MB)")):
            values = [median(r["jobs"][short][key]) if short in r["jobs"] and r["jobs"][short].get(key) else None
                      for r in all_results]
            if key == "function_rss_mb":
                values = [max(r["jobs"][short][key]) if short in r["jobs"] else None for r in all_results]
            factors = [_fmt(ratio(after, before), "%.1f") for before, after in zip(values, values[1:])]
            lines.append("| %s | %s | %s | %s |" % (short, label, " | ".join(_fmt(v) for v in values), " | ".join(factors)))
    return "\n".join(lines)


def _short(users: int) -> str:
    return "%dM" % (users // 1000000) if users >= 1000000 else "%dk" % (users // 1000)

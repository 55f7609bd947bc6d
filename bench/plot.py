# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time against users for each job, the collection beside the baseline (docs/performance-scaling.png),
and the ratio to the SQL against ``parallel`` sessions (docs/performance-parallel.png)."""

from __future__ import annotations

from bench.common import COMPLIANCE_JOBS
from bench.report import median

TITLES = {"retention": "Retention purge (data-retention)", "consent": "Consent revocation, large tenant",
          "segregation": "Partner segregation, large tenant"}


def _panels(count: int, width: float):
    """(pyplot, figure, the row of ``count`` axes), drawn off-screen."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(1, count, figsize=(width * count, 4.2), squeeze=False)
    return plt, figure, axes[0]


def _save(plt, figure, results: list, title: str, png: str) -> None:
    machine = results[-1].get("machine", {}) if results else {}
    figure.suptitle("%s: %s CPUs, PostgreSQL %s" % (title, machine.get("cpus", "?"), machine.get("postgresql", "?")),
                    fontsize=11)
    figure.tight_layout()
    figure.savefig(png, dpi=110)
    plt.close(figure)


def draw(results: list, png: str) -> None:
    results = sorted((r for r in results if r.get("jobs")), key=lambda r: r["users"])
    jobs = [short for short in COMPLIANCE_JOBS if any(short in r["jobs"] for r in results)]
    plt, figure, axes = _panels(len(jobs), 5)
    for axis, short in zip(axes, jobs):
        points = [(r["users"], r["jobs"][short]) for r in results if short in r["jobs"]]
        users = [u for u, _entry in points]
        series = (("function", "collection (job function)", "o-"), ("playbook", "collection (ansible-playbook)", "s--"),
                  ("baseline", "hand-written SQL", "^-"), ("check", "collection, check mode", "x:"))
        for key, label, style in series:
            values = [median(e.get(key) or []) for _users, e in points]
            if any(v is not None for v in values):
                axis.plot([u for u, v in zip(users, values) if v is not None], [v for v in values if v is not None],
                          style, label=label)
        if len(users) > 1:  # a line of slope 1 through the first baseline point: linear scaling
            first = median(points[0][1]["baseline"])
            axis.plot(users, [first * u / users[0] for u in users], color="grey", linewidth=0.6, label="linear")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("users")
        axis.set_ylabel("seconds (median)")
        axis.set_title(TITLES.get(short, short), fontsize=10)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    _save(plt, figure, results, "skillforge.dataops vs hand-written SQL", png)


def _label(result: dict) -> str:
    """"1M users, shared_buffers 6GB (2026-12-06T08:41)": the size, the server's buffers (recorded by
    every results file; the other settings only by newer ones) and when."""
    users = result["users"]
    size = "%gM" % (users / 1e6) if users >= 1000000 else "%gk" % (users / 1e3)
    return "%s users, shared_buffers %s (%s)" % (size, result.get("machine", {}).get("shared_buffers", "?"),
                                                 result["date"][:16])


def draw_parallel(results: list, png: str) -> None:
    """One panel per compliance job: its ratio to the hand-written SQL (median of each file's runs)
    against the number of sessions, one line per results file of ``bench.run --parallel``."""
    results = [r for r in results if r.get("sweep") and next(iter(r["sweep"].values())).get("option") == "parallel"]
    jobs = [short for short in COMPLIANCE_JOBS if any(short in r["sweep"] for r in results)]
    sessions_drawn = sorted({int(n) for r in results for entry in r["sweep"].values() for n in entry["ratio"]})
    plt, figure, axes = _panels(len(jobs), 5.5)
    for axis, short in zip(axes, jobs):
        for result in sorted(results, key=lambda r: (r["users"], r["date"])):
            entry = result["sweep"].get(short)
            if not entry:
                continue
            sessions = sorted(entry["ratio"], key=int)
            axis.plot([int(n) for n in sessions], [entry["ratio"][n] for n in sessions], "o-",
                      label=_label(result))
        axis.axhline(1.0, color="grey", linewidth=0.8)
        axis.axhline(0.8, color="grey", linewidth=0.6, linestyle=":")
        axis.set_xscale("log", base=2)
        axis.set_xticks(sessions_drawn)
        axis.set_xticklabels([str(n) for n in sessions_drawn])
        axis.set_xlabel("parallel (sessions)")
        axis.set_ylabel("collection / hand-written SQL (wall time)")
        axis.set_title(TITLES.get(short, short), fontsize=10)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=6)
    _save(plt, figure, results, "parallel batches against one SQL transaction (grey: 1.0 and 0.8)", png)

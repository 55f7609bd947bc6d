# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the per-batch erasure verification and receipt cost a purge: the same data-retention run on
identical copies of a template, with the verification (and the digest rows it stages) and without.

    python -m bench.appdata --database sf_bench_erasure_tpl --create --users 100000
    python -m bench.erasure_verification --template sf_bench_erasure_tpl --runs 2 --batch-size 20000

Prints, per side, the median run time, and for the verified side the time spent in
``verification.verify_batch`` (the statement of EXISTS checks) and in the digest insert, per batch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

common.link_collection()

import psycopg  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import (  # noqa: E402
    audit,
    job,
    verification,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job  # noqa: E402


def timed(function, bucket: list):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            bucket.append(time.perf_counter() - started)
    return wrapper


def one_run(template: str, batch_size: int, verified: bool) -> dict:
    factory = common.database_factory()
    name = factory.create(template=template)
    checks, digests = [], []
    original_verify = job.JobDefinition.verify
    try:
        if verified:
            verification_call = verification.verify_batch
            verification.verify_batch = timed(verification_call, checks)
            digest_insert = audit.INSERT_DIGESTS
        else:
            job.JobDefinition.verify = lambda *_args, **_kwargs: None
        with psycopg.connect(common.url_for(name), autocommit=True) as conn:
            if verified:
                execute = conn.execute

                def counting_execute(query, params=None, **kwargs):
                    if query is digest_insert:
                        return timed(execute, digests)(query, params, **kwargs)
                    return execute(query, params, **kwargs)
                conn.execute = counting_execute
            started = time.perf_counter()
            summary = run_job(conn, "data-retention", {"triggered_by": "bench", "batch_size": batch_size}, False)
            seconds = time.perf_counter() - started
    finally:
        job.JobDefinition.verify = original_verify
        if verified:
            verification.verify_batch = verification_call
        factory.drop_all()
    return {"seconds": seconds, "batches": summary["batches"], "users": summary["counts"]["users"],
            "verify": sum(checks), "digests": sum(digests)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--template", required=True)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=20000)
    args = parser.parse_args(argv)
    results = {True: [], False: []}
    for index in range(args.runs):
        for verified in ((True, False) if index % 2 == 0 else (False, True)):
            results[verified].append(one_run(args.template, args.batch_size, verified))
            print("verified" if verified else "unverified", results[verified][-1], flush=True)
    plain = statistics.median(r["seconds"] for r in results[False])
    checked = statistics.median(r["seconds"] for r in results[True])
    verify = statistics.median(r["verify"] for r in results[True])
    digests = statistics.median(r["digests"] for r in results[True])
    batches = results[True][0]["batches"]
    print("users %d, batches %d of %d: unverified %.2fs, verified %.2fs (+%.1f%%); per batch: checks %.0f ms, "
          "digest rows %.0f ms (%.1f%% of the unverified purge's time)"
          % (results[True][0]["users"], batches, args.batch_size, plain, checked, 100 * (checked - plain) / plain,
             1000 * verify / batches, 1000 * digests / batches, 100 * (verify + digests) / plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())

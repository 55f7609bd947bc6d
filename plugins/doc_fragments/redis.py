# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Redis options shared by every skillforge.dataops module that uses the BullMQ queues."""

    DOCUMENTATION = r"""
options:
  redis_url:
    description:
      - Redis URL of the BullMQ queues (C(redis://[user:password@]host:port/db), C(rediss://...)
        for TLS, or C(unix:///path/to/socket)).
      - When not set, the URL is taken from the first of these environment variables that is set
        on the managed host - C(SKILLFORGE_<ENV>_REDIS_URL) (for example
        C(SKILLFORGE_STAGING_REDIS_URL) with O(env=staging)), C(REDIS_URL), C(SKILLFORGE_REDIS_URL) -
        and, for O(env=local) only, from the development fallback C(redis://localhost:6379/0).
      - The password never appears in results, messages or logs.
    type: str
  redis_timeout:
    description:
      - Seconds to wait for Redis to accept the connection and to answer each command. An
        unreachable or silent Redis fails the task within about this time; nothing is added twice
        when the task is run again, because job ids are deterministic.
    type: float
    default: 5
  queue_prefix:
    description:
      - BullMQ key prefix, the C(prefix) option of the API's queues. Letters, digits, C(.), C(_),
        C(-) (and C({}) for a Redis Cluster hash tag).
    type: str
    default: bull
requirements:
  - redis >= 6.2 (Python)
  - bullmq >= 3.4 (Python)
  - jsonschema >= 4.18 (Python)
notes:
  - The queues are C(consent-revocation-jobs), C(data-retention-jobs) and
    C(partner-segregation-jobs); the job payload is documented in docs/QUEUE.md of the collection,
    with its JSON Schema, which every job is checked against before it is added.
  - Results carry a C(redis) dictionary saying which source the URL came from, with the password
    redacted.
"""

    # skillforge.dataops.redis.queue: the compliance modules' queue options (with DOCUMENTATION).
    QUEUE = r"""
options:
  queue:
    description:
      - Add one job to the job's BullMQ queue (C(consent-revocation-jobs), C(data-retention-jobs) or
        C(partner-segregation-jobs)) instead of running it; the API's workers, the
        C(skillforge-worker) service or M(skillforge.dataops.compliance_worker) run it later with the
        same code, audit included.
      - The job id is derived from the job and its options, so queueing the same request again adds
        nothing and reports C(changed=false) while that job is in the queue (completed jobs are kept
        for 7 days, at most 1000).
      - In check mode the job is looked up, not added; C(changed) says whether a real run would add it.
      - Before anything is queued, the request is checked as an inline run checks it - its options
        always, and the tenant and users where the database can be reached (an unreachable database
        gives a warning, and the worker checks them when it runs the job). A request an inline run
        would refuse fails the task and queues nothing.
    type: bool
    default: false
  queue_dry_run:
    description:
      - With O(queue=true), queue a dry run - the worker counts what the job would change and changes
        nothing.
    type: bool
    default: false
  queue_attempts:
    description:
      - With O(queue=true), how many times the job is tried before it stays in the failed set. Bad
        input is never retried.
    type: int
    default: 3
  queue_backoff:
    description:
      - With O(queue=true), seconds before the first retry; each further retry waits twice as long
        (BullMQ exponential backoff).
    type: float
    default: 30
"""

    # skillforge.dataops.redis.signing: the queue signing key(s) of producers and workers.
    SIGNING = r"""
options:
  queue_signing_key:
    description:
      - Secret key(s) for signed queue jobs - an HMAC-SHA256 over each job's data, queue and job name
        (docs/QUEUE.md, Signed jobs). Several keys separated by commas rotate a key - the first signs,
        every one verifies. Each key is at least 32 characters (for example C(openssl rand -hex 32)),
        without whitespace.
      - A compliance module run with C(queue=true) signs the job it adds with the first key. For M(skillforge.dataops.compliance_worker),
        only jobs signed with one of the keys run; an unsigned or badly signed job fails for good
        before anything of it runs (its outcome is V(rejected)). Without a key a worker runs unsigned
        and signed jobs alike, so configure the producers first, then the workers.
      - When not set, the first of C(SKILLFORGE_<ENV>_QUEUE_SIGNING_KEY) (with O(env)) and
        C(SKILLFORGE_QUEUE_SIGNING_KEY) that is set on the managed host (the AWX connection credential
        injects the first). Never shown in results, messages or logs.
    type: str
"""

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Options, attributes and notes shared by the skillforge.dataops compliance job modules."""

    DOCUMENTATION = r"""
options:
  triggered_by:
    description:
      - Who asked for the run (a person or team mailbox, a ticket system). Recorded in the audit
        trail and the summary.
      - Optional, as the runbook's C(--triggered-by) is. When not set, the identity running the job
        is recorded, C(<OS user>@<host>) of the process that runs the module, with
        C(triggered_by_source=os-user). The P(skillforge.dataops.compliance#role) role passes the
        AWX user who launched the job instead, when there is one. A job queued (O(queue=true))
        without it records its queue and job id instead, C(queue:<queue>/<job id>) (docs/QUEUE.md).
    type: str
  triggered_by_source:
    description:
      - Where O(triggered_by) came from, recorded beside it (C(triggeredBySource) in the audit
        trail, C(triggered_by_source) in the summary). V(option) (the default) - given by whoever
        runs the task; V(awx) - the AWX user who launched the job template.
      - Requires O(triggered_by). With O(queue=true) it goes with the job, as the worker records it;
        a queued job that states no source records V(producer), one without a requester V(queue)
        (docs/QUEUE.md), and a job run without O(triggered_by) records V(os-user).
    type: str
    choices: [option, awx]
  reason:
    description:
      - Why the run happens (for example a ticket or request reference). Recorded in the audit trail.
      - Do not put a data subject's email or other personal data here.
    type: str
  note:
    description:
      - Free text recorded in the audit trail, with the same caution as O(reason).
    type: str
  batch_size:
    description:
      - Users per batch. Each batch of users, every row they own that the job changes and the
        audit record's counts commit in one transaction, so an interrupted run leaves no user
        half processed and running the job again finishes the rest.
      - When not set, each job uses its own size, 5000 users for M(skillforge.dataops.consent_revocation) and
        M(skillforge.dataops.partner_segregation), whose users are active and whose row locks should be
        short; 20000 for M(skillforge.dataops.data_retention), whose users have been inactive for the
        whole retention window, so that each batch revisits fewer table pages (docs/PERFORMANCE.md).
    type: int
  parallel:
    description:
      - Database sessions the run's batches use at a time, from V(1) to V(16). With more than one,
        the run's own session walks the users in scope and hands each batch (a disjoint range of
        them) to one of O(parallel) extra sessions; each batch is still one transaction with its
        audit counts, the run keeps one job lock and one audit row, and the summary and the audit
        row record the number (C(parallel)). A run uses up to 1 + 2 x O(parallel) connections at
        once (each batch's blocker watch, see O(db_lock_timeout), may open one).
      - A scope of fewer users than O(parallel) full batches of O(batch_size) is cut into
        O(parallel) smaller batches, so that no session waits idle; O(batch_size) stays the most
        users one batch takes.
      - The batches of a run stopped by O(max_runtime), a lag pause or a failure may not be a
        prefix of the users in scope; running the job again finishes the rest, as always.
      - Check mode is one read-only statement and ignores it.
      - When not set, V(1).
    type: int
  lock_timeout:
    description:
      - Seconds to wait for another run of the same job to finish. Only one run per job executes
        at a time (a PostgreSQL advisory lock per job name); with V(0) a concurrent run fails at
        once and changes nothing. Check mode takes no lock. From 0 to 86400 (a day).
    type: float
    default: 0
  batch_pause:
    description:
      - Seconds to wait after each committed batch before the next, so that a long run leaves room
        for the application's own transactions and for vacuum. From 0 to 3600; unset, V(0).
      - The production inventory sets V(0.2) (docs/COMPLIANCE.md, "Throttling").
    type: float
  max_runtime:
    description:
      - Seconds the run may take (a maintenance window). When they have passed, the run stops at the
        next batch boundary with C(outcome=interrupted), keeping every committed batch; running the job
        again finishes the rest. From 0 to 604800 (a week); unset or V(0), no limit.
    type: float
  max_replica_lag:
    description:
      - Pause between batches while the largest replication lag, in seconds, of the standbys connected
        to the primary is above this value, and go on once it is at most half of it. The lag is
        C(replay_lag) from C(pg_stat_replication), or how long a standby's C(replay_lsn) has stood
        still while WAL waits for it, whichever is larger (C(replay_lag) is not measured while a
        standby's replay is stuck). From 0 to 86400; unset or V(0), the lag is not read.
      - Reading the lag needs a superuser or the C(pg_read_all_stats) role; without it the run fails
        before its first batch, naming the option.
      - Lag readings are as fresh as the standbys' C(wal_receiver_status_interval) (10 seconds by
        default), so set this well above it (production - V(30)).
    type: float
  max_lag_pause:
    description:
      - Seconds one pause for O(max_replica_lag) may last. When the lag has not come down to the resume
        mark by then, the run stops at that batch boundary with C(outcome=interrupted), keeping every
        committed batch; running the job again finishes the rest. From 0 to 86400; unset, V(300).
    type: float
  db_lock_timeout:
    description:
      - Seconds a batch may wait for a lock (PostgreSQL's C(lock_timeout), set with C(SET LOCAL) in every
        batch transaction), so that a batch stuck behind a long transaction gives up instead of queueing the
        site's queries behind its row locks. Not the same as O(lock_timeout), the wait for another run of
        the job.
      - When a wait runs out the batch rolls back, the batches before it stay committed, the audit row says
        V(failed) with the committed counts, and the error names the blocking sessions (pid, application,
        user, state, transaction age, statement type - never the statement's text; C(summary.blocked_by)).
        Running the job again continues where it stopped.
      - When not set, 5 seconds. From 0 (no limit) to 86400. The P(skillforge.dataops.compliance#role) role
        passes C(compliance_db_lock_timeout), else the inventory's C(skillforge_db_lock_timeout).
    type: float
  db_statement_timeout:
    description:
      - Seconds each statement of a batch may run (PostgreSQL's C(statement_timeout), C(SET LOCAL) per
        batch transaction). Running out is handled as for O(db_lock_timeout).
      - When not set, 300 seconds. From 0 (no limit) to 86400. The role passes
        C(compliance_db_statement_timeout), else the inventory's C(skillforge_db_statement_timeout).
    type: float
  max_users:
    description:
      - The most users one run may touch (its blast radius). Before the first batch the users in scope
        are counted; above the limit the run fails before changing anything, saying how many users it
        would have touched and the limit. Check mode fails the same way (it predicts the real run).
      - When not set or V(0), no limit.
    type: int
  max_users_percent:
    description:
      - The most users one run may touch as a percentage of all users in the database (C("User"),
        every tenant), from V(0) to V(100). Checked like O(max_users), at the same moment; when both
        are set, the run must stay within both.
      - When not set or V(0), no limit.
    type: float
attributes:
  check_mode:
    support: full
    description:
      - Check mode is the dry run - it counts, with the same predicates the execution uses, exactly
        the rows executing would change at that moment, and changes nothing (no audit row either).
  diff_mode:
    support: partial
    description:
      - Jobs that rewrite JSON show a sample of before and after values, reduced to the keys (and
        array elements) the job changes.
notes:
  - Every executed run writes one C(ComplianceAuditLog) row in the transaction of its first batch
    and updates its counts in every later batch's transaction; its outcome goes from C(running) to
    C(succeeded) or C(failed). A killed run's row stays C(running) with exactly the committed counts.
  - Every run (dry or executed) logs its summary as one JSON line with C(job) set to the job name,
    through the module's log (syslog or the journal on the managed host).
  - Scope in the audit trail and the log line is tenant slugs and user ids only, never emails.
  - After every committed batch an executed run logs a progress line (JSON, C(event=batch-committed))
    with the batches, counts and users done, the users in scope counted at the start, the estimated
    time left (C(eta_seconds)) and the lag pauses. Run as an C(async) task, the same record is the
    C(progress) that M(ansible.builtin.async_status) returns while the run goes on (C(finished) false);
    the module's result replaces it at the end. Its audit row (M(skillforge.dataops.compliance_audit_info),
    updated in every batch's transaction) shows how far it is too.
"""

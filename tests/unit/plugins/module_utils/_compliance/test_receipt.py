"""The receipt's definitions without a database: the membership digest, the run's hash over the
digests (independent of order and batches), and the checks each job's verification derives from
its steps."""

from __future__ import annotations

import hashlib

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import receipt, verification
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS

RUN = "77561eb513db42389cc166703bed9fc9"


def test_membership_digest_is_sha256_of_audit_id_newline_user_id():
    assert receipt.membership_digest(RUN, "usr-1") == hashlib.sha256(("%s\nusr-1" % RUN).encode()).digest()
    assert receipt.membership_digest(RUN, "usr-1") != receipt.membership_digest("another-run", "usr-1")


def test_run_hash_is_over_sorted_hex_digests_whatever_the_order_or_batches():
    ids = ["usr-%d" % n for n in range(50)]
    digests = [receipt.membership_digest(RUN, i) for i in ids]
    lines = sorted(d.hex() for d in digests)
    expected = hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()
    assert receipt.digests_sha256(digests) == expected
    assert receipt.digests_sha256(reversed(digests)) == expected
    hasher = receipt.DigestHasher()
    for digest in sorted(digests):
        hasher.update(digest)
    assert hasher.hexdigest() == expected
    assert receipt.digests_sha256([]) == hashlib.sha256(b"").hexdigest()


def test_batches_add_up_and_a_failure_is_recorded_without_values():
    first = receipt.add_batch(None, 3, {"User": 3, "Notification": 7}, ["User (step users)"])
    second = receipt.add_batch(first, 2, {"User": 2, "Notification": 0}, ["User (step users)", "public.X.userId"])
    assert second["users"] == 5 and second["tables"] == {"User": 5, "Notification": 7}
    assert second["verification"] == {"result": "passed", "batches": 2,
                                      "checks": ["User (step users)", "public.X.userId"], "enforced": []}
    assert first["users"] == 3  # receipts are values: the staged one never changes the committed one
    failed = receipt.failed(second, "public.UserBadge.userId")
    assert failed["verification"]["result"] == "failed" and failed["verification"]["failed"] == "public.UserBadge.userId"
    assert receipt.sealed(failed, "ab")["digests_sha256"] == "ab"


def test_only_the_purge_checks_references_and_every_step_with_a_postcondition_is_checked():
    assert [name for name, definition in sorted(JOBS.items()) if verification.deletes_users(definition)] == [
        "data-retention"]
    for definition in JOBS.values():
        found, enforced = verification.checks(definition, None)
        assert [label for label, _c, _q in found] == ["%s (step %s)" % (s.table, s.count) for s in definition.steps]
        assert enforced == []


def fk(table, column, referenced, constraint, deferrable=False):
    return ("public", table, column, constraint, deferrable, "public", referenced, "id", True)


def bare(table, column="userId"):
    return ("public", table, column, None, None, None, None, None, None)


def test_references_keep_to_checks_what_no_foreign_key_enforces_before_commit():
    rows = [fk("Notification", "userId", "User", "Notification_userId_fkey"), bare("Notification"),
            fk("Resume", "userId", "User", "Resume_userId_fkey"), bare("Resume"),
            fk("ResumeIngestion", "resumeId", "Resume", "ResumeIngestion_resumeId_fkey"),
            fk("UserBadge", "userId", "User", "UserBadge_userId_fkey", deferrable=True), bare("UserBadge"),
            bare("LoginEvent"), fk("Follow", "followerId", "User", "Follow_followerId_fkey")]
    refs = verification.References(rows, "public")
    assert refs.columns == [("public", "LoginEvent", "userId", None),
                            ("public", "UserBadge", "userId", "UserBadge_userId_fkey")]
    found, enforced = verification.checks(JOBS["data-retention"], refs)
    labels = [label for label, _c, _q in found]
    assert "Notification (step notifications)" not in labels and "User (step users)" in labels
    assert "ResumeIngestion (step resumeIngestions) by ResumeIngestion_resumeId_fkey, Resume_userId_fkey" in enforced
    assert "public.Follow.followerId by Follow_followerId_fkey" in enforced
    assert "Profile (step profiles)" in labels  # no foreign key given for it here: checked
    label, constraint, check = found[-1]
    assert (label, constraint) == ("public.UserBadge.userId", "UserBadge_userId_fkey")
    assert check.as_string(None) == 'EXISTS (SELECT 1 FROM "public"."UserBadge" WHERE "userId" = ANY(%(batch__user_ids)s))'

"""How a run sizes its batches with ``parallel`` sessions (batches.split_batch_size): no database.
The runs themselves: tests/database/test_compliance_parallel.py."""

from __future__ import annotations

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.batches import split_batch_size


@pytest.mark.parametrize("batch_size, parallel, users, expected", [
    (20000, 4, 40000, 10000),  # two full batches for four sessions: four of 10,000
    (20000, 2, 40000, 20000),  # already one full batch per session
    (20000, 4, 100000, 20000),  # five full batches: the size stays
    (5000, 3, 10001, 3334),  # rounded up, so that three batches take every user
    (5000, 16, 7, 1),  # fewer users than sessions: one user a batch
    (20000, 1, 40000, 20000),  # one session: never split
    (20000, 4, 0, 20000),  # nothing counted (an empty scope): as given
])
def test_a_scope_of_fewer_than_parallel_full_batches_is_split_into_parallel_batches(batch_size, parallel, users, expected):
    size = split_batch_size(batch_size, parallel, users)
    assert size == expected
    assert size <= batch_size  # batch_size stays the most users a batch takes
    if users:
        assert -(-users // size) == (min(parallel, users) if users < batch_size * parallel else -(-users // batch_size))

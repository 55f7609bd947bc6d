#!/usr/bin/env bash
# Copyright: SkillForge Data Operations; GNU General Public License v3.0 or later (see LICENSE)
# Runs `ansible-test sanity` on this collection, offline apart from the package index (docs/TESTING.md).
#
# ansible-test only works from a directory whose path ends in ansible_collections/<namespace>/<name>,
# so the files git knows about (tracked and new, not ignored, as they are in the working tree: the
# set ansible-test itself would test in a git checkout) are copied into a temporary one.
#
# Usage: tests/sanity.sh [CHECKOUT]  (CHECKOUT: another git work tree of this collection to test, e.g. a
# branch's worktree; default: the one this script is in. Only read from.)
#
# Environment: ANSIBLE_TEST (default: ansible-test on PATH), SANITY_PYTHON (default 3.11),
# SANITY_ARGS (extra ansible-test sanity arguments, e.g. "--test pylint"), SANITY_UNITS=1 to also run
# `ansible-test units --local` (tests/unit, in this Python: the pure tests, no PostgreSQL needed;
# ansible-test's units requirements from requirements-test.txt), KEEP_SANITY_TREE=1 to keep the
# copied tree for inspection.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source_root="$(cd "${1:-$repo_root}" && pwd)"
ansible_test="${ANSIBLE_TEST:-ansible-test}"
python_version="${SANITY_PYTHON:-3.11}"

if ! command -v "$ansible_test" >/dev/null 2>&1; then
    echo "sanity: FAILED: '$ansible_test' not found; put the venv's bin on PATH (make sanity does)" >&2
    exit 2
fi
# The interpreter next to ansible-test is the one with ansible-core (and ansible_test) installed.
python="$(dirname "$(command -v "$ansible_test")")/python"
[[ -x "$python" ]] || python="$(command -v python3)"

# 1. ansible-test's cache: the get-pip stand-in and the pip wheel it installs.
"$python" "$repo_root/scripts/ansible_test_offline.py" --python "$python_version"

# 2. A copy of the collection under ansible_collections/skillforge/dataops.
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/skillforge-sanity.XXXXXX")"
collection_dir="$work_dir/ansible_collections/skillforge/dataops"
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [[ "${KEEP_SANITY_TREE:-0}" == 1 ]]; then
        echo "sanity: tree kept in $collection_dir"
    else
        rm -rf "$work_dir"
    fi
}
trap cleanup EXIT
mkdir -p "$collection_dir"

cd "$source_root"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "sanity: FAILED: $source_root is not a git checkout; the tested file set comes from git" >&2
    exit 2
fi
# Deleted-but-tracked files are skipped; -z keeps odd file names intact.
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' path; do [[ -e "$path" || -L "$path" ]] && printf '%s\0' "$path"; done \
    | tar --null --files-from=- --create --file=- \
    | tar --extract --file=- --directory="$collection_dir"
echo "sanity: testing $(find "$collection_dir" -type f | wc -l) files copied to $collection_dir"

# 3. Sanity tests, each in the virtualenv ansible-test builds for it from the package index.
cd "$collection_dir"
log="$work_dir/ansible-test.log"
status=0
# shellcheck disable=SC2086  # SANITY_ARGS is a list of arguments on purpose
"$ansible_test" sanity --python "$python_version" --color no ${SANITY_ARGS:-} 2>&1 | tee "$log" || status=${PIPESTATUS[0]}

# One closing line in the "N passed, N failed" form, from ansible-test's own output.
ran=$(grep -c '^Running sanity test' "$log" || true)
skipped=$({ grep -o '^WARNING: Required program "[^"]*" not found' "$log" || true; } | sort -u | wc -l)
failed=$(sed -n 's/^FATAL: The \([0-9]*\) sanity test(s) listed below.*/\1/p' "$log" | tail -n1)
if [[ $status -ne 0 && -z "$failed" ]]; then
    echo "sanity: FAILED: ansible-test stopped with status $status before finishing (see above)" >&2
    exit "$status"
fi
failed=${failed:-0}
summary="$((ran - failed - skipped)) passed, $failed failed, $skipped skipped"

if [[ "${SANITY_UNITS:-0}" == 1 && $status -eq 0 ]]; then
    # ansible-test gives the tests a fixed environment: hand them the run's SKILLFORGE_TEST_* settings
    # (server URLs, the run token naming their databases) in a file tests/conftest.py reads.
    env | grep '^SKILLFORGE_TEST_' > tests/.test-environment || true
    "$ansible_test" units --python "$python_version" --local --color no || status=$?
fi

if [[ $status -ne 0 ]]; then
    echo "ansible-test failed (status $status): errors above; KEEP_SANITY_TREE=1 keeps tests/output of the copy" >&2
fi
echo "sanity: $summary"
exit "$status"

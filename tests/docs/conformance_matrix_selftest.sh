#!/usr/bin/env bash
# Self-test of scripts/conformance-matrix on a fixture repository built in a
# temporary folder: each rule of --check fails when broken, with its message;
# ranges, lists and test-case attribution come out as documented.
# (conformance-matrix: ignore-file — the fixture IDs below are not the spec's.)
set -euo pipefail
script=${1:?usage: conformance_matrix_selftest.sh path/to/conformance-matrix}
fx=$(mktemp -d /tmp/conformance-selftest.XXXXXX)
trap 'rm -rf "$fx"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

mkdir -p "$fx/repo/src" "$fx/repo/tests/a" "$fx/repo/docs/conformance"
cat >"$fx/spec.md" <<'SPEC'
# Fixture spec
## 4. Functions (clause 7)
**Capture (7.2.2)**
- **R-AA-1** First thing.
- **R-AA-2** Second thing.
### Flow (8.2.1)
| ID | Actor | Action |
|---|---|---|
| R-BB-1..2 | Client | Two steps in one row |
## 7. Acceptance scenarios (Appendix I)
**AT-1 Someone (Alice)**
- **AT-1.1** *Given* ...
SPEC
cat >"$fx/repo/src/impl.cc" <<'SRC'
// R-AA-1..2: both implemented here; R-BB-1/2 too. Not an ID: DER-1, XR-AA-1.
SRC
cat >"$fx/repo/tests/a/thing_test.cc" <<'SRC'
// Header of the file: AT-1.1.

// R-AA-1/2: the case below shows both.
TEST(Suite, ShowsBoth) {
  // R-BB-1 inside the body.
}
SRC
printf '%s\t%s\t%s\t%s\n' \
  R-AA-1 met "first" "" \
  R-AA-2 met "second" "" \
  R-BB-1 met "step one" "" \
  R-BB-2 partial "step two" "no test yet" \
  AT-1.1 met "scenario" "" >"$fx/repo/docs/conformance/status.tsv"

run() { bash "$script" --root "$fx/repo" "$@" >"$fx/out" 2>&1; }

# Generation: the IDs of the spec, ranges expanded, in spec order, with clauses.
run --spec "$fx/spec.md" || fail "generation failed: $(cat "$fx/out")"
expected=$'R-AA-1\t7.2.2\nR-AA-2\t7.2.2\nR-BB-1\t8.2.1\nR-BB-2\t8.2.1\nAT-1.1\tAppendix I'
[ "$(grep -v '^#' "$fx/repo/docs/conformance/ids.txt")" = "$expected" ] ||
  fail "ids.txt: $(cat "$fx/repo/docs/conformance/ids.txt")"
md=$fx/repo/docs/CONFORMANCE.md
grep -qF '| R-AA-2 | met | second | `src/impl.cc` | `tests/a/thing_test.cc`: Suite.ShowsBoth |' "$md" ||
  fail "R-AA-2 row: $(grep 'R-AA-2 ' "$md")"
grep -qF '| R-BB-2 | partial | step two | `src/impl.cc` |  |' "$md" || fail "R-BB-2 row: $(grep 'R-BB-2 ' "$md")"
grep -qF '| AT-1.1 | met | scenario |  | `tests/a/thing_test.cc` |' "$md" || fail "AT-1.1 row: $(grep 'AT-1.1 ' "$md")"
grep -qF '| met | 3 | 1 | 4 |' "$md" || fail "summary counts: $(grep '^| met' "$md")"

# The consistent fixture passes, with the spec and without it (ids.txt).
run --check --spec "$fx/spec.md" || fail "--check on a consistent tree: $(cat "$fx/out")"
run --check --spec "$fx/absent.md" || fail "--check without the spec: $(cat "$fx/out")"
grep -q 'using the checked-in docs/conformance/ids.txt' "$fx/out" || fail "no note about ids.txt: $(cat "$fx/out")"

# expect_failure NAME MESSAGE: --check must fail and say MESSAGE; then restore.
snapshot() { rm -rf "$fx/saved"; cp -a "$fx/repo" "$fx/saved"; }
restore() { rm -rf "$fx/repo"; cp -a "$fx/saved" "$fx/repo"; }
expect_failure() {
  if run --check --spec "$fx/spec.md"; then fail "$1: --check passed"
  elif ! grep -qF -- "$2" "$fx/out"; then fail "$1: message '$2' missing from: $(cat "$fx/out")"; fi
  restore
}
snapshot

sed -i '/^R-BB-2\t/d' "$fx/repo/docs/conformance/status.tsv"
expect_failure "missing entry" "no status entry in docs/conformance/status.tsv: R-BB-2"

sed -i 's/^R-BB-2\tpartial/R-BB-2\tmet/' "$fx/repo/docs/conformance/status.tsv"
expect_failure "met without a test" 'status "met" but no test under tests/ cites it: R-BB-2'

sed -i 's/^R-BB-2\tpartial\tstep two\tno test yet/R-BB-2\tpartial\tstep two\t/' "$fx/repo/docs/conformance/status.tsv"
expect_failure "partial without reason" 'R-BB-2: status "partial" needs a reason'

sed -i 's/^R-BB-2\tpartial/R-BB-2\tdone/' "$fx/repo/docs/conformance/status.tsv"
expect_failure "unknown status" 'status "done" is not met / partial / not met / not applicable'

printf 'R-ZZ-1\tmet\tstray\t\n' >>"$fx/repo/docs/conformance/status.tsv"
expect_failure "entry for an unknown ID" "status.tsv: R-ZZ-1 is not an ID of the spec"

echo '// R-AA-9: a typo' >>"$fx/repo/src/impl.cc"
expect_failure "citation of an undefined ID" "cited but not defined by the spec: R-AA-9 in src/impl.cc"

echo '// R-AA-1: a new citation' >"$fx/repo/tests/a/other_test.cc"
expect_failure "stale matrix" "docs/CONFORMANCE.md is not current"

echo '- **R-AA-3** A new requirement.' >>"$fx/spec.md"
expect_failure "stale ids.txt" "docs/conformance/ids.txt differs from the IDs of"
sed -i '/R-AA-3/d' "$fx/spec.md"

if [ "$failures" -gt 0 ]; then echo "$failures check(s) failed" >&2; exit 1; fi
echo "conformance-matrix self-test: all checks passed"

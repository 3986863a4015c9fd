#!/usr/bin/env bash
# deploy/tests/hosts.sh's command line: every bad argument is refused before a namespace is
# made, with one line naming the argument, and exit status 2. A few seconds; needs no root
# (as root it also checks that no namespace was left).
set -uo pipefail
TEST_NAME=hostsargs
source "$(dirname "$0")/lib.sh"
HOSTS="$REPO/deploy/tests/hosts.sh"
before=$(ip netns list 2>/dev/null | grep -c '^loomhb-')

# refused "ARGS" NEEDLE: hosts.sh ARGS exits 2 with one stderr line containing NEEDLE.
refused() {
    local args=$1 needle=$2 err status
    # shellcheck disable=SC2086
    err=$(timeout 30 bash "$HOSTS" $args -- true 2>&1 >/dev/null </dev/null); status=$?
    if [[ $status == 2 && $(wc -l <<< "$err") == 1 && $err == *"$needle"* ]]; then
        pass "hosts.sh $args: exit 2, '$err'"
    else
        fail "hosts.sh $args: exit $status (want 2), stderr (want one line with '$needle'): $err"
    fi
}
refused "0" "N must be 1..250, got '0'"
refused "abc" "N must be 1..250, got 'abc'"
refused "3 --rate fast" "bad rate 'fast'"
refused "3 --rate 1.5gbit" "bad rate '1.5gbit'"
refused "3 --rate -1gbit" "bad rate '-1gbit'"
refused "3 --rate 0gbit" "bad rate '0gbit'"
refused "3 --bogus" "unknown option '--bogus'"
refused "3 --rate" "--rate needs a value"
err=$(bash "$HOSTS" 2>&1 >/dev/null </dev/null); status=$?
check "hosts.sh without N: exit 2 and its usage ($err)" test "$status" = 2 -a -n "$err"
if [[ $(id -u) == 0 ]]; then
    after=$(ip netns list 2>/dev/null | grep -c '^loomhb-')
    check "no namespace left by the refused commands ($before before, $after after)" test "$after" -le "$before"
fi
summary

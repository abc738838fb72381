#!/bin/bash
# crashloop.sh [CYCLES [SEED]]: chanstatd killed with SIGKILL at random
# moments under traffic from real clients, then checked for losses.
#
# Brings up the two-domain bed of the end-to-end tests (tests/e2e/lib.sh,
# fed_setup: a.test and b.test, each its own Prosody, federated over
# loopback s2s), status.a.test homing four channels and status.b.test as
# the status service of b.test's watchers, and runs tests/e2e/crashloop.py:
# subscriptions and unsubscriptions (local and across s2s), owners changing
# status, coming and going, messages to online and offline owners, roster
# rows added and deleted with sqlite3.  Each cycle kills status.a.test,
# status.b.test or both (6:3:1) after 0.2-2 s of uptime, or, in three
# cycles of ten that kill status.a.test, right after an owner with stored
# messages came back (during the flush), and restarts it at once with the
# same configuration and database.  At the end (and every
# CRASHLOOP_CHECK_EVERY cycles) it checks what crashloop.py's docstring
# defines and prints one summary line:
#   crashloop: cycles N (kills: ...); subscription changes acknowledged A,
#   lost L, ...; messages sent S, accepted A, delivered D, lost L, repeated R
#   (not allowed X), ...; convergence failures C; failures F; wall W s ...
# Exit status 0 when nothing acknowledged or accepted was lost, every repeat
# is one doc/internals-routing.md allows and every watcher converged.
#
# tests/e2e/crash_loop.test runs 25 cycles in `make check`; the figures in
# doc/reliability.md come from
#   scripts/crashloop.sh 1000                 (in-tree build)
#   top_builddir=_b scripts/crashloop.sh 1000 (out-of-tree build)
# SEED (default: random, printed) replays the same choices (timing still
# differs).  FED_KEEP=DIR keeps both domains' logs and databases.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
CYCLES=${1:-1000}
SEED=${2:-$RANDOM}
case $CYCLES$SEED in *[!0-9]*) echo "usage: $0 [CYCLES [SEED]]" >&2; exit 2 ;; esac
[ "$CYCLES" -gt 0 ] || { echo "usage: $0 [CYCLES [SEED]]" >&2; exit 2; }

. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/fedlib.sh"
fed_setup
# a.test: owners w1-w4, watchers w5-w7, watchers by hand w8 w9, sender w10.
fed_accounts a.test 10
fed_accounts b.test 3
fed_chanstatd a.test c1:w1@a.test:open c2:w2@a.test:open c3:w3@a.test:open c4:w4@a.test:open
# Short timers, so that a status service whose home was down retries
# within the loop's settle time, and upstream subscriptions come and go.
CS_EXTRA_INI='[federation]
linger = 1
on_error_retry_time = 2
request_timeout = 3' fed_chanstatd b.test
export CHANSTATD
"$PYTHON3" "$E2E_DIR/crashloop.py" "$CYCLES" "$SEED" || { fed_fail_logs; fail "crash loop failed"; }

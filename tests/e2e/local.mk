# End-to-end tests: real Prosody and ejabberd on loopback, real clients.
TEST_EXTENSIONS = .test
TEST_LOG_COMPILER = bash

E2E_TESTS += \
	tests/e2e/handshake.test \
	tests/e2e/wrong_secret.test \
	tests/e2e/unknown_host.test \
	tests/e2e/conflict.test \
	tests/e2e/server_restart.test \
	tests/e2e/client_queries.test \
	tests/e2e/sigterm.test \
	tests/e2e/bad_input.test \
	tests/e2e/stanza_memory.test \
	tests/e2e/ejabberd_smoke.test \
	tests/e2e/presence_open.test \
	tests/e2e/presence_policies.test \
	tests/e2e/presence_restart.test \
	tests/e2e/presence_fanout.test \
	tests/e2e/messages.test \
	tests/e2e/flow_control.test \
	tests/e2e/live_edits.test \
	tests/e2e/admin_xmpp.test \
	tests/e2e/fed_plain.test

EXTRA_DIST += $(E2E_TESTS) tests/e2e/lib.sh tests/e2e/fakeserver.py tests/e2e/flowserver.py tests/e2e/xmpptest.py tests/e2e/peptest.py \
	tests/e2e/ejabberd.yml.in tests/e2e/presence_open.py tests/e2e/presence_policies.py \
	tests/e2e/presence_restart.py tests/e2e/presence_fanout.py tests/e2e/messages.py \
	tests/e2e/live_edits.py tests/e2e/admin_xmpp.py tests/e2e/fed_plain.py

if HAVE_STROPHE
check_PROGRAMS += tests/e2e/xmpp_query
endif
tests_e2e_xmpp_query_SOURCES = tests/e2e/xmpp_query.c
tests_e2e_xmpp_query_CFLAGS = $(AM_CFLAGS) $(STROPHE_CFLAGS)
tests_e2e_xmpp_query_LDADD = $(STROPHE_LIBS)

E2E_TESTS += tests/e2e/ctl.test

# XEP-0356 roster and presence permissions granted by Prosody's
# mod_privilege (doc/attach-prosody.md).
E2E_TESTS += tests/e2e/privilege_prosody.test
EXTRA_DIST += tests/e2e/privilege_prosody.py

# Federation through the watchers' own node (doc/federation.md).
E2E_TESTS += tests/e2e/fed_relay.test
EXTRA_DIST += tests/e2e/fedlib.sh tests/e2e/fedtest.py tests/e2e/fed_relay.py
E2E_TESTS += tests/e2e/fed_policy.test
EXTRA_DIST += tests/e2e/fed_policy.py
E2E_TESTS += tests/e2e/fed_lease.test
EXTRA_DIST += tests/e2e/fed_lease.py

# XEP-0356 roster and presence permissions granted by ejabberd's
# mod_privilege (doc/attach-ejabberd.md).
E2E_TESTS += tests/e2e/privilege_ejabberd.test
EXTRA_DIST += tests/e2e/privilege_ejabberd.py tests/e2e/ejabberd-privilege.yml.in

# The federation benchmark runs on the same two-domain bed (lib.sh).
EXTRA_DIST += bench/fed_bench.sh bench/fed_bench.py bench/mod_bench_s2s_bytes.lua
# So does the end-to-end fan-out benchmark (doc/performance.md).
EXTRA_DIST += bench/fanout_e2e.sh bench/fanout_e2e.py

# The first five minutes with an ordinary client: the domain at a full
# JID, the channel directory, the owner asked again (doc/xmpp.md).
E2E_TESTS += tests/e2e/first_minutes.test
EXTRA_DIST += tests/e2e/first_minutes.py

# Channel properties (doc/schema.md, xmpp.md): chanstatctl and the vCard.
E2E_TESTS += tests/e2e/properties.test
E2E_TESTS += tests/e2e/approve_ejabberd.test

# Channel properties reach watchers: the avatar hash in presence, PEP
# nodes, +notify from entity capabilities, subscriptions with a lease.
E2E_TESTS += tests/e2e/pep.test
EXTRA_DIST += tests/e2e/pep.py

# Channel properties across domains: one node subscription feeds a.test (doc/federation.md).
E2E_TESTS += tests/e2e/fed_props.test
EXTRA_DIST += tests/e2e/fed_props.py

# Fan-out in XEP-0033 batches through the server's multicast service
# (doc/internals-fanout.md).
E2E_TESTS += tests/e2e/multicast_ejabberd.test tests/e2e/multicast_prosody.test
# The same across s2s with ejabberd as the watchers' server (lib.sh: dns_start).
E2E_TESTS += tests/e2e/multicast_fed_ejabberd.test
EXTRA_DIST += tests/e2e/multicast.py tests/e2e/multicast_fed.py tests/e2e/ejabberd-multicast.yml.in

# The Prosody module for XEP-0033 fan-out (contrib/prosody,
# doc/attach-prosody.md), with real Prosody and clients.
E2E_TESTS += tests/e2e/multicast_module.test
EXTRA_DIST += tests/e2e/multicast_module.py contrib/prosody/mod_chanstat_multicast.lua
# One domain over a front and two homes (doc/cluster.md), on one Prosody.
E2E_TESTS += tests/e2e/cluster_prosody.test
EXTRA_DIST += tests/e2e/clusterlib.sh tests/e2e/cluster.py
# The cluster on a two-node ejabberd cluster (doc/cluster.md).
E2E_TESTS += tests/e2e/cluster_ejabberd.test
EXTRA_DIST += tests/e2e/ejcluster.sh tests/e2e/cluster_ejabberd.py
# A payload in the XML namespace, as Prosody passes it on (any user can send one).
E2E_TESTS += tests/e2e/xml_namespace.test

# make install gives a service: the files, the systemd unit checked by
# systemd-analyze and run against Prosody (doc/operations.md).
E2E_TESTS += tests/e2e/install.test
# Online backups with sqlite3 while chanstatd runs under load.
E2E_TESTS += tests/e2e/backup.test
EXTRA_DIST += tests/e2e/backup.py

# JIDs prepared as the servers prepare them: an account named with
# non-ASCII letters, rows written in other spellings, chanstatctl.
E2E_TESTS += tests/e2e/jid_prep.test
EXTRA_DIST += tests/e2e/jid_prep.py

# Server and database faults: Prosody down or stopped, the component
# port refusing, the s2s link cut, the database locked, full or
# read-only (bench/faults.sh prints the figures).
E2E_TESTS += tests/e2e/fault_db.test tests/e2e/fault_refused.test tests/e2e/fault_outage.test \
	tests/e2e/fault_s2s.test tests/e2e/fault_stop.test
EXTRA_DIST += tests/e2e/fault_db.py tests/e2e/fault_outage.py tests/e2e/fault_s2s.py \
	tests/e2e/fault_stop.py bench/faults.sh

# SIGHUP: the log file reopened, the configuration reloaded (doc/config.md).
E2E_TESTS += tests/e2e/sighup.test
EXTRA_DIST += tests/e2e/sighup.py

# chanstatctl stats --format=prometheus, read by a strict parser.
E2E_TESTS += tests/e2e/prometheus.test
EXTRA_DIST += tests/e2e/prom_check.py
# Floods: stanzas over the limits from a real client through Prosody
# (doc/internals-link.md); bench/floods.sh measures the rest.
E2E_TESTS += tests/e2e/flood_oversize.test tests/e2e/flood_limits.test
EXTRA_DIST += tests/e2e/flood_oversize.py bench/floods.sh bench/floods.py
# The crash loop with real clients on two federated domains, short
# (scripts/crashloop.sh runs the long one; doc/reliability.md).
E2E_TESTS += tests/e2e/crash_loop.test
EXTRA_DIST += tests/e2e/crashloop.py scripts/crashloop.sh

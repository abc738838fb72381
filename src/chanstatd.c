/* chanstatd.c - the daemon: configuration, storage, the component link
 * and the stanza dispatch, wired together in one event loop. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_home.h"
#include "cs_link.h"
#include "cs_log.h"
#include "cs_loop.h"
#include "cs_offline.h"
#include "cs_roster.h"
#include "cs_route.h"
#include "cs_service.h"
#include "cs_store.h"
#include "cs_util.h"

/* Exit codes: 0 success, 1 runtime failure (database, sockets), 2 usage
 * or configuration error. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct daemon {
    struct config cfg;
    struct loop *loop;
    struct store *store;
    struct roster *roster;
    struct offline *offline;
    struct home *home;
    struct route *route;
    struct link *link;
    struct loop_timer *resync;
    struct service svc;
    struct stanza_list out;
    int sigfd;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chanstatd -c FILE [--check-config | --init-db]\n"
            "\n"
            "  -c, --config FILE   configuration file (INI, see chanstat.conf(5))\n"
            "      --check-config  validate FILE, print the effective values, exit\n"
            "      --init-db       create or migrate the database, exit\n"
            "  -V, --version       print the version\n"
            "  -h, --help          this text\n"
            "\n"
            "chanstatd runs in the foreground and logs to stderr (and syslog if\n"
            "[log] syslog = true).  SIGTERM or SIGINT closes the stream and exits.\n");
}

static void send_out(struct daemon *d)
{
    for (size_t i = 0; i < d->out.n; i++) {
        int r = link_send(d->link, d->out.v[i]);
        if (r != 0) {
            /* Replies are derived from the request; a lost reply makes
             * the requester time out, as with any lost stanza. */
            log_warning("chanstatd: reply not sent: %s", cs_strerror(r));
            break;
        }
    }
    stanza_list_clear(&d->out);
}

/* After a (re)connect, owners are probed at once; their answers arrive
 * within this delay, after which every watcher is sent the status we then
 * hold, so nobody keeps a stale "available" from before the outage. */
#define RESYNC_DELAY_MS 2000

static void sink_send(void *ud, const struct xml_node *stanza)
{
    struct daemon *d = ud;
    int r = link_send(d->link, stanza);
    if (r != 0)
        log_debug("chanstatd: stanza not sent: %s", cs_strerror(r));
}

static void sink_send_raw(void *ud, const char *xml, size_t len)
{
    struct daemon *d = ud;
    int r = link_send_raw(d->link, xml, len);
    if (r != 0)
        log_debug("chanstatd: stanza not sent: %s", cs_strerror(r));
}

static void on_deliverable(void *ud, const char *channel)
{
    struct daemon *d = ud;
    route_flush(d->route, channel, cs_wall_s());
}

static int load_home(struct daemon *d)
{
    struct home_limits limits = {
        .sub_burst = d->cfg.subscription_burst,
        .sub_per_minute = d->cfg.subscriptions_per_minute,
        .max_pending = d->cfg.max_pending_per_channel,
    };
    struct route_limits rlimits = {
        .max_message_bytes = d->cfg.max_message_bytes,
        .offline_max_messages = d->cfg.offline_max_messages,
        .offline_max_bytes = d->cfg.offline_max_bytes,
        .offline_expiry_s = d->cfg.offline_expiry_days * 86400,
    };
    struct home_sink sink = {sink_send, sink_send_raw, d};
    route_free(&d->route);
    home_free(&d->home);
    d->home = home_new(d->cfg.domain, d->roster, &limits, &sink);
    d->route = route_new(d->cfg.domain, d->home, d->roster, d->offline, &rlimits, &sink);
    home_on_deliverable(d->home, on_deliverable, d);
    service_init(&d->svc, d->cfg.domain, d->home, d->route);
    if (home_load(d->home) != 0 || route_load(d->route) != 0)
        return CS_EDB;
    return 0;
}

static void on_resync(struct loop *loop, void *ud)
{
    struct daemon *d = ud;
    d->resync = NULL;
    home_resync(d->home);
}

static void on_online(struct link *link, void *ud)
{
    struct daemon *d = ud;
    home_online(d->home, cs_wall_s());
    loop_timer_cancel(d->loop, &d->resync);
    d->resync = loop_timer_add(d->loop, RESYNC_DELAY_MS, on_resync, d);
}

static void on_offline(struct link *link, void *ud)
{
    struct daemon *d = ud;
    loop_timer_cancel(d->loop, &d->resync);
    home_offline(d->home, cs_wall_s());
    route_link_lost(d->route);
}

/* Stored messages that reached the server can go. */
static void on_drained(struct link *link, void *ud)
{
    struct daemon *d = ud;
    if (route_drained(d->route) != 0)
        log_error("chanstatd: deleting delivered offline messages failed; they may repeat");
}

/* State changes of this batch become durable before any stanza that
 * depends on them leaves: the link writes only after this returns. */
static void on_batch_end(struct link *link, void *ud)
{
    struct daemon *d = ud;
    if (roster_tx_commit(d->roster) == 0)
        return;
    log_error("chanstatd: database commit failed; discarding this batch's output and "
              "reloading state");
    link_reset(link, "database commit failed");
    if (load_home(d) != 0)
        log_error("chanstatd: reloading state from the database failed");
}

static void on_stanza(struct link *link, struct xml_node *stanza, void *ud)
{
    struct daemon *d = ud;
    service_handle(&d->svc, stanza, &d->out);
    send_out(d);
}

static void on_closed(struct link *link, void *ud)
{
    struct daemon *d = ud;
    loop_stop(d->loop);
}

static const struct link_handlers handlers = {
    .online = on_online,
    .offline = on_offline,
    .stanza = on_stanza,
    .batch_end = on_batch_end,
    .drained = on_drained,
    .closed = on_closed,
};

static void on_signal(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct daemon *d = ud;
    struct signalfd_siginfo si;

    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            log_info("chanstatd: %s received; closing the stream",
                     si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            loop_del_fd(loop, fd);
            link_shutdown(d->link);
            return;
        }
    }
}

static int setup_signals(struct daemon *d)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return CS_EIO;
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->sigfd < 0)
        return CS_EIO;
    return loop_add_fd(d->loop, d->sigfd, EPOLLIN, on_signal, d);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'C'},
        {"init-db", no_argument, NULL, 'I'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct daemon d = {.sigfd = -1};
    const char *path = NULL;
    bool check_only = false, init_db = false;
    char err[512];
    int c, r, status = 0;

    while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'C': check_only = true; break;
        case 'I': init_db = true; break;
        case 'V': printf("chanstatd %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (path == NULL || optind != argc || (check_only && init_db)) {
        usage(stderr);
        return EXIT_USAGE;
    }

    log_init(LOG_LEVEL_INFO, false, "chanstatd");
    config_defaults(&d.cfg);
    if (config_load(&d.cfg, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "chanstatd: %s\n", err);
        config_deinit(&d.cfg);
        return EXIT_USAGE;
    }
    if (check_only) {
        config_print(&d.cfg, stdout);
        config_deinit(&d.cfg);
        return 0;
    }
    log_init((enum log_level)d.cfg.log_level, d.cfg.log_syslog, "chanstatd");

    r = store_open(d.cfg.database, &d.cfg, &d.store, err, sizeof(err));
    if (r != 0) {
        log_error("chanstatd: %s", err);
        config_deinit(&d.cfg);
        return EXIT_RUNTIME;
    }
    if (init_db) {
        printf("database %s ready (schema version %d)\n", d.cfg.database,
               store_schema_version(d.store));
        store_close(&d.store);
        config_deinit(&d.cfg);
        return 0;
    }

    d.loop = loop_new();
    if (d.loop == NULL || setup_signals(&d) != 0) {
        log_error("chanstatd: cannot set up the event loop: %s", strerror(errno));
        status = EXIT_RUNTIME;
        goto out;
    }
    d.roster = roster_new(d.store, err, sizeof(err));
    if (d.roster)
        d.offline = offline_new(d.store, err, sizeof(err));
    if (d.roster == NULL || d.offline == NULL || load_home(&d) != 0) {
        log_error("chanstatd: cannot load channels: %s", d.offline ? "database error" : err);
        status = EXIT_RUNTIME;
        goto out;
    }
    d.link = link_new(d.loop, &d.cfg, &handlers, &d);
    log_info("chanstatd %s starting for %s (database %s)", PACKAGE_VERSION, d.cfg.domain,
             d.cfg.database);
    link_start(d.link);
    if (loop_run(d.loop) != 0) {
        log_error("chanstatd: event loop failed: %s", strerror(errno));
        status = EXIT_RUNTIME;
    }
    log_info("chanstatd: stopped");
out:
    if (d.roster && roster_tx_commit(d.roster) != 0)
        log_error("chanstatd: final commit failed");
    loop_timer_cancel(d.loop, &d.resync);
    link_free(&d.link);
    route_free(&d.route);
    home_free(&d.home);
    offline_free(&d.offline);
    roster_free(&d.roster);
    stanza_list_clear(&d.out);
    free(d.out.v);
    if (d.sigfd >= 0)
        close(d.sigfd);
    loop_free(&d.loop);
    store_close(&d.store);
    config_deinit(&d.cfg);
    return status;
}

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
#include <time.h>
#include <unistd.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_link.h"
#include "cs_log.h"
#include "cs_loop.h"
#include "cs_node.h"
#include "cs_out.h"
#include "cs_reload.h"
#include "cs_stats.h"
#include "cs_store.h"
#include "cs_util.h"

/* Exit codes: 0 success, 1 runtime failure (database, sockets), 2 usage
 * or configuration error. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct daemon {
    struct config cfg;
    const char *path;          /* the configuration file, read again on SIGHUP */
    struct loop_timer *repump; /* producers stopped for their work bound */
    struct loop *loop;
    struct store *store;
    struct node *node;
    struct link *link;
    struct out out;
    struct loop_timer *tick;
    int sigfd;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chanstatd -c FILE [--check-config | --init-db]\n"
            "\n"
            "  -c, --config FILE   configuration file (INI, see chanstatd(8) and doc/config.md)\n"
            "      --check-config  validate FILE, print the effective values, exit\n"
            "      --init-db       create or migrate the database, exit\n"
            "  -V, --version       print the version\n"
            "  -h, --help          this text\n"
            "\n"
            "chanstatd runs in the foreground and logs to stderr, or to [log] file\n"
            "(and syslog if [log] syslog = true).  SIGTERM or SIGINT closes the\n"
            "stream and exits; SIGHUP reopens the log file and reloads what may\n"
            "change of FILE (see chanstatd(8)); SIGUSR1 logs the counters.\n");
}

/* ---- The output path: the core writes, the link queues ---- */

static int out_write(void *ud, const char *xml, size_t len)
{
    struct daemon *d = ud;
    return link_send_raw(d->link, xml, len);
}

static size_t out_room_cb(void *ud)
{
    struct daemon *d = ud;
    return link_room(d->link);
}

static size_t out_mark(void *ud)
{
    struct daemon *d = ud;
    return link_mark(d->link);
}

static void out_splice(void *ud, size_t from, size_t to, const char *repl, size_t len)
{
    struct daemon *d = ud;
    link_splice(d->link, from, to, repl, len);
}

/* ---- Link events: the clock is read here and passed in ---- */

/* After any event: producers that stopped for their work bound (not for
 * room) go on once the loop has read its inputs. */
static void on_repump(struct loop *loop, void *ud);

static void after(struct daemon *d)
{
    if (d->repump == NULL && node_wants_pump(d->node))
        d->repump = loop_timer_add(d->loop, 0, on_repump, d);
}

static void on_repump(struct loop *loop, void *ud)
{
    struct daemon *d = ud;
    d->repump = NULL;
    if (link_online(d->link))
        node_pump(d->node, cs_now_ms());
    after(d);
}

static void on_writable(struct link *link, void *ud)
{
    struct daemon *d = ud;
    node_writable(d->node, cs_now_ms());
    after(d);
}

static void on_online(struct link *link, void *ud)
{
    struct daemon *d = ud;
    node_online(d->node, cs_now_ms());
    after(d);
}

static void on_offline(struct link *link, void *ud)
{
    struct daemon *d = ud;
    node_offline(d->node, cs_now_ms());
}

static void on_drained(struct link *link, void *ud)
{
    struct daemon *d = ud;
    node_drained(d->node, cs_now_ms());
    after(d);
}

/* State changes of this batch become durable before any stanza that
 * depends on them leaves: the link writes only after this returns. */
static void on_batch_end(struct link *link, void *ud)
{
    struct daemon *d = ud;
    node_batch_end(d->node, cs_now_ms());
    after(d);
}

static void on_stanza(struct link *link, struct xml_node *stanza, void *ud)
{
    struct daemon *d = ud;
    node_stanza(d->node, stanza, cs_now_ms());
}

static void on_closed(struct link *link, void *ud)
{
    struct daemon *d = ud;
    loop_stop(d->loop);
}

static void on_tick(struct loop *loop, void *ud)
{
    struct daemon *d = ud;
    d->tick = loop_timer_add(loop, NODE_TICK_MS, on_tick, d);
    node_note_link(d->node, link_stats(d->link));
    if (link_online(d->link)) {
        node_tick(d->node, cs_now_ms());
        after(d);
    }
}

static const struct cs_clock system_clock = {cs_system_wall_minus_mono, NULL};

static int64_t clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void log_stat(void *ud, const char *name, uint64_t value)
{
    log_info("stats: %s %llu", name, (unsigned long long)value);
}

static const struct link_handlers handlers = {
    .online = on_online,
    .offline = on_offline,
    .stanza = on_stanza,
    .batch_end = on_batch_end,
    .drained = on_drained,
    .writable = on_writable,
    .closed = on_closed,
};

static void on_signal(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct daemon *d = ud;
    struct signalfd_siginfo si;

    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
            stats_each(node_counters(d->node), log_stat, NULL);
            continue;
        }
        if (si.ssi_signo == SIGHUP) {
            struct reload_result res;
            /* Logs once the file is reopened: its lines go to the new one. */
            reload_run(&d->cfg, d->path, d->node, &res);
            continue;
        }
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
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return CS_EIO;
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->sigfd < 0)
        return CS_EIO;
    return loop_add_fd(d->loop, d->sigfd, EPOLLIN, on_signal, d);
}

static void block_early_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
        {"init-db", no_argument, NULL, 'I'},      {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
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

    /* SIGHUP and SIGUSR1 wait, blocked, for the signal descriptor: their
     * default action would end a daemon still opening its database (a
     * logrotate run or a reload during start-up). */
    block_early_signals();
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
    /* A file that cannot be opened is a configuration error: said on
     * stderr, where the lines would otherwise have gone. */
    if (d.cfg.log_file && log_set_file(d.cfg.log_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "chanstatd: %s: [log] file: %s\n", path, err);
        config_deinit(&d.cfg);
        return EXIT_USAGE;
    }
    d.path = path;

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
    d.out = (struct out){out_write, out_room_cb, out_mark, out_splice, &d};
    d.node = node_new(&d.cfg, d.store, &d.out, cs_now_ms(), err, sizeof(err));
    if (d.node == NULL) {
        log_error("chanstatd: cannot prepare the database: %s", err);
        status = EXIT_RUNTIME;
        goto out;
    }
    /* Nothing is loaded here: channels are read on first use, so start-up
     * costs the same with ten channels or ten million. */
    node_set_clock(d.node, clock_us);
    /* Deadlines run on the monotonic clock (every now_ms above); the wall
     * clock only dates what is stored or shown. */
    node_use_clock(d.node, &system_clock);
    node_set_bind_delay(d.node, NODE_BIND_DELAY_MS);
    d.link = link_new(d.loop, &d.cfg, &handlers, &d);
    d.tick = loop_timer_add(d.loop, NODE_TICK_MS, on_tick, &d);
    log_info("chanstatd %s starting for %s (database %s)", PACKAGE_VERSION, d.cfg.domain,
             d.cfg.database);
    link_start(d.link);
    if (loop_run(d.loop) != 0) {
        log_error("chanstatd: event loop failed: %s", strerror(errno));
        status = EXIT_RUNTIME;
    }
    log_info("chanstatd: stopped");
out:
    if (d.loop) {
        loop_timer_cancel(d.loop, &d.tick);
        loop_timer_cancel(d.loop, &d.repump);
    }
    link_free(&d.link);
    node_free(&d.node);
    if (d.sigfd >= 0)
        close(d.sigfd);
    loop_free(&d.loop);
    store_close(&d.store);
    config_deinit(&d.cfg);
    log_set_file(NULL, err, sizeof(err));
    return status;
}

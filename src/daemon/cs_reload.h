/* cs_reload.h - SIGHUP for a running node: the log file reopened, the
 * configuration file read again, what may change applied.
 *
 * chanstatd's signal descriptor hands SIGHUP to the event loop, which
 * calls reload_run() between two events, like any other handler; nothing
 * runs in a signal handler.  doc/config.md lists the keys taken. */
#ifndef CS_RELOAD_H
#define CS_RELOAD_H

struct config;
struct node;

struct reload_result {
    int applied;       /* keys now in force */
    int needs_restart; /* changed keys whose old value stays */
    int failed;        /* 0, or the error that kept the whole old configuration */
};

/* Reopens the log file (a failure keeps the old descriptor, logged),
 * reads path over the defaults and, if it is valid, moves the keys that
 * may change into live (config_reload()), sets the log's level, syslog
 * and file and the node's limits (node may be NULL); names every other
 * changed key in a warning of its own, and logs one summary line.  An
 * invalid file is logged and changes nothing. */
void reload_run(struct config *live, const char *path, struct node *node,
                struct reload_result *res);

#endif

/* log.c - stderr and syslog logging with a run-time level. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_util.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static bool to_syslog;
static char ident[64] = "chanstat";

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_init(enum log_level level, bool use_syslog, const char *id)
{
    current_level = level;
    /* openlog() keeps the ident pointer: close before rewriting it. */
    if (to_syslog)
        closelog();
    cs_strlcpy(ident, id ? id : "chanstat", sizeof(ident));
    to_syslog = use_syslog;
    if (to_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
    current_level = level;
}

bool log_enabled(enum log_level level)
{
    return level <= current_level;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char msg[2048];
    struct timespec ts;
    struct tm tm;

    if ((unsigned)level > LOG_LEVEL_DEBUG)
        level = LOG_LEVEL_DEBUG; /* an out-of-range level is treated as debug */
    if (!log_enabled(level))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    /* One fprintf per line so concurrent writers never interleave parts. */
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            ident, (long)getpid(), level_names[level], msg);
    if (to_syslog)
        syslog(prio[level], "%s", msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

int log_level_parse(const char *s, enum log_level *level_r)
{
    for (size_t i = 0; i < CS_ARRAY_SIZE(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *level_r = (enum log_level)i;
            return 0;
        }
    }
    return CS_EINVAL;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < CS_ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

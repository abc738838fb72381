/* loop.c - epoll event loop with a sorted list of one-shot timers.
 *
 * The daemon holds a handful of descriptors and timers, so a sorted list
 * (O(n) add and cancel, O(1) next deadline) is simpler than a heap and
 * just as fast here. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_loop.h"
#include "cs_util.h"

struct fd_slot {
    loop_io_cb *cb;
    void *ud;
    bool used;
};

struct loop_timer {
    int64_t deadline;
    uint64_t seq; /* order of loop_timer_add() calls, from 1 */
    loop_timer_cb *cb;
    void *ud;
    struct loop_timer *next;
};

struct loop {
    int epfd;
    struct fd_slot *fds; /* indexed by descriptor */
    int nfds;
    struct loop_timer *timers; /* sorted by deadline, then by seq */
    uint64_t timer_seq;        /* seq of the last timer added */
    bool stop;
};

struct loop *loop_new(void)
{
    struct loop *l;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return NULL;
    l = xcalloc(1, sizeof(*l));
    l->epfd = epfd;
    return l;
}

void loop_free(struct loop **lp)
{
    struct loop *l = *lp;
    if (l == NULL)
        return;
    while (l->timers) {
        struct loop_timer *t = l->timers;
        l->timers = t->next;
        free(t);
    }
    close(l->epfd);
    free(l->fds);
    free(l);
    *lp = NULL;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_io_cb *cb, void *ud)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (fd < 0)
        return CS_EINVAL;
    if (fd >= l->nfds) {
        int n = l->nfds ? l->nfds : 16;
        while (n <= fd)
            n *= 2;
        l->fds = xrealloc(l->fds, (size_t)n * sizeof(*l->fds));
        memset(l->fds + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*l->fds));
        l->nfds = n;
    }
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return CS_EIO;
    l->fds[fd] = (struct fd_slot){.cb = cb, .ud = ud, .used = true};
    return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
        return CS_EINVAL;
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : CS_EIO;
}

void loop_del_fd(struct loop *l, int fd)
{
    if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->fds[fd].used = false;
}

struct loop_timer *loop_timer_add(struct loop *l, int64_t delay_ms, loop_timer_cb *cb, void *ud)
{
    struct loop_timer *t = xcalloc(1, sizeof(*t));
    struct loop_timer **pp = &l->timers;
    t->deadline = cs_now_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->seq = ++l->timer_seq;
    t->cb = cb;
    t->ud = ud;
    while (*pp && (*pp)->deadline <= t->deadline)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    return t;
}

void loop_timer_cancel(struct loop *l, struct loop_timer **tp)
{
    struct loop_timer *t = *tp;
    if (t == NULL)
        return;
    for (struct loop_timer **pp = &l->timers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            free(t);
            break;
        }
    }
    *tp = NULL;
}

static void run_timers(struct loop *l)
{
    int64_t now = cs_now_ms();
    uint64_t last = l->timer_seq;
    /* Fire only timers that were already pending and due when we started,
     * so a callback that re-arms itself with delay 0 cannot starve
     * descriptors.  A deadline alone does not tell them apart: a timer
     * added now with delay 0 is due now too.  But it sorts after every
     * timer due now (equal deadlines keep insertion order), so the first
     * timer added since we started ends the pass. */
    while (l->timers && l->timers->deadline <= now && l->timers->seq <= last && !l->stop) {
        struct loop_timer *t = l->timers;
        l->timers = t->next;
        loop_timer_cb *cb = t->cb;
        void *ud = t->ud;
        free(t);
        cb(l, ud);
    }
}

int loop_run_once(struct loop *l, int timeout_ms)
{
    struct epoll_event evs[64];
    int n;

    if (l->timers) {
        int64_t wait = l->timers->deadline - cs_now_ms();
        if (wait < 0)
            wait = 0;
        if (timeout_ms < 0 || wait < timeout_ms)
            timeout_ms = (int)(wait > 3600000 ? 3600000 : wait);
    }
    n = epoll_wait(l->epfd, evs, (int)CS_ARRAY_SIZE(evs), timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return CS_EIO;
    }
    for (int i = 0; i < n && !l->stop; i++) {
        int fd = evs[i].data.fd;
        /* A callback earlier in this batch may have removed this fd. */
        if (fd < l->nfds && l->fds[fd].used)
            l->fds[fd].cb(l, fd, evs[i].events, l->fds[fd].ud);
    }
    run_timers(l);
    return 0;
}

int loop_run(struct loop *l)
{
    l->stop = false;
    while (!l->stop) {
        int r = loop_run_once(l, -1);
        if (r != 0)
            return r;
    }
    return 0;
}

void loop_stop(struct loop *l)
{
    l->stop = true;
}

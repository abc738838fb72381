/* cs_loop.h - the event loop: epoll for descriptors, one-shot timers.
 *
 * Single-threaded.  Callbacks may add and remove descriptors and timers,
 * the descriptor being dispatched included; a fired timer's handle is
 * already invalid when its callback runs.
 *
 * Descriptors live in a table indexed by fd: dispatch is O(1), and the
 * table grows by doubling to the highest fd added.  One iteration takes
 * at most 64 ready descriptors from epoll, then runs the timers that were
 * due when it started; a timer added while they run waits for the next
 * iteration, even with delay 0, so timers cannot starve descriptors.
 *
 * Timers are kept in one list sorted by deadline (monotonic clock,
 * millisecond resolution): the next deadline and each firing cost O(1),
 * but adding and cancelling walk the list, O(n) in the pending timers.
 * The daemon keeps a handful (at most three today); a caller that needs
 * many should bring a heap here first. */
#ifndef CS_LOOP_H
#define CS_LOOP_H

#include <stdint.h>

struct loop;
struct loop_timer;

typedef void loop_io_cb(struct loop *loop, int fd, uint32_t events, void *ud);
typedef void loop_timer_cb(struct loop *loop, void *ud);

/* Caller frees with loop_free(). Never NULL (OOM aborts). Returns NULL
 * only when epoll_create1 fails (errno set). */
struct loop *loop_new(void);
void loop_free(struct loop **loop);

/* events: EPOLLIN / EPOLLOUT bits.  0 or CS_EIO (errno set). */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_io_cb *cb, void *ud);
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
/* Removes fd (does not close it).  Safe for unknown fds. */
void loop_del_fd(struct loop *loop, int fd);

/* One-shot timer after delay_ms.  The returned handle is owned by the
 * loop; it becomes invalid once the timer fired or was cancelled. */
struct loop_timer *loop_timer_add(struct loop *loop, int64_t delay_ms, loop_timer_cb *cb, void *ud);
/* Cancels *timer (if not NULL) and sets it to NULL. */
void loop_timer_cancel(struct loop *loop, struct loop_timer **timer);

/* Runs until loop_stop().  Returns 0 or CS_EIO. */
int loop_run(struct loop *loop);
/* One iteration: waits at most timeout_ms (-1 = until an event or timer)
 * and dispatches what is ready.  Returns 0 or CS_EIO. */
int loop_run_once(struct loop *loop, int timeout_ms);
void loop_stop(struct loop *loop);

#endif

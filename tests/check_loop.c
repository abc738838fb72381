/* check_loop.c - the event loop: timer order and cancelling, timers that
 * re-arm themselves, descriptors removed or stopped from a callback. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_loop.h"
#include "cs_util.h"
#include "testutil.h"

/* Records the order timers fire in: each callback appends its tag. */
struct order {
    char seen[16];
    size_t n;
};

struct tagged {
    struct order *order;
    char tag;
};

static void on_tagged(struct loop *loop, void *ud)
{
    struct tagged *t = ud;
    ck_assert_uint_lt(t->order->n, sizeof(t->order->seen) - 1);
    t->order->seen[t->order->n++] = t->tag;
}

/* Runs iterations until cond is true, failing after about two seconds. */
#define RUN_UNTIL(loop, cond)                                                                      \
    do {                                                                                           \
        int64_t deadline_ = cs_now_ms() + 2000;                                                    \
        while (!(cond)) {                                                                          \
            ck_assert_int_lt(cs_now_ms(), deadline_);                                              \
            ck_assert_int_eq(loop_run_once((loop), 50), 0);                                        \
        }                                                                                          \
    } while (0)

START_TEST(test_timer_order)
{
    struct loop *loop = loop_new();
    struct order o = {{0}, 0};
    struct tagged a = {&o, 'a'}, b = {&o, 'b'}, c = {&o, 'c'};

    ck_assert_ptr_nonnull(loop);
    loop_timer_add(loop, 30, on_tagged, &a);
    loop_timer_add(loop, 0, on_tagged, &b);
    loop_timer_add(loop, 0, on_tagged, &c); /* same deadline as b: after b */
    RUN_UNTIL(loop, o.n == 3);
    ck_assert_str_eq(o.seen, "bca");
    loop_free(&loop);
    ck_assert_ptr_null(loop);
}
END_TEST

struct canceller {
    struct loop_timer *victim;
    int fired;
};

static void on_cancel_victim(struct loop *loop, void *ud)
{
    struct canceller *c = ud;
    c->fired++;
    loop_timer_cancel(loop, &c->victim);
    ck_assert_ptr_null(c->victim);
}

static void on_must_not_fire(struct loop *loop, void *ud)
{
    ck_abort_msg("a cancelled timer fired");
}

START_TEST(test_timer_cancel)
{
    struct loop *loop = loop_new();
    struct loop_timer *t = loop_timer_add(loop, 0, on_must_not_fire, NULL);
    struct canceller c = {NULL, 0};

    loop_timer_cancel(loop, &t);
    ck_assert_ptr_null(t);
    loop_timer_cancel(loop, &t); /* NULL handle: nothing to do */
    /* Both due in the same pass; the first cancels the second. */
    loop_timer_add(loop, 0, on_cancel_victim, &c);
    c.victim = loop_timer_add(loop, 0, on_must_not_fire, NULL);
    RUN_UNTIL(loop, c.fired == 1);
    ck_assert_int_eq(loop_run_once(loop, 20), 0);
    /* Pending timers are freed with the loop. */
    loop_timer_add(loop, 60000, on_must_not_fire, NULL);
    loop_free(&loop);
}
END_TEST

struct rearm {
    int fired;
    int reads;
};

static void on_rearm(struct loop *loop, void *ud)
{
    struct rearm *r = ud;
    r->fired++;
    loop_timer_add(loop, 0, on_rearm, r);
}

static void on_readable(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct rearm *r = ud;
    ck_assert(events & EPOLLIN);
    r->reads++;
}

/* A timer that re-arms itself with delay 0 fires once per iteration, and
 * a ready descriptor is still served every iteration. */
START_TEST(test_rearm_does_not_starve)
{
    struct loop *loop = loop_new();
    struct rearm r = {0, 0};
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1); /* stays readable: never read */
    ck_assert_int_eq(loop_add_fd(loop, p[0], EPOLLIN, on_readable, &r), 0);
    loop_timer_add(loop, 0, on_rearm, &r);
    for (int i = 1; i <= 5; i++) {
        ck_assert_int_eq(loop_run_once(loop, 1000), 0);
        ck_assert_int_eq(r.fired, i);
        ck_assert_int_eq(r.reads, i);
    }
    loop_del_fd(loop, p[0]);
    loop_free(&loop);
    close(p[0]);
    close(p[1]);
}
END_TEST

struct pair {
    int fds[2]; /* read ends of two pipes */
    int calls;
};

static void on_remove_other(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct pair *p = ud;
    p->calls++;
    loop_del_fd(loop, fd == p->fds[0] ? p->fds[1] : p->fds[0]);
    loop_del_fd(loop, fd);
}

/* Both descriptors are ready in one batch; whichever runs first removes
 * the other, which must then not be dispatched. */
START_TEST(test_del_fd_in_batch)
{
    struct loop *loop = loop_new();
    struct pair pr = {{-1, -1}, 0};
    int a[2], b[2];

    ck_assert_int_eq(pipe(a), 0);
    ck_assert_int_eq(pipe(b), 0);
    pr.fds[0] = a[0];
    pr.fds[1] = b[0];
    ck_assert_int_eq(write(a[1], "x", 1), 1);
    ck_assert_int_eq(write(b[1], "x", 1), 1);
    ck_assert_int_eq(loop_add_fd(loop, a[0], EPOLLIN, on_remove_other, &pr), 0);
    ck_assert_int_eq(loop_add_fd(loop, b[0], EPOLLIN, on_remove_other, &pr), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(pr.calls, 1);
    ck_assert_int_eq(loop_run_once(loop, 10), 0);
    ck_assert_int_eq(pr.calls, 1);
    ck_assert_int_eq(loop_mod_fd(loop, a[0], EPOLLIN), CS_EINVAL);
    loop_del_fd(loop, a[0]); /* unknown now: nothing to do */
    ck_assert_int_eq(loop_add_fd(loop, -1, EPOLLIN, on_remove_other, &pr), CS_EINVAL);
    loop_free(&loop);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
}
END_TEST

static void on_stop(struct loop *loop, void *ud)
{
    int *n = ud;
    (*n)++;
    loop_stop(loop);
}

START_TEST(test_stop)
{
    struct loop *loop = loop_new();
    int n = 0;

    loop_timer_add(loop, 5, on_stop, &n);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(n, 1);
    /* loop_run() clears an earlier stop. */
    loop_timer_add(loop, 0, on_stop, &n);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(n, 2);
    loop_free(&loop);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_timer_order);
    tcase_add_test(tc, test_timer_cancel);
    tcase_add_test(tc, test_rearm_does_not_starve);
    tcase_add_test(tc, test_del_fd_in_batch);
    tcase_add_test(tc, test_stop);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}

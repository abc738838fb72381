/* check_iqwait.c - the registry of our own iqs awaiting answers: matching
 * by id and sender, forged and late answers, exactly one callback,
 * cancel, expiry in order of deadline, many requests. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_iqwait.h"
#include "cs_util.h"
#include "cs_xml.h"
#include "testutil.h"

/* What one request's callback saw. */
struct seen {
    int calls;
    bool answered; /* with an iq, else NULL */
    char type[16];
    int64_t now_ms;
    int order; /* when it was called, counted over the test */
};

static int calls_so_far;

static void on_done(void *ud, const struct xml_node *answer, int64_t now_ms)
{
    struct seen *s = ud;
    s->calls++;
    s->answered = answer != NULL;
    s->type[0] = '\0';
    if (answer && xml_attr(answer, "type"))
        cs_strlcpy(s->type, xml_attr(answer, "type"), sizeof(s->type));
    s->now_ms = now_ms;
    s->order = ++calls_so_far;
}

/* Offers <iq type=type from=from id=id/> to the registry. */
static bool answer(struct iqwait *w, const char *type, const char *from, const char *id,
                   int64_t now_ms)
{
    struct strbuf xml = {0};
    struct xml_node *iq;
    bool taken;
    strbuf_printf(&xml, "<iq type='%s'", type);
    if (from)
        strbuf_printf(&xml, " from='%s'", from);
    strbuf_printf(&xml, " to='status.a.test' id='%s'/>", id);
    iq = test_parse_stanza(xml.data);
    {
        struct stanza_in in;
        stanza_in_parse(&in, iq, now_ms);
        taken = iqwait_answer(w, &in);
        stanza_in_deinit(&in);
    }
    xml_free(iq);
    strbuf_free(&xml);
    return taken;
}

START_TEST(test_matched_by_id_and_from)
{
    struct iqwait *w = iqwait_new();
    struct seen a = {0}, b = {0};
    char ida[IQWAIT_ID_MAX], idb[IQWAIT_ID_MAX];
    cs_strlcpy(ida, iqwait_add(w, "ur", "u1@a.test", 31000, on_done, &a), sizeof(ida));
    cs_strlcpy(idb, iqwait_add(w, "ur", "u2@a.test", 31000, on_done, &b), sizeof(idb));
    ck_assert_str_ne(ida, idb);
    ck_assert_int_eq(strncmp(ida, "ur", 2), 0);
    ck_assert_uint_eq(iqwait_pending(w), 2);
    /* b's id from a's address: not b's answer, and not a's either. */
    ck_assert(!answer(w, "result", "u1@a.test", idb, 2000));
    ck_assert_int_eq(a.calls + b.calls, 0);
    ck_assert(answer(w, "result", "u1@a.test", ida, 2000));
    ck_assert_int_eq(a.calls, 1);
    ck_assert(a.answered);
    ck_assert_str_eq(a.type, "result");
    ck_assert_int_eq(a.now_ms, 2000);
    ck_assert_uint_eq(iqwait_pending(w), 1);
    /* The same answer again: nothing pending under that id. */
    ck_assert(!answer(w, "result", "u1@a.test", ida, 2100));
    ck_assert_int_eq(a.calls, 1);
    /* An error is an answer too. */
    ck_assert(answer(w, "error", "u2@a.test", idb, 2200));
    ck_assert_int_eq(b.calls, 1);
    ck_assert_str_eq(b.type, "error");
    ck_assert_uint_eq(iqwait_pending(w), 0);
    /* Unknown ids, and no id at all. */
    ck_assert(!answer(w, "result", "u1@a.test", "ur999", 2300));
    {
        struct xml_node *iq = test_parse_stanza("<iq type='result' from='u1@a.test'/>");
        struct stanza_in in;
        stanza_in_parse(&in, iq, 2300);
        ck_assert(!iqwait_answer(w, &in));
        stanza_in_deinit(&in);
        xml_free(iq);
    }
    iqwait_free(&w);
    ck_assert_ptr_null(w);
}
END_TEST

START_TEST(test_forged_from_ignored)
{
    struct iqwait *w = iqwait_new();
    struct seen s = {0};
    char id[IQWAIT_ID_MAX];
    cs_strlcpy(id, iqwait_add(w, "fed-disco-", "status.b.test", 30000, on_done, &s), sizeof(id));
    /* Somebody else, an account or a resource at that domain, another
     * domain, no 'from', an unparseable one: none is the domain. */
    ck_assert(!answer(w, "result", "mallory@evil.test", id, 1000));
    ck_assert(!answer(w, "result", "x@status.b.test", id, 1000));
    ck_assert(!answer(w, "result", "status.b.test/r", id, 1000));
    ck_assert(!answer(w, "result", "status.c.test", id, 1000));
    ck_assert(!answer(w, "error", NULL, id, 1000));
    ck_assert(!answer(w, "result", "a@@b", id, 1000));
    /* A request is not an answer, whoever sends it. */
    ck_assert(!answer(w, "get", "status.b.test", id, 1000));
    ck_assert(!answer(w, "set", "status.b.test", id, 1000));
    ck_assert_int_eq(s.calls, 0);
    ck_assert_uint_eq(iqwait_pending(w), 1);
    /* The forgeries left the request pending: the domain's answer counts,
     * compared normalised (case, a trailing dot). */
    ck_assert(answer(w, "result", "Status.B.Test.", id, 1500));
    ck_assert_int_eq(s.calls, 1);
    ck_assert(s.answered);
    iqwait_free(&w);
}
END_TEST

START_TEST(test_to_normalised)
{
    struct iqwait *w = iqwait_new();
    struct seen s = {0};
    char id[IQWAIT_ID_MAX];
    cs_strlcpy(id, iqwait_add(w, "ur", "U1@A.Test", 30000, on_done, &s), sizeof(id));
    ck_assert(!answer(w, "result", "u1@a.test/pc", id, 1000)); /* asked the bare address */
    ck_assert(answer(w, "result", "u1@a.test", id, 1000));
    ck_assert_int_eq(s.calls, 1);
    /* Nothing is registered for an address that is none, or a prefix too
     * long for the ids. */
    ck_assert_ptr_null(iqwait_add(w, "ur", "not a jid@@", 30000, on_done, &s));
    ck_assert_ptr_null(iqwait_add(w, "ur", "", 30000, on_done, &s));
    ck_assert_ptr_null(iqwait_add(w, "a-very-long-prefix-", "u1@a.test", 30000, on_done, &s));
    ck_assert_uint_eq(iqwait_pending(w), 0);
    iqwait_free(&w);
}
END_TEST

START_TEST(test_expiry_and_late_answers)
{
    struct iqwait *w = iqwait_new();
    struct seen a = {0}, b = {0}, c = {0};
    char ida[IQWAIT_ID_MAX], idb[IQWAIT_ID_MAX];
    cs_strlcpy(ida, iqwait_add(w, "ur", "u1@a.test", 2000, on_done, &a), sizeof(ida));
    cs_strlcpy(idb, iqwait_add(w, "ur", "u2@a.test", 1000, on_done, &b), sizeof(idb));
    iqwait_add(w, "ur", "u3@a.test", 5000, on_done, &c);
    iqwait_expire(w, 999);
    ck_assert_int_eq(a.calls + b.calls + c.calls, 0);
    /* Due at its deadline, not before. */
    iqwait_expire(w, 1000);
    ck_assert_int_eq(b.calls, 1);
    ck_assert(!b.answered);
    ck_assert_int_eq(b.now_ms, 1000);
    ck_assert_int_eq(a.calls + c.calls, 0);
    /* A late answer is not delivered. */
    ck_assert(!answer(w, "result", "u2@a.test", idb, 1100));
    ck_assert_int_eq(b.calls, 1);
    /* Expired in order of deadline, each once. */
    iqwait_expire(w, 10000);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_lt(a.order, c.order);
    ck_assert(!a.answered && !c.answered);
    iqwait_expire(w, 20000);
    ck_assert_int_eq(a.calls + b.calls + c.calls, 3);
    ck_assert(!answer(w, "result", "u1@a.test", ida, 20000));
    ck_assert_uint_eq(iqwait_pending(w), 0);
    iqwait_free(&w);
}
END_TEST

START_TEST(test_cancel)
{
    struct iqwait *w = iqwait_new();
    struct seen a = {0}, b = {0};
    char ida[IQWAIT_ID_MAX], idb[IQWAIT_ID_MAX];
    cs_strlcpy(ida, iqwait_add(w, "ur", "u1@a.test", 1000, on_done, &a), sizeof(ida));
    cs_strlcpy(idb, iqwait_add(w, "ur", "u1@a.test", 1000, on_done, &b), sizeof(idb));
    ck_assert(iqwait_cancel(w, ida));
    ck_assert(!iqwait_cancel(w, ida));
    ck_assert(!iqwait_cancel(w, "nope"));
    ck_assert(!answer(w, "result", "u1@a.test", ida, 500));
    iqwait_expire(w, 5000);
    ck_assert_int_eq(a.calls, 0); /* never called */
    ck_assert_int_eq(b.calls, 1);
    /* Answered or expired: nothing left to cancel. */
    ck_assert(!iqwait_cancel(w, idb));
    iqwait_free(&w);
}
END_TEST

/* Callbacks that change the registry while it calls them back. */
struct chain {
    struct iqwait *w;
    char victim[IQWAIT_ID_MAX]; /* cancelled by the first callback */
    struct seen added;          /* a request the first callback adds */
    int calls;
};

static struct chain chain;

static void on_first(void *ud, const struct xml_node *answer_iq, int64_t now_ms)
{
    chain.calls++;
    ck_assert(iqwait_cancel(chain.w, chain.victim));
    /* Already due, but added during this expiry: waits for the next. */
    ck_assert_ptr_nonnull(iqwait_add(chain.w, "x", "u9@a.test", now_ms - 1, on_done, &chain.added));
}

static void on_victim(void *ud, const struct xml_node *answer_iq, int64_t now_ms)
{
    ck_abort_msg("a cancelled request was called back");
}

START_TEST(test_callbacks_change_the_registry)
{
    struct seen last = {0};
    memset(&chain, 0, sizeof(chain));
    chain.w = iqwait_new();
    iqwait_add(chain.w, "x", "u1@a.test", 1000, on_first, NULL);
    cs_strlcpy(chain.victim, iqwait_add(chain.w, "x", "u2@a.test", 1000, on_victim, NULL),
               sizeof(chain.victim));
    iqwait_add(chain.w, "x", "u3@a.test", 1000, on_done, &last);
    iqwait_expire(chain.w, 1000);
    ck_assert_int_eq(chain.calls, 1);
    ck_assert_int_eq(last.calls, 1);
    ck_assert_int_eq(chain.added.calls, 0);
    ck_assert_uint_eq(iqwait_pending(chain.w), 1);
    iqwait_expire(chain.w, 1000);
    ck_assert_int_eq(chain.added.calls, 1);
    ck_assert_uint_eq(iqwait_pending(chain.w), 0);
    iqwait_free(&chain.w);
}
END_TEST

#define MANY 20000

START_TEST(test_many_pending)
{
    struct iqwait *w = iqwait_new();
    static struct seen s[MANY];
    static char ids[MANY][IQWAIT_ID_MAX];
    char to[64];
    int64_t last_deadline = -1;
    memset(s, 0, sizeof(s));
    calls_so_far = 0;
    /* Two callers with their own timeouts, interleaved: deadlines come in
     * order per caller, out of order overall. */
    for (int i = 0; i < MANY; i++) {
        int64_t deadline = i % 2 ? 30000 + i : 10000 + 3 * i;
        snprintf(to, sizeof(to), "user%d@a.test", i);
        cs_strlcpy(ids[i], iqwait_add(w, i % 2 ? "ur" : "fed-disco-", to, deadline, on_done, &s[i]),
                   sizeof(ids[i]));
    }
    ck_assert_uint_eq(iqwait_pending(w), MANY);
    /* Every id is different. */
    for (int i = 1; i < MANY; i++)
        ck_assert_str_ne(ids[i], ids[i - 1]);
    /* A third answered; some forged first. */
    for (int i = 0; i < MANY; i += 3) {
        snprintf(to, sizeof(to), "user%d@a.test", i + 1);
        ck_assert(!answer(w, "result", to, ids[i], 5000));
        snprintf(to, sizeof(to), "user%d@a.test", i);
        ck_assert(answer(w, "result", to, ids[i], 5000));
    }
    /* The rest expire, second by second, each once and never early: the
     * calls so far are exactly those due (one check per second; each
     * callback is checked once below). */
    for (int64_t now = 5000; now <= 80000; now += 1000) {
        int due = 0, called = 0;
        iqwait_expire(w, now);
        for (int i = 0; i < MANY; i++) {
            int64_t deadline = i % 2 ? 30000 + i : 10000 + 3 * i;
            if (i % 3 == 0)
                continue;
            due += deadline <= now;
            called += s[i].calls;
            if (s[i].calls > (deadline <= now ? 1 : 0))
                ck_abort_msg("request %d called %d time(s) at %lld, due at %lld", i, s[i].calls,
                             (long long)now, (long long)deadline);
        }
        ck_assert_int_eq(called, due);
    }
    ck_assert_uint_eq(iqwait_pending(w), 0);
    for (int i = 0; i < MANY; i++) {
        ck_assert_int_eq(s[i].calls, 1);
        ck_assert(s[i].answered == (i % 3 == 0));
    }
    /* Within one expiry, in order of deadline. */
    {
        struct seen *by_order[MANY + 1] = {0};
        for (int i = 0; i < MANY; i++)
            if (i % 3 != 0)
                by_order[s[i].order] = &s[i];
        for (int k = 1; k <= MANY; k++) {
            if (by_order[k] == NULL)
                continue;
            int i = (int)(by_order[k] - s);
            int64_t deadline = i % 2 ? 30000 + i : 10000 + 3 * i;
            ck_assert_int_ge(deadline, last_deadline);
            last_deadline = deadline;
        }
    }
    iqwait_free(&w);
}
END_TEST

START_TEST(test_free_with_pending)
{
    struct iqwait *w = iqwait_new();
    struct seen s = {0};
    for (int i = 0; i < 100; i++)
        iqwait_add(w, "ur", "u1@a.test", 1000 + i, on_done, &s);
    iqwait_free(&w); /* the callers' matter: no callbacks */
    ck_assert_int_eq(s.calls, 0);
    iqwait_free(&w); /* NULL-safe */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("iqwait");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_matched_by_id_and_from);
    tcase_add_test(tc, test_forged_from_ignored);
    tcase_add_test(tc, test_to_normalised);
    tcase_add_test(tc, test_expiry_and_late_answers);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_callbacks_change_the_registry);
    tcase_add_test(tc, test_many_pending);
    tcase_add_test(tc, test_free_with_pending);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}

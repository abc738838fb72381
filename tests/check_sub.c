/* check_sub.c - every row of the RFC 6121 Appendix A transition table,
 * pre-approval (3.4), and the mapping onto roster columns. */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "cs_error.h"
#include "cs_sub.h"
#include "testutil.h"

#define N SUB_NONE
#define NO SUB_NONE_OUT
#define NI SUB_NONE_IN
#define NOI SUB_NONE_OUT_IN
#define T SUB_TO
#define TI SUB_TO_IN
#define F SUB_FROM
#define FO SUB_FROM_OUT
#define B SUB_BOTH
#define D SUB_ACT_DELIVER
#define S SUB_ACT_SEND
#define ST SUB_ACT_SEND_STATUS
#define U SUB_ACT_SEND_UNAVAILABLE
#define A SUB_ACT_AUTO_SUBSCRIBED

/* Expected rows, written out from RFC 6121 Appendix A independently of
 * src/rules/sub.c: {event, from, to, actions}. */
/* clang-format off */
static const struct {
    enum sub_event ev;
    enum sub_state from, to;
    unsigned act;
} rows[] = {
    /* A.2.1 inbound subscribe */
    {SUB_IN_SUBSCRIBE, N, NI, D}, {SUB_IN_SUBSCRIBE, NO, NOI, D},
    {SUB_IN_SUBSCRIBE, NI, NI, 0}, {SUB_IN_SUBSCRIBE, NOI, NOI, 0},
    {SUB_IN_SUBSCRIBE, T, TI, D}, {SUB_IN_SUBSCRIBE, TI, TI, 0},
    {SUB_IN_SUBSCRIBE, F, F, A | ST}, {SUB_IN_SUBSCRIBE, FO, FO, A | ST},
    {SUB_IN_SUBSCRIBE, B, B, A | ST},
    /* A.2.2 inbound unsubscribe */
    {SUB_IN_UNSUBSCRIBE, N, N, 0}, {SUB_IN_UNSUBSCRIBE, NO, NO, 0},
    {SUB_IN_UNSUBSCRIBE, NI, N, D}, {SUB_IN_UNSUBSCRIBE, NOI, NO, D},
    {SUB_IN_UNSUBSCRIBE, T, T, 0}, {SUB_IN_UNSUBSCRIBE, TI, T, D},
    {SUB_IN_UNSUBSCRIBE, F, N, D | U}, {SUB_IN_UNSUBSCRIBE, FO, NO, D | U},
    {SUB_IN_UNSUBSCRIBE, B, T, D | U},
    /* A.2.3 inbound subscribed */
    {SUB_IN_SUBSCRIBED, N, N, 0}, {SUB_IN_SUBSCRIBED, NO, T, D},
    {SUB_IN_SUBSCRIBED, NI, NI, 0}, {SUB_IN_SUBSCRIBED, NOI, TI, D},
    {SUB_IN_SUBSCRIBED, T, T, 0}, {SUB_IN_SUBSCRIBED, TI, TI, 0},
    {SUB_IN_SUBSCRIBED, F, F, 0}, {SUB_IN_SUBSCRIBED, FO, B, D},
    {SUB_IN_SUBSCRIBED, B, B, 0},
    /* A.2.4 inbound unsubscribed */
    {SUB_IN_UNSUBSCRIBED, N, N, 0}, {SUB_IN_UNSUBSCRIBED, NO, N, D},
    {SUB_IN_UNSUBSCRIBED, NI, NI, 0}, {SUB_IN_UNSUBSCRIBED, NOI, NI, D},
    {SUB_IN_UNSUBSCRIBED, T, N, D}, {SUB_IN_UNSUBSCRIBED, TI, NI, D},
    {SUB_IN_UNSUBSCRIBED, F, F, 0}, {SUB_IN_UNSUBSCRIBED, FO, F, D},
    {SUB_IN_UNSUBSCRIBED, B, F, D},
    /* A.1.1 outbound subscribe */
    {SUB_OUT_SUBSCRIBE, N, NO, S}, {SUB_OUT_SUBSCRIBE, NO, NO, S},
    {SUB_OUT_SUBSCRIBE, NI, NOI, S}, {SUB_OUT_SUBSCRIBE, NOI, NOI, S},
    {SUB_OUT_SUBSCRIBE, T, T, S}, {SUB_OUT_SUBSCRIBE, TI, TI, S},
    {SUB_OUT_SUBSCRIBE, F, FO, S}, {SUB_OUT_SUBSCRIBE, FO, FO, S},
    {SUB_OUT_SUBSCRIBE, B, B, S},
    /* A.1.2 outbound unsubscribe */
    {SUB_OUT_UNSUBSCRIBE, N, N, S}, {SUB_OUT_UNSUBSCRIBE, NO, N, S},
    {SUB_OUT_UNSUBSCRIBE, NI, NI, S}, {SUB_OUT_UNSUBSCRIBE, NOI, NI, S},
    {SUB_OUT_UNSUBSCRIBE, T, N, S}, {SUB_OUT_UNSUBSCRIBE, TI, NI, S},
    {SUB_OUT_UNSUBSCRIBE, F, F, S}, {SUB_OUT_UNSUBSCRIBE, FO, F, S},
    {SUB_OUT_UNSUBSCRIBE, B, F, S},
    /* A.1.3 outbound subscribed */
    {SUB_OUT_SUBSCRIBED, N, N, 0}, {SUB_OUT_SUBSCRIBED, NO, NO, 0},
    {SUB_OUT_SUBSCRIBED, NI, F, S | ST}, {SUB_OUT_SUBSCRIBED, NOI, FO, S | ST},
    {SUB_OUT_SUBSCRIBED, T, T, 0}, {SUB_OUT_SUBSCRIBED, TI, B, S | ST},
    {SUB_OUT_SUBSCRIBED, F, F, 0}, {SUB_OUT_SUBSCRIBED, FO, FO, 0},
    {SUB_OUT_SUBSCRIBED, B, B, 0},
    /* A.1.4 outbound unsubscribed */
    {SUB_OUT_UNSUBSCRIBED, N, N, 0}, {SUB_OUT_UNSUBSCRIBED, NO, NO, 0},
    {SUB_OUT_UNSUBSCRIBED, NI, N, S}, {SUB_OUT_UNSUBSCRIBED, NOI, NO, S},
    {SUB_OUT_UNSUBSCRIBED, T, T, 0}, {SUB_OUT_UNSUBSCRIBED, TI, T, S},
    {SUB_OUT_UNSUBSCRIBED, F, N, S | U}, {SUB_OUT_UNSUBSCRIBED, FO, NO, S | U},
    {SUB_OUT_UNSUBSCRIBED, B, T, S | U},
};
/* clang-format on */

START_TEST(test_row)
{
    struct sub_row r = {.state = rows[_i].from, .approved = false};
    unsigned act = sub_apply(&r, rows[_i].ev);
    ck_assert_msg(r.state == rows[_i].to && act == rows[_i].act,
                  "%s in %s: got %s/%#x, want %s/%#x", sub_event_name(rows[_i].ev),
                  sub_state_name(rows[_i].from), sub_state_name(r.state), act,
                  sub_state_name(rows[_i].to), rows[_i].act);
}
END_TEST

START_TEST(test_table_complete)
{
    /* Every (event, state) pair appears exactly once above. */
    int seen[SUB_EVENT_COUNT][SUB_STATE_COUNT] = {{0}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        seen[rows[i].ev][rows[i].from]++;
    for (int e = 0; e < SUB_EVENT_COUNT; e++)
        for (int s = 0; s < SUB_STATE_COUNT; s++)
            ck_assert_int_eq(seen[e][s], 1);
}
END_TEST

START_TEST(test_preapproval)
{
    /* 3.4: approve before the request, then the request is granted at once. */
    struct sub_row r = {N, false};
    ck_assert_uint_eq(sub_apply(&r, SUB_OUT_SUBSCRIBED), 0);
    ck_assert(r.approved);
    ck_assert_int_eq(r.state, N);
    ck_assert_uint_eq(sub_apply(&r, SUB_IN_SUBSCRIBE), SUB_ACT_PREAPPROVED | ST);
    ck_assert_int_eq(r.state, F);
    ck_assert(!r.approved);

    r = (struct sub_row){NO, false};
    sub_apply(&r, SUB_OUT_SUBSCRIBED);
    ck_assert_uint_eq(sub_apply(&r, SUB_IN_SUBSCRIBE), SUB_ACT_PREAPPROVED | ST);
    ck_assert_int_eq(r.state, FO);

    r = (struct sub_row){T, false};
    sub_apply(&r, SUB_OUT_SUBSCRIBED);
    ck_assert(r.approved);
    ck_assert_uint_eq(sub_apply(&r, SUB_IN_SUBSCRIBE), SUB_ACT_PREAPPROVED | ST);
    ck_assert_int_eq(r.state, B);

    /* An unsubscribed cancels the pre-approval. */
    r = (struct sub_row){N, false};
    sub_apply(&r, SUB_OUT_SUBSCRIBED);
    sub_apply(&r, SUB_OUT_UNSUBSCRIBED);
    ck_assert(!r.approved);
    ck_assert_uint_eq(sub_apply(&r, SUB_IN_SUBSCRIBE), D);
    ck_assert_int_eq(r.state, NI);

    /* Approving a pending request is not a pre-approval. */
    r = (struct sub_row){NI, false};
    sub_apply(&r, SUB_OUT_SUBSCRIBED);
    ck_assert(!r.approved);
    ck_assert_int_eq(r.state, F);
}
END_TEST

START_TEST(test_columns_roundtrip)
{
    for (int s = 0; s < SUB_STATE_COUNT; s++) {
        const char *sub;
        bool ask, in;
        struct sub_row r;
        sub_to_columns((enum sub_state)s, &sub, &ask, &in);
        ck_assert_int_eq(sub_from_columns(sub, ask, in, &r), 0);
        ck_assert_int_eq(r.state, s);
    }
    struct sub_row r;
    /* The combinations the schema's CHECKs reject. */
    ck_assert_int_eq(sub_from_columns("both", true, false, &r), CS_EINVAL);
    ck_assert_int_eq(sub_from_columns("both", false, true, &r), CS_EINVAL);
    ck_assert_int_eq(sub_from_columns("to", true, false, &r), CS_EINVAL);
    ck_assert_int_eq(sub_from_columns("from", false, true, &r), CS_EINVAL);
    ck_assert_int_eq(sub_from_columns("maybe", false, false, &r), CS_EINVAL);
    ck_assert(sub_is_watcher(F) && sub_is_watcher(FO) && sub_is_watcher(B));
    ck_assert(!sub_is_watcher(T) && !sub_is_watcher(NI));
    ck_assert(sub_has_to(T) && sub_has_to(TI) && sub_has_to(B) && !sub_has_to(F));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sub");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_row, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, test_table_complete);
    tcase_add_test(tc, test_preapproval);
    tcase_add_test(tc, test_columns_roundtrip);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}

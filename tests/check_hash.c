/* check_hash.c - the string-keyed hash table: growth, deletion that
 * keeps probe runs intact, iteration. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_hash.h"
#include "cs_util.h"
#include "testutil.h"

#define N 20000

START_TEST(test_put_get_del_grow)
{
    struct hash h = {0};
    static char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        ck_assert_ptr_null(hash_put(&h, keys[i], (void *)(uintptr_t)(i + 1)));
    }
    ck_assert_uint_eq(h.n, N);
    ck_assert_uint_ge(h.cap * 3, h.n * 4); /* load stays under 3/4 */
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(hash_get(&h, keys[i]), (void *)(uintptr_t)(i + 1));
    ck_assert_ptr_null(hash_get(&h, "absent"));
    /* Replacement returns the old value and keeps one entry. */
    ck_assert_ptr_eq(hash_put(&h, keys[7], (void *)(uintptr_t)99), (void *)(uintptr_t)8);
    ck_assert_uint_eq(h.n, N);
    /* Delete every other key: the rest stay reachable (backward shift). */
    for (int i = 0; i < N; i += 2)
        ck_assert_ptr_nonnull(hash_del(&h, keys[i]));
    ck_assert_ptr_null(hash_del(&h, keys[0]));
    ck_assert_uint_eq(h.n, N / 2);
    for (int i = 0; i < N; i++) {
        void *v = hash_get(&h, keys[i]);
        if (i % 2 == 0)
            ck_assert_ptr_null(v);
        else
            ck_assert_ptr_nonnull(v);
    }
    hash_clear(&h);
    ck_assert_uint_eq(h.n, 0);
    ck_assert_ptr_null(hash_get(&h, keys[1]));
}
END_TEST

/* Random operations against a plain array as the reference. */
START_TEST(test_random_against_reference)
{
    struct hash h = {0};
    enum { K = 512 };
    static char keys[K][8];
    int present[K] = {0};
    srand(7);
    for (int i = 0; i < K; i++)
        snprintf(keys[i], sizeof(keys[i]), "%d", i);
    for (int op = 0; op < 200000; op++) {
        int k = rand() % K;
        if (rand() % 2) {
            hash_put(&h, keys[k], (void *)(uintptr_t)(k + 1));
            present[k] = 1;
        } else {
            void *v = hash_del(&h, keys[k]);
            ck_assert_int_eq(v != NULL, present[k]);
            present[k] = 0;
        }
        if (op % 1000 == 0) {
            size_t n = 0;
            for (int i = 0; i < K; i++) {
                ck_assert_int_eq(hash_get(&h, keys[i]) != NULL, present[i]);
                n += (size_t)present[i];
            }
            ck_assert_uint_eq(h.n, n);
        }
    }
    hash_clear(&h);
}
END_TEST

START_TEST(test_iteration)
{
    struct hash h = {0};
    static char keys[100][8];
    size_t pos = 0, seen = 0;
    const char *k;
    void *v;
    long sum = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof(keys[i]), "x%d", i);
        hash_put(&h, keys[i], (void *)(uintptr_t)(i + 1));
    }
    while (hash_next(&h, &pos, &k, &v)) {
        seen++;
        sum += (long)(uintptr_t)v;
    }
    ck_assert_uint_eq(seen, 100);
    ck_assert_int_eq(sum, 5050);
    hash_clear(&h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_put_get_del_grow);
    tcase_add_test(tc, test_random_against_reference);
    tcase_add_test(tc, test_iteration);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}

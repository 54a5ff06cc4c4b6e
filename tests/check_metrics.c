/* placeholder until the metrics suite is written */
#include "testhelp.h"
START_TEST(test_placeholder) { ck_assert(1); }
END_TEST
static Suite *s(void) { Suite *su = suite_create("metrics"); TCase *tc = tcase_create("Core"); tcase_add_test(tc, test_placeholder); suite_add_tcase(su, tc); return su; }
TH_MAIN(s)

/*
 * tests/testlib.h - the one runner every CUnit suite binary uses, and small
 * helpers shared by tests.
 */
#ifndef RF_TESTLIB_H
#define RF_TESTLIB_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Registers the suites, runs them verbosely, prints CUnit's run summary and
 * returns the process exit code: 0 only when no assertion failed.
 */
int test_main(CU_SuiteInfo *suites);

/* Reads a whole file into a malloc'd buffer; NULL on error. */
uint8_t *test_read_file(const char *path, size_t *len);

/* The directory holding test data (tests/data), from RF_TEST_DATA or the
 * source tree. */
const char *test_data_dir(void);

#endif

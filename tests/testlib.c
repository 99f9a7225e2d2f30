/* tests/testlib.c - shared CUnit runner and helpers. */
#include "testlib.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

int
test_main(CU_SuiteInfo *suites)
{
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
		return 2;
	}
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	/* CU_basic_run_tests reports framework errors only, and cleanup
	 * resets the counters: read the failures first. */
	unsigned failures = CU_get_number_of_failures();
	unsigned errors = CU_get_error() != CUE_SUCCESS;
	CU_cleanup_registry();
	return (failures != 0 || errors != 0) ? 1 : 0;
}

uint8_t *
test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	uint8_t *buf = NULL;
	size_t cap = 0;
	size_t n = 0;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, ncap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			break;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

const char *
test_data_dir(void)
{
	const char *d = getenv("RF_TEST_DATA");
	return d != NULL ? d : "tests/data";
}

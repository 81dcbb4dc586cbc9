/* bench_zstd_levels FILE LEVEL...: how fast and how well each zstd level
 * compresses FILE the way mdlsafe's store does (streaming, 1 MiB inputs,
 * frame checksum on, literals coded at the fast levels).
 *
 * This machine's CPU speed drifts by tens of percent over seconds, so the
 * levels are run round robin, 21 rounds, and each reports the median of its
 * process CPU time, not a best wall time. Prints one line per level:
 *	LEVEL  MB/s  ratio
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define ROUNDS 21
#define INPUT ((size_t)1 << 20)

static double cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Compresses data once at level; returns the compressed size, 0 on error. */
static size_t compress_once(const char *data, size_t len, int level, char *out, size_t out_cap)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t total = 0, left, r = 0;

	if (!c)
		return 0;
	r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level));
	if (level < 0)
		r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_literalCompressionMode, ZSTD_ps_enable));
	r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1));
	for (size_t off = 0; off < len && !r; off += INPUT) {
		ZSTD_inBuffer in = { data + off, len - off < INPUT ? len - off : INPUT, 0 };
		while (in.pos < in.size && !r) {
			ZSTD_outBuffer o = { out, out_cap, 0 };
			r |= ZSTD_isError(ZSTD_compressStream2(c, &o, &in, ZSTD_e_continue));
			total += o.pos;
		}
	}
	do {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		ZSTD_outBuffer o = { out, out_cap, 0 };
		left = ZSTD_compressStream2(c, &o, &in, ZSTD_e_end);
		r |= ZSTD_isError(left);
		total += o.pos;
	} while (left && !r);
	ZSTD_freeCCtx(c);
	return r ? 0 : total;
}

int main(int argc, char **argv)
{
	FILE *f;
	char *data, *out;
	long n;
	int levels = argc - 2;
	double (*t)[ROUNDS];
	size_t *sizes, out_cap = ZSTD_CStreamOutSize();

	if (argc < 3) {
		fprintf(stderr, "usage: %s FILE LEVEL...\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[1]);
		return 1;
	}
	data = malloc((size_t)n);
	out = malloc(out_cap);
	t = calloc((size_t)levels, sizeof(*t));
	sizes = calloc((size_t)levels, sizeof(*sizes));
	if (!data || !out || !t || !sizes || fread(data, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[1]);
		return 1;
	}
	fclose(f);
	for (int round = 0; round < ROUNDS; round++)
		for (int i = 0; i < levels; i++) {
			double t0 = cpu_seconds();
			sizes[i] = compress_once(data, (size_t)n, atoi(argv[i + 2]), out, out_cap);
			t[i][round] = cpu_seconds() - t0;
			if (!sizes[i]) {
				fprintf(stderr, "%s: level %s failed\n", argv[0], argv[i + 2]);
				return 1;
			}
		}
	for (int i = 0; i < levels; i++) {
		qsort(t[i], ROUNDS, sizeof(double), by_value);
		printf("%s\t%.0f\t%.3f\n", argv[i + 2], (double)n / t[i][ROUNDS / 2] / 1e6, (double)n / (double)sizes[i]);
	}
	free(data);
	free(out);
	free(t);
	free(sizes);
	return 0;
}

/* tsc-khz: print the host TSC frequency in kHz (prototype helper).
 *
 * Why: under QEMU TCG the guest's RDTSC returns the host TSC, and on microvm
 * (no HPET, no ACPI PM timer) the guest kernel's PIT calibration of the TSC
 * fails intermittently ("tsc: Unable to calibrate against PIT") and the boot
 * then hangs. Passing tsc_early_khz=<this value> on the guest command line
 * avoids the calibration.
 *
 * Method 1: the kernel's own conversion factors from a perf_event mmap page
 *           (cap_user_time: ns = cyc * time_mult >> time_shift), i.e. exactly
 *           the host kernel's tsc_khz. Needs perf_event_open on self, which
 *           perf_event_paranoid <= 2 allows for unprivileged users too.
 * Method 2: measure RDTSC against CLOCK_MONOTONIC_RAW over 20 ms.
 *
 * Build: cc -O2 -o tsc-khz tsc-khz.c
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

static long from_perf(void)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_DUMMY;
	attr.exclude_kernel = 1;
	int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	if (fd < 0)
		return -1;
	long pg = sysconf(_SC_PAGESIZE);
	struct perf_event_mmap_page *p = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	long khz = -1;
	if (p->cap_user_time && p->time_mult)
		/* ns per cycle = mult / 2^shift  =>  kHz = 1e6 * 2^shift / mult */
		khz = (long)(((unsigned __int128)1000000 << p->time_shift) / p->time_mult);
	munmap(p, (size_t)pg);
	return khz;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long measure(void)
{
	double t0 = now_ns();
	uint64_t c0 = __rdtsc();
	struct timespec d = {0, 20 * 1000 * 1000};
	nanosleep(&d, NULL);
	double t1 = now_ns();
	uint64_t c1 = __rdtsc();
	return (long)((double)(c1 - c0) * 1e6 / (t1 - t0));
}

int main(int argc, char **argv)
{
	long khz = (argc > 1 && strcmp(argv[1], "--measure") == 0) ? -1 : from_perf();
	if (khz <= 0)
		khz = measure();
	printf("%ld\n", khz);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * PID 1 of the cross-check's initramfs (bench/crosscheck.py): load
 * /kmap_scenario.ko with the parameters in /params, then power off.
 * Freestanding i386 code with raw system calls, so that no 32-bit C
 * library (and no busybox) is needed: gcc -m32 -static -nostdlib.
 */
#define SYS_exit 1
#define SYS_read 3
#define SYS_write 4
#define SYS_open 5
#define SYS_close 6
#define SYS_reboot 88
#define SYS_finit_module 350

static long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
	return r;
}

static long sys4(long n, long a, long b, long c, long d)
{
	long r;
	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
	return r;
}

static unsigned long len(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(int fd, const char *s)
{
	sys3(SYS_write, fd, (long)s, (long)len(s));
}

static char params[4096];

void _start(void)
{
	int console = sys3(SYS_open, (long)"/dev/console", 2, 0);
	int fd = sys3(SYS_open, (long)"/params", 0, 0);
	long n = fd >= 0 ? sys3(SYS_read, fd, (long)params, sizeof(params) - 1) : 0;
	long rc;
	char num[16];
	int i = 15;

	if (n < 0)
		n = 0;
	while (n > 0 && (params[n - 1] == '\n' || params[n - 1] == ' '))
		n--;
	params[n] = 0;
	fd = sys3(SYS_open, (long)"/kmap_scenario.ko", 0, 0);
	rc = fd < 0 ? fd : sys3(SYS_finit_module, fd, (long)params, 0);
	num[i] = 0;
	{
		unsigned long v = rc < 0 ? -rc : rc;
		do {
			num[--i] = '0' + v % 10;
			v /= 10;
		} while (v);
		if (rc < 0)
			num[--i] = '-';
	}
	if (console >= 0) {
		say(console, "kmap-init: finit_module rc=");
		say(console, num + i);
		say(console, "\n");
	}
	/* LINUX_REBOOT_MAGIC1, MAGIC2, LINUX_REBOOT_CMD_POWER_OFF */
	sys4(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, 0);
	sys3(SYS_exit, 0, 0, 0);
	for (;;)
		;
}

/*
 * kiln's guest init: a tiny static program built against the kernel tree's own
 * nolibc (tools/include/nolibc). It mounts proc, sys and devtmpfs, prints one
 * marker line that identifies the running kernel, optionally runs a command or a
 * shell with busybox, and powers the machine off.
 *
 * With kiln.slot=<A|B> on the command line (a gpt-ab image's slot), the marker says slot=<it>.
 *
 * Modes, from the kernel command line (kiln.mode=...):
 *   smoke (default)  marker, then power off
 *   exec             marker, run /kiln/exec.sh with /bin/sh, print its exit status, power off
 *                    (exec and shell install busybox's applets in /bin and make /bin/modprobe the
 *                    kernel's modprobe, so a module the kernel asks for loads on demand)
 *   shell            marker, interactive /bin/sh on kiln.tty, power off when it exits
 */
#include <linux/reboot.h>

static char cmdline[4096];
static char buf[4096];

static void put(const char *s) { write(1, s, strlen(s)); }

static void putnum(unsigned long v)
{
	char tmp[24];
	int i = sizeof(tmp) - 1;
	tmp[i] = 0;
	do { tmp[--i] = '0' + v % 10; v /= 10; } while (v && i > 0);
	put(tmp + i);
}

static long slurp(const char *path, char *out, long size)
{
	long n = 0, r;
	int fd = open(path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	while (n < size - 1 && (r = read(fd, out + n, size - 1 - n)) > 0)
		n += r;
	close(fd);
	out[n] = 0;
	return n;
}

static void chomp(char *s)
{
	long n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

/* The value of "key=" on the command line, copied into out (empty when absent). */
static void param(const char *key, char *out, long size)
{
	long klen = strlen(key), i = 0, j;
	out[0] = 0;
	while (cmdline[i]) {
		if ((i == 0 || cmdline[i - 1] == ' ') && strncmp(cmdline + i, key, klen) == 0 && cmdline[i + klen] == '=') {
			i += klen + 1;
			for (j = 0; cmdline[i] && cmdline[i] != ' ' && j < size - 1; j++, i++)
				out[j] = cmdline[i];
			out[j] = 0;
			return;
		}
		i++;
	}
}

static unsigned long parse_num(const char **p)
{
	unsigned long v = 0;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (unsigned long)(*(*p)++ - '0');
	return v;
}

/* Counts CPUs in a list like "0-3,5". */
static unsigned long count_cpus(void)
{
	const char *p = buf;
	unsigned long n = 0, a, b;
	if (slurp("/sys/devices/system/cpu/online", buf, sizeof(buf)) <= 0)
		return 0;
	while (*p >= '0' && *p <= '9') {
		a = b = parse_num(&p);
		if (*p == '-') { p++; b = parse_num(&p); }
		n += b - a + 1;
		if (*p != ',')
			break;
		p++;
	}
	return n;
}

static unsigned long mem_kib(void)
{
	const char *p = buf;
	if (slurp("/proc/meminfo", buf, sizeof(buf)) <= 0 || strncmp(buf, "MemTotal:", 9) != 0)
		return 0;
	p += 9;
	while (*p == ' ')
		p++;
	return parse_num(&p);
}

static void mount_one(const char *src, const char *dir, const char *type, int *ok)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, 0) != 0 && errno != EBUSY) {
		*ok = 0;
		put("kiln-init: mount ");
		put(dir);
		put(" failed: errno ");
		putnum((unsigned long)errno);
		put("\n");
	}
}

static int run(char *const argv[])
{
	static char *const envp[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", "TERM=linux", 0 };
	int status = 0;
	pid_t pid = fork();
	if (pid == 0) {
		execve(argv[0], argv, envp);
		put("kiln-init: cannot execute ");
		put(argv[0]);
		put("\n");
		exit(127);
	}
	if (pid < 0)
		return 127;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if ((status & 0x7f) == 0)
		return (status >> 8) & 0xff;
	return 128 + (status & 0x7f);
}

/*
 * The kernel loads a module it needs (a filesystem type at mount, a netdev kind, a char-major
 * at open) by running kernel.modprobe, /sbin/modprobe unless set. busybox --install put modprobe
 * in /bin, so point the kernel there. A kernel without modules has no such file: nothing to do.
 */
static void set_modprobe(void)
{
	int fd = open("/proc/sys/kernel/modprobe", O_WRONLY, 0);
	if (fd < 0)
		return;
	write(fd, "/bin/modprobe\n", 14);
	close(fd);
}

static void power_off(void)
{
	my_syscall0(__NR_sync);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	put("kiln-init: power-off failed\n");
	for (;;)
		sleep(3600);
}

int main(void)
{
	struct utsname u;
	int mounted = 1;
	char mode[32], tty[64], slot[16];

	put("kiln-init: started\n");
	mount_one("proc", "/proc", "proc", &mounted);
	mount_one("sysfs", "/sys", "sysfs", &mounted);
	mount_one("devtmpfs", "/dev", "devtmpfs", &mounted);
	if (slurp("/proc/cmdline", cmdline, sizeof(cmdline)) < 0)
		cmdline[0] = 0;
	chomp(cmdline);
	if (uname(&u) != 0) {
		put("kiln-init: uname failed\n");
		power_off();
	}
	put("KILN-MARKER v1 release=");
	put(u.release);
	put(" machine=");
	put(u.machine);
	put(" cpus=");
	putnum(count_cpus());
	put(" mem_kib=");
	putnum(mem_kib());
	put(" mounts=");
	put(mounted ? "ok" : "failed");
	param("kiln.slot", slot, sizeof(slot));
	if (slot[0]) {
		put(" slot=");
		put(slot);
	}
	put(" cmdline=");
	put(cmdline);
	put("\n");

	param("kiln.mode", mode, sizeof(mode));
	if (strcmp(mode, "exec") == 0 || strcmp(mode, "shell") == 0) {
		static char *const install[] = { "/bin/busybox", "--install", "-s", "/bin", 0 };
		static char *const script[] = { "/bin/sh", "/kiln/exec.sh", 0 };
		static char *const shell[] = { "/bin/sh", "-l", 0 };
		int status;
		run(install);
		set_modprobe();
		if (strcmp(mode, "exec") == 0) {
			put("KILN-EXEC-BEGIN\n");
			status = run(script);
			put("\nKILN-EXEC-END status=");
			putnum((unsigned long)status);
			put("\n");
		} else {
			param("kiln.tty", tty, sizeof(tty));
			if (tty[0]) {
				char path[80] = "/dev/";
				int fd;
				strncat(path, tty, sizeof(path) - 6);
				setsid();
				fd = open(path, O_RDWR, 0);
				if (fd >= 0) {
					ioctl(fd, TIOCSCTTY, (void *)1);
					dup2(fd, 0);
					dup2(fd, 1);
					dup2(fd, 2);
				}
			}
			run(shell);
		}
	}
	power_off();
	return 0;
}

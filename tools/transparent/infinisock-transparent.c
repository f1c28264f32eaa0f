// SPDX-License-Identifier: GPL-2.0
/*
 * infinisock-transparent: attaches and detaches transparent SDP's hook.
 *
 *	infinisock-transparent enable	load the hook and pin its link (it stays
 *					attached after this program exits)
 *	infinisock-transparent disable	unpin it: socket() is TCP's again
 *	infinisock-transparent status	say whether it is attached
 *
 * The hook (infinisock_transparent.bpf.o, looked for next to this program unless
 * INFINISOCK_TRANSPARENT_OBJ names it) asks the infinisock module which protocol each
 * new socket gets; net.infinisock.sdp_transparent decides, per network namespace.
 * Needs the module loaded, CAP_BPF/CAP_SYS_ADMIN and bpffs at /sys/fs/bpf.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define PIN_DIR "/sys/fs/bpf/infinisock"
#define PIN_PATH PIN_DIR "/transparent"
#define OBJ_NAME "infinisock_transparent.bpf.o"

static int object_path(char *out, size_t len)
{
	const char *env = getenv("INFINISOCK_TRANSPARENT_OBJ");
	char exe[PATH_MAX];
	ssize_t n;

	if (env) {
		snprintf(out, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	snprintf(out, len, "%s/%s", dirname(exe), OBJ_NAME);
	return 0;
}

static int status(void)
{
	struct bpf_link_info info;
	__u32 info_len = sizeof(info);
	int fd = bpf_obj_get(PIN_PATH);

	if (fd < 0) {
		printf("transparent SDP hook: not attached\n");
		return 3;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) == 0)
		printf("transparent SDP hook: attached (link %u, program %u)\n", info.id, info.prog_id);
	else
		printf("transparent SDP hook: attached\n");
	close(fd);
	return 0;
}

static int enable(void)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link;
	char path[PATH_MAX];
	int err, fd;

	fd = bpf_obj_get(PIN_PATH);
	if (fd >= 0) {
		close(fd);
		printf("transparent SDP hook: already attached\n");
		return 0;
	}
	err = object_path(path, sizeof(path));
	if (err) {
		fprintf(stderr, "infinisock-transparent: cannot find %s: %s\n", OBJ_NAME, strerror(-err));
		return 1;
	}
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "infinisock-transparent: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr,
			"infinisock-transparent: loading the hook failed: %s (is the infinisock module loaded, "
			"and the kernel built with BTF and MPTCP?)\n", strerror(-err));
		goto out;
	}
	prog = bpf_object__find_program_by_name(obj, "infinisock_transparent");
	link = prog ? bpf_program__attach_trace(prog) : NULL;
	if (!link) {
		err = -errno;
		fprintf(stderr, "infinisock-transparent: attaching the hook failed: %s\n", strerror(errno));
		goto out;
	}
	if (mkdir(PIN_DIR, 0700) && errno != EEXIST) {
		err = -errno;
		fprintf(stderr, "infinisock-transparent: %s: %s (is bpffs mounted?)\n", PIN_DIR, strerror(errno));
		bpf_link__destroy(link);
		goto out;
	}
	err = bpf_link__pin(link, PIN_PATH);
	if (err) {
		fprintf(stderr, "infinisock-transparent: pinning at %s failed: %s\n", PIN_PATH, strerror(-err));
		bpf_link__destroy(link);
		goto out;
	}
	/* The pin keeps the link; our references go. */
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	printf("transparent SDP hook: attached\n");
out:
	bpf_object__close(obj);
	return err ? 1 : 0;
}

static int disable(void)
{
	if (unlink(PIN_PATH)) {
		if (errno == ENOENT) {
			printf("transparent SDP hook: not attached\n");
			return 0;
		}
		fprintf(stderr, "infinisock-transparent: %s: %s\n", PIN_PATH, strerror(errno));
		return 1;
	}
	rmdir(PIN_DIR);
	printf("transparent SDP hook: detached\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "enable"))
		return enable();
	if (argc == 2 && !strcmp(argv[1], "disable"))
		return disable();
	if (argc == 2 && !strcmp(argv[1], "status"))
		return status();
	fprintf(stderr, "usage: %s enable|disable|status\n", argv[0]);
	return 2;
}

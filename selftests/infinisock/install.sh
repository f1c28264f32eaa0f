#!/usr/bin/env bash
# make install's work (tools/install.sh), staged under a DESTDIR: every file lands where
# it belongs, the module installed for the running kernel autoloads on socket() and
# unloads with modprobe -r, the installed header compiles, the installed loader finds
# its hook, the man pages render without warnings, and uninstall leaves nothing behind.
. "$(dirname "$0")/_lib.bash"
TOP=${INFINISOCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
flavour=$(basename "$(dirname "$INFINISOCK_KO")")
kver=$(uname -r)
stage=$(mktemp -d)
prefix=/usr/local
cleanup() {
	"$stage$prefix/lib/infinisock/infinisock-transparent" disable > /dev/null 2>&1
	mountpoint -q /lib/modules && umount /lib/modules
	rm -rf "$stage"
}
trap cleanup EXIT
if module_loaded; then rmmod infinisock || fail "rmmod before the install test"; fi

out=$(DESTDIR=$stage FLAVOUR=$flavour bash "$TOP/tools/install.sh" install 2>&1) || fail "install: $out"
for f in "/lib/modules/$kver/extra/infinisock.ko" $prefix/include/linux/infinisock.h \
	$prefix/lib/infinisock/infinisock-transparent $prefix/lib/infinisock/infinisock_transparent.bpf.o \
	$prefix/bin/infinisock-stat $prefix/share/man/man8/infinisock-stat.8 \
	$prefix/bin/infinisock-ss $prefix/share/man/man8/infinisock-ss.8 \
	$prefix/lib/systemd/system/infinisock-transparent.service \
	$prefix/share/doc/infinisock/examples/modules-load.d/infinisock.conf \
	$prefix/share/doc/infinisock/examples/sysctl.d/90-infinisock.conf \
	$prefix/share/man/man7/sdp.7 $prefix/share/man/man7/af_ib.7 \
	$prefix/share/man/man8/infinisock-transparent.8; do
	[ -s "$stage$f" ] || fail "install left out $f"
done
[ "$(readlink "$stage$prefix/sbin/infinisock-transparent")" = $prefix/lib/infinisock/infinisock-transparent ] ||
	fail "sbin/infinisock-transparent does not link to the loader"
grep -q "^ExecStart=$prefix/lib/infinisock/infinisock-transparent enable" \
	"$stage$prefix/lib/systemd/system/infinisock-transparent.service" || fail "unit's ExecStart"
grep -q 'alias net-pf-27 infinisock' "$stage/lib/modules/$kver/modules.alias" || fail "depmod: no net-pf-27 alias"
pass "install put the module (depmod'ed for $kver), header, hook, unit, examples and man pages in place"

echo '#include <linux/infinisock.h>
int main(void) { return IPPROTO_SDP == 258 && AF_IB == 27 ? 0 : 1; }' |
	gcc -x c -I"$stage$prefix/include" -o "$stage/hdr" - || fail "the installed header does not compile"
"$stage/hdr" || fail "the installed header's values"
pass "the installed uapi header compiles on its own"

for page in man7/sdp.7 man7/af_ib.7 man8/infinisock-transparent.8; do
	warn=$(MANWIDTH=80 man --warnings -l "$stage$prefix/share/man/$page" 2>&1 > /dev/null) ||
		fail "man $page failed: $warn"
	[ -z "$warn" ] || fail "man $page warns: $warn"
	MANWIDTH=80 man -l "$stage$prefix/share/man/$page" 2> /dev/null | grep -q '^NAME' || fail "man $page: no NAME"
done
pass "the man pages render without warnings"

# The running kernel's module tree is the staged one, for the guest alone.
mount --bind "$stage/lib/modules" /lib/modules || fail "cannot stage /lib/modules"
rc=$(socket_errno 27 5 0)
[ "$rc" = 0 ] || fail "socket(AF_IB, SOCK_SEQPACKET) with the installed module: errno $rc"
module_loaded || fail "socket(AF_IB) did not load the installed module"
[ "$(modinfo -F filename infinisock)" = "/lib/modules/$kver/extra/infinisock.ko" ] || fail "modinfo: $(modinfo -F filename infinisock)"
pass "socket(AF_IB) autoloads the installed module"

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || fail "mount bpffs"
loader=$stage$prefix/lib/infinisock/infinisock-transparent
out=$("$loader" enable 2>&1) || fail "installed loader, enable: $out"
"$loader" status | grep -q attached || fail "installed loader, status"
"$loader" disable > /dev/null || fail "installed loader, disable"
pass "the installed loader attaches and detaches the installed hook"

modprobe -r infinisock || fail "modprobe -r"
module_loaded && fail "still loaded after modprobe -r"
umount /lib/modules
pass "modprobe -r unloads it"

out=$(DESTDIR=$stage FLAVOUR=$flavour bash "$TOP/tools/install.sh" uninstall 2>&1) || fail "uninstall: $out"
left=$(cd "$stage" && find . \( -type f -o -type l \) ! -name 'modules.*' ! -name hdr)
[ -z "$left" ] || fail "uninstall left: $left"
[ -e "$stage$prefix/lib/infinisock" ] && fail "uninstall left $prefix/lib/infinisock"
pass "uninstall removes every file it installed"
# The rest of the suite expects the module loaded from the tree.
insmod "$INFINISOCK_KO" || fail "insmod after the install test"

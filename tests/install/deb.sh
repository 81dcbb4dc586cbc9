#!/usr/bin/env bash
# The Debian package built from the tree (CPack): the files of an install
# under /usr, a binary that runs, and as dependencies exactly the runtime
# packages of the shared libraries the binary links (no -dev package).
# It is unpacked, not installed: the machine is left as it was.
#   tests/install/deb.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/install/lib.sh"
bin=$build/mdlsafe

for tool in cpack dpkg-deb dpkg-shlibdeps readelf; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mdlsafe-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

(cd "$build" && cpack -G DEB -B "$scratch/out") >"$scratch/cpack.log" 2>&1 ||
	fail "cpack failed: $(cat "$scratch/cpack.log")"
debs=("$scratch"/out/*.deb)
{ [ "${#debs[@]}" -eq 1 ] && [ -f "${debs[0]}" ]; } || fail "cpack made ${#debs[@]} packages: ${debs[*]}"
deb=${debs[0]}
version=$("$bin" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
[ "${deb##*/}" = "mdlsafe_${version}_$arch.deb" ] || fail "package file is ${deb##*/}"
[ "$(dpkg-deb -f "$deb" Package)" = mdlsafe ] || fail "Package is not mdlsafe"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version is not $version"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture is not $arch"

# Depends: one entry per package owning a library in the binary's NEEDED list.
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
got=$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//' | sort -u)
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
want=$(for lib in $needed; do
	path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
	[ -n "$path" ] || fail "ldd does not resolve $lib"
	dpkg -S "$(realpath "$path")" 2>/dev/null | sed 's/:.*//' | head -n1 ||
		dpkg -S "$path" | sed 's/:.*//' | head -n1
done | sort -u)
[ -n "$want" ] || fail "found no packages for the libraries $needed"
[ "$got" = "$want" ] || fail "Depends names [$(flat "$got")], the linked libraries are in [$(flat "$want")]"
! grep -- '-dev$' <<<"$got" || fail "Depends names a -dev package"
grep -qx libmariadb3 <<<"$got" || fail "Depends does not name libmariadb3"

# The files: an install under /usr, the same list as make install's.
listed=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort)
[ "$listed" = "$(expected_files /usr "$bin")" ] ||
	fail "package files differ:$(diff <(expected_files /usr "$bin") <(echo "$listed") | sed 's/^/\n  /')"

# Unpacked, the binary runs and the unit starts it.
dpkg-deb -x "$deb" "$scratch/root"
out=$("$scratch/root/usr/bin/mdlsafe" --version) || fail "the packaged binary does not run: $out"
[ "$out" = "$("$bin" --version)" ] || fail "packaged --version says '$out'"
grep -q '^ExecStart=/usr/bin/mdlsafe guard ' "$scratch/root/usr/lib/systemd/system/mdlsafe-guard.service" ||
	fail "the packaged unit's ExecStart is not /usr/bin/mdlsafe"
echo "deb: ok (${deb##*/}, $(du -k "$deb" | cut -f1) KiB)"

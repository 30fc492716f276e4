#!/usr/bin/env bash
# Compares one exec of /bin/true through our local backend with the same
# exec through bubblewrap, for the README. Not run by `go test`.
#
#   bench/bwrap.sh [iterations]     (default 200)
#
# It installs bubblewrap from the Debian archive when bwrap is missing
# (needs root and apt-get), times N starts of `/bin/true` plainly and
# through `bwrap --unshare-all` from a bash loop, runs our BenchmarkExec/true
# (which measures plain os/exec in the same run), and prints:
#   - bwrap's ratio to a plain start from bash,
#   - our ratio to a plain os/exec start,
#   - our absolute time per exec divided by bwrap's.
set -euo pipefail

n=${1:-200}
here=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v bwrap >/dev/null 2>&1; then
	echo "bwrap not found: installing bubblewrap" >&2
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "need root and apt-get to install bubblewrap; install it and rerun" >&2
		exit 2
	fi
	apt-get update && apt-get install -y bubblewrap
fi

bwrap_args=(--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all --die-with-parent --new-session)
if ! bwrap "${bwrap_args[@]}" /bin/true 2>/dev/null; then
	echo "bwrap cannot create its namespaces here:" >&2
	bwrap "${bwrap_args[@]}" /bin/true || true
	exit 2
fi

# loop_ns CMD...: mean ns per run of CMD over n runs (after 5 warm-up runs).
loop_ns() {
	local i start end
	for ((i = 0; i < 5; i++)); do "$@" >/dev/null; done
	start=$(date +%s%N)
	for ((i = 0; i < n; i++)); do "$@" >/dev/null; done
	end=$(date +%s%N)
	echo $(((end - start) / n))
}

# Interleave two rounds of each so that drift hits both.
p1=$(loop_ns /bin/true)
w1=$(loop_ns bwrap "${bwrap_args[@]}" /bin/true)
p2=$(loop_ns /bin/true)
w2=$(loop_ns bwrap "${bwrap_args[@]}" /bin/true)
plain_sh=$(((p1 + p2) / 2))
bwrap_ns=$(((w1 + w2) / 2))

line=$(cd "$here" && go test -run '^$' -bench '^BenchmarkExec$/^true$' -benchtime "${n}x" . | grep '^BenchmarkExec/true')
ours_ns=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") {print $i; exit}}' <<<"$line")
plain_go=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "plain-ns/op") {print $i; exit}}' <<<"$line")

machine="$(nproc) CPUs, $(uname -sr), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
awk -v machine="$machine" -v n="$n" -v ps="$plain_sh" -v bw="$bwrap_ns" -v ours="$ours_ns" -v pg="$plain_go" 'BEGIN {
	printf "machine: %s\n", machine
	printf "iterations: %d\n", n
	printf "plain /bin/true from bash:      %8.3f ms\n", ps / 1e6
	printf "bwrap --unshare-all /bin/true:  %8.3f ms  (%.2fx plain)\n", bw / 1e6, bw / ps
	printf "plain os/exec /bin/true:        %8.3f ms\n", pg / 1e6
	printf "sandbox local backend:          %8.3f ms  (%.2fx plain os/exec)\n", ours / 1e6, ours / pg
	printf "ours / bwrap:                   %8.2f\n", ours / bw
}'

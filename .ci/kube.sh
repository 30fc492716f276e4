#!/usr/bin/env bash
# Checks of the Kubernetes backend (the nested module kube/): builds and
# caches kube-apiserver and etcd from the Go module proxy, then runs vet,
# staticcheck and the tests with KUBEBUILDER_ASSETS pointing at them, so the
# real-control-plane tests run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

k8s_version=v1.37.2  # kube-apiserver; the staging modules are v0.37.x
staging_version=v0.37.2
etcd_version=v3.7.0  # the version kubernetes $k8s_version pins
agent_sandbox_version=v0.1.1  # its CRD checks the backend's Sandbox objects
cache_root=${GO_SANDBOX_CI_CACHE:-/var/cache/go-sandbox-ci}
assets=$cache_root/kube-$k8s_version-etcd-$etcd_version

kstep() { printf '\n--- kube: %s\n' "$*"; }

build_assets() {
  # Builds in a scratch module: kubernetes' own go.mod replaces its staging
  # modules with ./staging paths, which only resolve inside its repository,
  # so every one is replaced here by the published module at the same
  # version (go install pkg@version refuses modules with replace directives).
  local scratch
  scratch=$(mktemp -d /tmp/kube-assets.XXXXXX)
  (
    cd "$scratch"
    export GOFLAGS=-mod=mod
    go mod init kube-assets >/dev/null 2>&1
    kdir=$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$kdir" ] || { echo "cannot download k8s.io/kubernetes@$k8s_version"; exit 1; }
    go mod edit -require="k8s.io/kubernetes@$k8s_version"
    for m in $(sed -n 's/^\t\(k8s.io\/[a-z0-9-]*\) => \.\/staging\/.*/\1/p' "$kdir/go.mod"); do
      case $m in k8s.io/sample-cli-plugin|k8s.io/sample-controller) continue ;; esac
      go mod edit -replace="$m=$m@$staging_version"
    done
    printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > tools.go
    go mod tidy
    go get "go.etcd.io/etcd/server/v3@$etcd_version"
    mkdir -p bin
    go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version \
      -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" \
      -o bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
    go build -trimpath -ldflags "-s -w" -o bin/etcd go.etcd.io/etcd/server/v3
  )
  mkdir -p "$cache_root"
  rm -rf "$assets.tmp"
  mv "$scratch/bin" "$assets.tmp"
  # The rename makes the cache entry appear whole or not at all, so an
  # interrupted build is never mistaken for a finished one.
  mv "$assets.tmp" "$assets"
  rm -rf "$scratch"
}

kstep "control-plane binaries ($assets)"
if [ -x "$assets/kube-apiserver" ] && [ -x "$assets/etcd" ]; then
  echo "cached"
else
  start=$(date +%s)
  build_assets
  echo "built in $(( $(date +%s) - start ))s"
fi
"$assets/kube-apiserver" --version
"$assets/etcd" --version | head -1

if [ "${1:-}" = "--assets-only" ]; then exit 0; fi

kstep "agent-sandbox CRDs (sigs.k8s.io/agent-sandbox@$agent_sandbox_version)"
# Read from the module itself (the module cache keeps it between runs).
scratch=$(mktemp -d)
crd_dir=$(cd "$scratch" && go mod download -json "sigs.k8s.io/agent-sandbox@$agent_sandbox_version" |
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')/k8s/crds
rm -rf "$scratch"
ls "$crd_dir"

cd kube
export GOFLAGS=-mod=readonly KUBEBUILDER_ASSETS=$assets AGENT_SANDBOX_CRDS=$crd_dir

kstep "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "not gofmt-formatted:"; echo "$unformatted"; exit 1; fi

kstep "go vet"
go vet ./...

kstep "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

kstep "go test ./... (with KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS)"
go test -count=1 ./...

kstep "race detector on the backend"
go test -race -count=1 ./...

kstep "the example builds (it needs a cluster to run: see kube/README.md)"
go build -o /dev/null ./examples/...

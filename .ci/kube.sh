#!/usr/bin/env bash
# A real single-node Kubernetes with the Chaos Mesh controller, for the
# Kubernetes tests of cloudtest (docs/kubernetes.md).
#
#   bash .ci/kube.sh build   build (or find cached) binaries and images only
#   bash .ci/kube.sh up      clean leftovers, build, start, wait until ready
#   bash .ci/kube.sh down    stop everything and undo what `up` changed
#   bash .ci/kube.sh status  say whether the cluster is up
#
# Binaries are built from the Go module proxy and cached by version under
# $CLOUDTEST_K8S_CACHE (default /var/cache/cloudtest-k8s), which survives
# between CI runs on the same machine. The cluster lives in
# $CLOUDTEST_K8S_HOME (default /var/lib/cloudtest-k8s) and is removed by
# `down`. The admin kubeconfig is written to $CLOUDTEST_K8S_HOME/admin.kubeconfig.
# Needs root, Docker (to build the FROM-scratch images) and Debian's apt.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SRC=$REPO/.ci/kube
K8S_VERSION=v1.32.13
COREDNS_VERSION=v1.12.0
CHAOS_MODULE=github.com/chaos-mesh/chaos-mesh
CHAOS_VERSION=v0.9.1-0.20260902003049-47411975a8cb
CACHE=${CLOUDTEST_K8S_CACHE:-/var/cache/cloudtest-k8s}
K=${CLOUDTEST_K8S_HOME:-/var/lib/cloudtest-k8s}
NODE_NAME=$(hostname | tr '[:upper:]' '[:lower:]')
NODE_IP=${NODE_IP:-$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' | head -1 | xargs -r -I{} ip -4 -o addr show dev {} | awk '{sub("/.*", "", $4); print $4; exit}')}
NODE_IP=${NODE_IP:-127.0.0.1}
export KUBECONFIG=$K/admin.kubeconfig

K8S_BIN=$CACHE/k8s-$K8S_VERSION
COREDNS_BIN=$CACHE/coredns-$COREDNS_VERSION
CHAOS_BIN=$CACHE/chaos-mesh-${CHAOS_VERSION##*-}
DAEMON_BIN=$CACHE/chaos-daemon-${CHAOS_VERSION##*-}
# The images cloudtest's tests and suites run; no registry, pulled never.
PAUSE_IMAGE=docker.io/local/pause:1
COREDNS_IMAGE=docker.io/local/coredns:$COREDNS_VERSION
DEMOBANK_IMAGE=docker.io/local/cloudtest-demobank:ci

log() { printf '[kube %s] %s\n' "$(date +%T)" "$*"; }
die() { printf '[kube %s] error: %s\n' "$(date +%T)" "$*" >&2; exit 1; }

# ---------------------------------------------------------------- build

build_k8s() {
  [ -x "$K8S_BIN/kube-apiserver" ] && [ -f "$K8S_BIN/.done" ] && return 0
  log "building Kubernetes $K8S_VERSION (cold: several minutes)"
  local s=$SECONDS work=$CACHE/src/k8s-$K8S_VERSION
  rm -rf "$work" "$K8S_BIN.tmp"; mkdir -p "$work" "$K8S_BIN.tmp"
  cp "$SRC/build-k8s/go.mod" "$SRC/build-k8s/go.sum" "$work/"
  local v=$K8S_VERSION minor
  minor=${v#v1.}; minor=${minor%%.*}
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$K8S_BIN.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  # kubectl needs modules the five binaries do not: let go add them to the copy.
  (cd "$work" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "$ld" -o "$K8S_BIN.tmp/" \
    k8s.io/kubernetes/cmd/kubectl)
  touch "$K8S_BIN.tmp/.done"; rm -rf "$K8S_BIN"; mv "$K8S_BIN.tmp" "$K8S_BIN"; rm -rf "$work"
  log "Kubernetes built in $((SECONDS - s)) s"
}

build_coredns() {
  [ -x "$COREDNS_BIN/coredns" ] && return 0
  log "building CoreDNS $COREDNS_VERSION"
  local s=$SECONDS
  rm -rf "$COREDNS_BIN.tmp"; mkdir -p "$COREDNS_BIN.tmp"
  CGO_ENABLED=0 GOBIN=$COREDNS_BIN.tmp go install -trimpath -ldflags '-s -w' "github.com/coredns/coredns@$COREDNS_VERSION"
  rm -rf "$COREDNS_BIN"; mv "$COREDNS_BIN.tmp" "$COREDNS_BIN"
  log "CoreDNS built in $((SECONDS - s)) s"
}

build_chaos() {
  [ -x "$CHAOS_BIN/chaos-controller-manager" ] && [ -f "$CHAOS_BIN/crd.yaml" ] && return 0
  log "building the Chaos Mesh controller ($CHAOS_VERSION)"
  local s=$SECONDS work=$CACHE/src/chaos-mesh
  rm -rf "$work" "$CHAOS_BIN.tmp"; mkdir -p "$work" "$CHAOS_BIN.tmp"
  cp "$SRC/build-chaos/go.mod" "$SRC/build-chaos/go.sum" "$work/"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$CHAOS_BIN.tmp/" \
    "$CHAOS_MODULE/cmd/chaos-controller-manager")
  local dir
  dir=$(cd "$work" && go mod download -json "$CHAOS_MODULE@$CHAOS_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -f "$dir/manifests/crd.yaml" ] || die "no manifests/crd.yaml in $dir"
  cp "$dir/manifests/crd.yaml" "$CHAOS_BIN.tmp/crd.yaml"
  rm -rf "$CHAOS_BIN"; mv "$CHAOS_BIN.tmp" "$CHAOS_BIN"; rm -rf "$work"
  log "Chaos Mesh controller built in $((SECONDS - s)) s"
}

# chaos-daemon carries out NetworkChaos, StressChaos and container-kill in the
# containers' namespaces. It links libc (ptrace helpers in cgo): built static.
build_chaos_daemon() {
  [ -x "$DAEMON_BIN/chaos-daemon" ] && return 0
  log "building chaos-daemon ($CHAOS_VERSION)"
  local s=$SECONDS work=$CACHE/src/chaos-daemon
  rm -rf "$work"; mkdir -p "$work"
  cp "$SRC/build-chaos/go.mod" "$SRC/build-chaos/go.sum" "$work/"
  (cd "$work" && CGO_ENABLED=1 go build -trimpath -ldflags '-s -w -linkmode external -extldflags -static' \
    -o "$work/chaos-daemon" "$CHAOS_MODULE/cmd/chaos-daemon")
  mkdir -p "$DAEMON_BIN"; mv "$work/chaos-daemon" "$DAEMON_BIN/chaos-daemon"; rm -rf "$work"
  log "chaos-daemon built in $((SECONDS - s)) s"
}

# image_tar NAME BINARY_DIR TAR CMD...: a FROM-scratch image of one static binary, saved for ctr.
image_tar() {
  local ref=$1 dir=$2 tar=$3; shift 3
  local entry=$1; shift
  local cmd=""
  if [ $# -gt 0 ]; then cmd="CMD [$(printf '"%s",' "$@" | sed 's/,$//')]"; fi
  printf 'FROM scratch\nCOPY %s /%s\nENTRYPOINT ["/%s"]\n%s\n' "$entry" "$entry" "$entry" "$cmd" > "$dir/Dockerfile"
  docker build -q -t "$ref" "$dir" >/dev/null
  docker save "$ref" -o "$tar.tmp" && mv "$tar.tmp" "$tar"
  docker image rm "$ref" >/dev/null 2>&1 || true
}

build_images() {
  mkdir -p "$CACHE/images"
  if [ ! -f "$CACHE/images/pause.tar" ]; then
    local d; d=$(mktemp -d)
    (cd "$SRC/pause" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$d/pause" .)
    image_tar "$PAUSE_IMAGE" "$d" "$CACHE/images/pause.tar" pause
    rm -rf "$d"
  fi
  if [ ! -f "$CACHE/images/coredns-$COREDNS_VERSION.tar" ]; then
    local d; d=$(mktemp -d)
    cp "$COREDNS_BIN/coredns" "$d/"
    image_tar "$COREDNS_IMAGE" "$d" "$CACHE/images/coredns-$COREDNS_VERSION.tar" coredns
    rm -rf "$d"
  fi
  # The demo bank is built from this checkout every time (it is cloudtest itself).
  local d; d=$(mktemp -d)
  (cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$d/cloudtest" ./cmd/cloudtest)
  image_tar "$DEMOBANK_IMAGE" "$d" "$d/demobank.tar" cloudtest demo --listen :8080 --data /data
  mv "$d/demobank.tar" "$CACHE/images/demobank.tar"
  rm -rf "$d"
}

install_packages() {
  local need=()
  command -v etcd >/dev/null || need+=(etcd-server)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  command -v conntrack >/dev/null || need+=(conntrack)
  command -v containerd >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  command -v openssl >/dev/null || need+=(openssl)
  # What chaos-daemon runs in a container's namespaces (nsenter is util-linux's).
  command -v ipset >/dev/null || need+=(ipset)
  command -v iptables >/dev/null || need+=(iptables)
  command -v tc >/dev/null || need+=(iproute2)
  command -v stress-ng >/dev/null || need+=(stress-ng)
  command -v nsenter >/dev/null || need+=(util-linux)
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing ${need[*]}"
  # Debian's etcd-server would start a system etcd on install: forbid services starting.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; } || rc=$?
  [ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "apt-get install ${need[*]} failed"
}

build() {
  [ "$(id -u)" = 0 ] || die "needs root (it runs kubelet and containerd)"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"; flock 9
  install_packages
  build_k8s
  build_coredns
  build_chaos
  build_chaos_daemon
  build_images
  exec 9>&-
}

# ---------------------------------------------------------------- certificates

# cert NAME CN O SANS: a key and a certificate signed by the cluster's CA.
cert() {
  local n=$1 cn=$2 o=$3 san=$4 subj="/CN=$2"
  [ -n "$o" ] && subj="/O=$o/CN=$cn"
  openssl genrsa -out "$n.key" 2048 2>/dev/null
  if [ -n "$san" ]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" > "$n.ext"
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$n.ext"
  fi
  openssl req -new -key "$n.key" -subj "$subj" -out "$n.csr" 2>/dev/null
  openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile "$n.ext" -out "$n.crt" 2>/dev/null
}

make_certs() {
  mkdir -p "$K/pki" "$K/chaos/certs"
  (
    cd "$K/pki"
    openssl genrsa -out ca.key 2048 2>/dev/null
    openssl req -x509 -new -nodes -key ca.key -subj "/CN=cloudtest-k8s-ca" -days 30 -out ca.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:10.96.0.1,IP:$NODE_IP"
    cert admin kubernetes-admin system:masters ""
    cert kcm system:kube-controller-manager "" ""
    cert sched system:kube-scheduler "" ""
    cert kubelet "system:node:$NODE_NAME" system:nodes ""
    cert kubelet-server "$NODE_NAME" "" "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
    cert webhook chaos-mesh-webhook "" "IP:127.0.0.1,DNS:localhost"
    cp webhook.crt "$K/chaos/certs/tls.crt"; cp webhook.key "$K/chaos/certs/tls.key"
  )
  local u
  for u in admin kcm sched kubelet; do
    KUBECONFIG=$K/$u.kubeconfig kubectl config set-cluster local --server=https://127.0.0.1:6443 --certificate-authority="$K/pki/ca.crt" --embed-certs=true >/dev/null
    KUBECONFIG=$K/$u.kubeconfig kubectl config set-credentials "$u" --client-certificate="$K/pki/$u.crt" --client-key="$K/pki/$u.key" --embed-certs=true >/dev/null
    KUBECONFIG=$K/$u.kubeconfig kubectl config set-context local --cluster=local --user="$u" >/dev/null
    KUBECONFIG=$K/$u.kubeconfig kubectl config use-context local >/dev/null
  done
}

# ---------------------------------------------------------------- up

template() { sed -e "s|@K8S_HOME@|$K|g" -e "s|@NODE_NAME@|$NODE_NAME|g" -e "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|g" -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" "$1" > "$2"; }

start() { # start NAME CMD...: detached, logged, PID recorded
  local name=$1; shift
  nohup "$@" > "$K/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$K/pids/$name.pid"
}
alive() { [ -f "$K/pids/$1.pid" ] && kill -0 "$(cat "$K/pids/$1.pid")" 2>/dev/null; }
waitfor() { # waitfor WHAT SECONDS CMD...
  local what=$1 n=$2 i; shift 2
  for ((i = 0; i < n * 2; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what not ready after ${n} s (logs in $K/logs/)"
}
CTR() { ctr -n k8s.io --address "$K/containerd/containerd.sock" "$@"; }

# Values kubelet, kube-proxy and the CNI plugins change; `down` puts them back.
SYSCTLS="kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.conf.all.route_localnet net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables"
# Directories outside $K that kubelet, containerd and CNI create.
OUTSIDE="/host-sys /var/lib/kubelet /var/lib/kubelet/device-plugins /var/log/containers /var/log/pods /var/lib/cni /var/lib/cni/results /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd"

up() {
  local t0=$SECONDS
  [ "$(id -u)" = 0 ] || die "needs root (it runs kubelet and containerd)"
  if leftovers; then log "cleaning what an earlier run left"; down; fi
  build
  log "starting the cluster in $K (node $NODE_NAME, $NODE_IP)"
  local t1=$SECONDS
  mkdir -p "$K/logs" "$K/pids" "$K/etcd" "$K/containerd" "$K/cni/net.d" "$K/kubelet/podlogs" "$K/images"
  : > "$K/sysctl.saved"
  local k; for k in $SYSCTLS; do sysctl -n "$k" >/dev/null 2>&1 && echo "$k=$(sysctl -n "$k")" >> "$K/sysctl.saved"; done
  : > "$K/outside.existed"
  local d; for d in $OUTSIDE; do [ -e "$d" ] && echo "$d" >> "$K/outside.existed"; done
  ln -sf "$K8S_BIN/kubectl" "$K/kubectl" 2>/dev/null || true
  make_certs
  template "$SRC/containerd.toml" "$K/containerd/config.toml"
  template "$SRC/10-k8s-bridge.conflist" "$K/cni/net.d/10-k8s-bridge.conflist"
  template "$SRC/kubelet.yaml" "$K/kubelet/config.yaml"
  template "$SRC/kube-proxy.yaml" "$K/kube-proxy.yaml"
  template "$SRC/coredns.yaml" "$K/coredns.yaml"
  local P=$K/pki B=$K8S_BIN

  start containerd containerd --config "$K/containerd/config.toml"
  start etcd etcd --name default --data-dir "$K/etcd" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster default=http://127.0.0.1:2380 \
    --listen-metrics-urls http://127.0.0.1:2381 --quota-backend-bytes 4294967296 --unsafe-no-fsync
  waitfor containerd 30 ctr --address "$K/containerd/containerd.sock" version
  local img; for img in pause "coredns-$COREDNS_VERSION" demobank; do
    CTR images import "$CACHE/images/$img.tar" >/dev/null
  done
  waitfor etcd 30 curl -sf http://127.0.0.1:2379/health
  start kube-apiserver "$B/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$NODE_IP" \
    --service-cluster-ip-range=10.96.0.0/16 --client-ca-file="$P/ca.crt" --tls-cert-file="$P/apiserver.crt" \
    --tls-private-key-file="$P/apiserver.key" --kubelet-client-certificate="$P/admin.crt" --kubelet-client-key="$P/admin.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-account-key-file="$P/sa.pub" \
    --service-account-signing-key-file="$P/sa.key" --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false --cert-dir="$P/apiserver-gen" \
    --kubelet-preferred-address-types=InternalIP,Hostname
  waitfor kube-apiserver 90 kubectl get --raw /readyz
  start kube-controller-manager "$B/kube-controller-manager" --kubeconfig="$K/kcm.kubeconfig" \
    --authentication-kubeconfig="$K/kcm.kubeconfig" --authorization-kubeconfig="$K/kcm.kubeconfig" --bind-address=127.0.0.1 \
    --leader-elect=false --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
    --use-service-account-credentials=true --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
    --service-cluster-ip-range=10.96.0.0/16 --allocate-node-cidrs=false
  start kube-scheduler "$B/kube-scheduler" --kubeconfig="$K/sched.kubeconfig" \
    --authentication-kubeconfig="$K/sched.kubeconfig" --authorization-kubeconfig="$K/sched.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false
  start kubelet "$B/kubelet" --config="$K/kubelet/config.yaml" --kubeconfig="$K/kubelet.kubeconfig" \
    --root-dir="$K/kubelet/root" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --v=1
  start kube-proxy "$B/kube-proxy" --config="$K/kube-proxy.yaml"
  # The CRDs and the controller need only the API server: meanwhile the node registers.
  kubectl apply --server-side -f "$CHAOS_BIN/crd.yaml" >/dev/null
  patch_crds
  kubectl create namespace chaos-mesh >/dev/null
  start chaos-controller-manager env KUBECONFIG="$K/admin.kubeconfig" NAMESPACE=chaos-mesh TEMPLATE_NAMESPACE=chaos-mesh \
    CLUSTER_SCOPED=true ENABLE_LEADER_ELECTION=false SECURITY_MODE=false CHAOSD_SECURITY_MODE=false \
    CERTS_DIR="$K/chaos/certs" WEBHOOK_HOST=127.0.0.1 WEBHOOK_PORT=9443 METRICS_HOST=127.0.0.1 METRICS_PORT=10080 \
    POD_FAILURE_PAUSE_IMAGE="$PAUSE_IMAGE" "$CHAOS_BIN/chaos-controller-manager"
  # chaos-daemon runs on the host, the node, in a mount namespace of its own
  # whose /usr/local/bin is .ci/kube/chaos-daemon (its nsexec and pause) and
  # where the host's /sys is at /host-sys, as in Chaos Mesh's DaemonSet (it
  # finds the containers' cgroups there). Outside, /host-sys is an empty
  # directory until `down`.
  mkdir -p /host-sys
  start chaos-daemon unshare --mount --propagation private /bin/sh -c \
    "mount --bind '$SRC/chaos-daemon' /usr/local/bin && mount --rbind /sys /host-sys && exec '$DAEMON_BIN/chaos-daemon' --runtime containerd --runtime-socket-path '$K/containerd/containerd.sock' --grpc-port 31767 --http-port 31766"
  waitfor node 90 kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  waitfor chaos-daemon 30 bash -c '</dev/tcp/127.0.0.1/31767'
  daemon_endpoint | kubectl apply -f - >/dev/null
  kubectl apply -f "$K/coredns.yaml" >/dev/null
  waitfor "the Chaos Mesh webhook" 90 curl -sk https://127.0.0.1:9443/ -o /dev/null
  webhooks | kubectl apply -f - >/dev/null
  # CoreDNS answers NXDOMAIN for about 10 s after it is ready (RECIPE.md); cloudtest
  # reaches pods through port-forwards, not names, so nothing here waits for that.
  kubectl -n kube-system rollout status deploy/coredns --timeout=90s >/dev/null
  log "cluster up in $((SECONDS - t1)) s (the whole of up: $((SECONDS - t0)) s); kubeconfig: $K/admin.kubeconfig"
  echo "export KUBECONFIG=$K/admin.kubeconfig CLOUDTEST_KUBECONFIG=$K/admin.kubeconfig"
}

# patch_crds: the controller is built with Chaos Mesh's api module of
# 2026-09-06 (the one cloudtest validates with; the main module's own ./api
# cannot be used from the proxy), whose NetworkChaos and PodNetworkChaos have
# partitionBehavior, which the main module's CRDs of 2026-09-02 lack. The API
# server would prune the field the webhook defaults, and the validating
# webhook would then refuse every update of a NetworkChaos ("Cannot update
# chaos spec"). The field is added to both schemas as the api declares it.
patch_crds() {
  local v='{"type":"string","enum":["drop","reject"]}' s=/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties
  kubectl patch crd networkchaos.chaos-mesh.org --type=json \
    -p "[{\"op\":\"add\",\"path\":\"$s/partitionBehavior\",\"value\":$v}]" >/dev/null
  kubectl patch crd podnetworkchaos.chaos-mesh.org --type=json \
    -p "[{\"op\":\"add\",\"path\":\"$s/iptables/items/properties/partitionBehavior\",\"value\":$v}]" >/dev/null
}

# daemon_endpoint: where the controller finds chaos-daemon. It looks for an
# EndpointSlice named chaos-daemon-* in its namespace with an endpoint on the
# pod's node (controllers/utils/chaosdaemon); the daemon is not a pod here, so
# the slice is written by hand, beside a Service without a selector.
daemon_endpoint() {
  cat <<Y
apiVersion: v1
kind: Service
metadata: {name: chaos-daemon, namespace: chaos-mesh}
spec:
  clusterIP: None
  ports: [{name: grpc, port: 31767, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: chaos-daemon-$NODE_NAME
  namespace: chaos-mesh
  labels: {kubernetes.io/service-name: chaos-daemon, endpointslice.kubernetes.io/managed-by: cloudtest-kube-sh}
addressType: IPv4
ports: [{name: grpc, port: 31767, protocol: TCP}]
endpoints:
- addresses: ["$NODE_IP"]
  nodeName: $NODE_NAME
  conditions: {ready: true}
Y
}

webhooks() {
  local ca; ca=$(base64 -w0 < "$K/pki/ca.crt")
  # The kinds cloudtest's kubernetes engine creates.
  local kinds="podchaos networkchaos stresschaos"
  echo "apiVersion: admissionregistration.k8s.io/v1"
  echo "kind: MutatingWebhookConfiguration"
  echo "metadata: {name: chaos-mesh-local-mutation}"
  echo "webhooks:"
  local kk
  for kk in $kinds; do cat <<W
- name: m$kk.kb.io
  clientConfig: {url: "https://127.0.0.1:9443/mutate-chaos-mesh-org-v1alpha1-$kk", caBundle: $ca}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1, v1beta1]
  timeoutSeconds: 5
  rules: [{apiGroups: [chaos-mesh.org], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [$kk]}]
W
  done
  echo "---"
  echo "apiVersion: admissionregistration.k8s.io/v1"
  echo "kind: ValidatingWebhookConfiguration"
  echo "metadata: {name: chaos-mesh-local-validation}"
  echo "webhooks:"
  for kk in $kinds; do cat <<W
- name: v$kk.kb.io
  clientConfig: {url: "https://127.0.0.1:9443/validate-chaos-mesh-org-v1alpha1-$kk", caBundle: $ca}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1, v1beta1]
  timeoutSeconds: 5
  rules: [{apiGroups: [chaos-mesh.org], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [$kk]}]
W
  done
}

# ---------------------------------------------------------------- down

# pids_of_ours: processes whose command line names $K (only this script starts those).
pids_of_ours() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "$K/"; then echo "${p#/proc/}"; continue; fi
    # The cached binaries (kube-*, the Chaos Mesh controller) run from $CACHE.
    case $(readlink "$p/exe" 2>/dev/null) in "$CACHE"/k8s-*|"$CACHE"/chaos-mesh-*|"$CACHE"/chaos-daemon-*) echo "${p#/proc/}" ;; esac
  done
  return 0
}

leftovers() {
  [ -d "$K" ] || ip link show k8sbr0 >/dev/null 2>&1 || [ -n "$(pids_of_ours)" ] || grep -qF " $K/" /proc/mounts
}

stop() { # stop NAME: TERM, wait up to 10 s, KILL
  [ -f "$K/pids/$1.pid" ] || return 0
  local p i; p=$(cat "$K/pids/$1.pid")
  if kill "$p" 2>/dev/null; then
    for i in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$K/pids/$1.pid"
}

down() {
  local t0=$SECONDS
  [ "$(id -u)" = 0 ] || die "needs root"
  if [ -x "$K8S_BIN/kubectl" ] && [ -f "$KUBECONFIG" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
    # Pods first, while kubelet can still stop them cleanly (and CNI free their addresses).
    kubectl delete mutatingwebhookconfiguration chaos-mesh-local-mutation --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete validatingwebhookconfiguration chaos-mesh-local-validation --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete deploy,rs,sts,ds,job,pod --all -A --grace-period=1 --wait=true --timeout=60s >/dev/null 2>&1 || true
    local i; for i in $(seq 1 30); do [ -z "$(CTR tasks ls -q 2>/dev/null)" ] && break; sleep 1; done
  fi
  local n
  for n in chaos-controller-manager chaos-daemon kube-proxy; do stop $n; done
  [ -x "$K8S_BIN/kube-proxy" ] && "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  for n in kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do stop $n; done
  if [ -S "$K/containerd/containerd.sock" ]; then
    local t; for t in $(CTR tasks ls -q 2>/dev/null); do CTR tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; sleep 0.2; CTR tasks rm -f "$t" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  # What a crashed run left without PID files: the processes that name $K, and the pods' processes.
  local p; for p in $(pids_of_ours); do kill -9 "$p" 2>/dev/null || true; done
  local f; for f in /sys/fs/cgroup/*/kubepods; do
    [ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  sleep 0.5
  grep -F " $K/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del k8sbr0 2>/dev/null || true
  local ipt tb c ch chains
  for ipt in iptables ip6tables iptables-legacy ip6tables-legacy; do
    command -v $ipt >/dev/null || continue
    for tb in filter nat mangle raw; do
      for c in INPUT OUTPUT FORWARD PREROUTING POSTROUTING; do
        $ipt -w -t $tb -L $c --line-numbers -n 2>/dev/null | awk '$2 ~ /^(CNI|KUBE)-/{print $1}' | sort -rn | xargs -r -n1 $ipt -w -t $tb -D $c 2>/dev/null || true
      done
      chains=$($ipt -w -t $tb -S 2>/dev/null | awk '/^-N (CNI|KUBE)-/{print $2}')
      for ch in $chains; do $ipt -w -t $tb -F "$ch" 2>/dev/null || true; done
      for ch in $chains; do $ipt -w -t $tb -X "$ch" 2>/dev/null || true; done
    done
  done
  for f in /sys/fs/cgroup/*/kubepods; do [ -d "$f" ] && find "$f" -depth -type d -exec rmdir {} + 2>/dev/null; done
  [ -d /sys/fs/cgroup/unified/kubepods ] && find /sys/fs/cgroup/unified/kubepods -depth -type d -exec rmdir {} + 2>/dev/null
  if [ -f "$K/sysctl.saved" ]; then
    local kv; while read -r kv; do sysctl -qw "$kv" 2>/dev/null || true; done < "$K/sysctl.saved"
  fi
  # Directories outside $K that did not exist before up, deepest first.
  for d in $(echo $OUTSIDE | tr ' ' '\n' | awk '{print length, $0}' | sort -rn | cut -d' ' -f2); do
    [ -e "$d" ] || continue
    [ -f "$K/outside.existed" ] && grep -qxF "$d" "$K/outside.existed" && continue
    case $d in
      /var/lib/kubelet/device-plugins|/var/log/containers|/var/log/pods|/var/lib/cni/results) rm -rf "$d" ;;
      *) rmdir "$d" 2>/dev/null || true ;;
    esac
  done
  rm -rf "$K"
  log "down in $((SECONDS - t0)) s"
}

status() {
  if [ -f "$KUBECONFIG" ] && [ -x "$K8S_BIN/kubectl" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
    echo "up: export KUBECONFIG=$KUBECONFIG"
  else
    echo "down"; return 1
  fi
}

PATH=$K8S_BIN:$PATH
case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 build|up|down|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The peer for benches/pki.rs: issues the same certificate set as kbundle with the openssl
# command line, the way a hand-rolled script or the "from scratch" guide does it (one genpkey,
# one req and one x509 per certificate).
# Usage: openssl-pki.sh CONTROL_PLANES WORKERS ecdsa|rsa OUT_DIR
set -euo pipefail
control_planes=$1 workers=$2 algorithm=$3 out=$4
mkdir -p "$out" && cd "$out"

key() {
  if [ "$algorithm" = rsa ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
  fi
}
ca() { # name cn
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
    -addext "subjectAltName=DNS:$2"
}
leaf() { # ca out subject eku [san]
  local ca=$1 out=$2 subject=$3 eku=$4 san=${5:-}
  key "$out.key"
  openssl req -new -key "$out.key" -subj "$subject" -out "$out.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    echo "authorityKeyIdentifier=keyid"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$out.ext"
  openssl x509 -req -in "$out.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 365 \
    -extfile "$out.ext" -out "$out.crt" 2>/dev/null
  rm -f "$out.csr" "$out.ext"
}

ca ca kubernetes
ca front-proxy-ca front-proxy-ca
ca etcd-ca etcd-ca
service_names="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
for i in $(seq 1 "$control_planes"); do
  ip=198.18.0.$i
  leaf ca "apiserver-$i" "/CN=kube-apiserver" serverAuth "DNS:cp$i,$service_names,IP:10.96.0.1,IP:$ip,IP:203.0.113.10"
  leaf ca "apiserver-kubelet-client-$i" "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client" clientAuth
  leaf front-proxy-ca "front-proxy-client-$i" "/CN=front-proxy-client" clientAuth
  leaf etcd-ca "apiserver-etcd-client-$i" "/CN=kube-apiserver-etcd-client" clientAuth
  leaf etcd-ca "etcd-server-$i" "/CN=cp$i" serverAuth,clientAuth "DNS:cp$i,DNS:localhost,IP:$ip,IP:127.0.0.1,IP:::1"
  leaf etcd-ca "etcd-peer-$i" "/CN=cp$i" serverAuth,clientAuth "DNS:cp$i,DNS:localhost,IP:$ip,IP:127.0.0.1,IP:::1"
  leaf etcd-ca "etcd-healthcheck-client-$i" "/CN=kube-etcd-healthcheck-client" clientAuth
  leaf ca "controller-manager-$i" "/CN=system:kube-controller-manager" clientAuth
  leaf ca "scheduler-$i" "/CN=system:kube-scheduler" clientAuth
done
leaf ca admin "/O=kubeadm:cluster-admins/CN=kubernetes-admin" clientAuth
leaf ca super-admin "/O=system:masters/CN=kubernetes-super-admin" clientAuth
for i in $(seq 1 $((control_planes + workers))); do
  leaf ca "kubelet-$i" "/O=system:nodes/CN=system:node:node-$i" clientAuth
done
key sa.key
openssl pkey -in sa.key -pubout -out sa.pub

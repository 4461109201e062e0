#!/usr/bin/env bash
# Regenerates the committed protobuf code from proto/. Installs protoc (Debian's
# protobuf-compiler) and the pinned Go plugins when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_GEN_GO=v1.36.12       # google.golang.org/protobuf
PROTOC_GEN_GO_GRPC=v1.6.2    # google.golang.org/grpc/cmd/protoc-gen-go-grpc

# protoc needs the well-known types (google/protobuf/*.proto) of libprotobuf-dev,
# which protobuf-compiler only recommends: scripts/packages.txt lists both.
scripts/deps.sh gen
if [ ! -f /usr/include/google/protobuf/timestamp.proto ]; then
	echo "scripts/gen.sh: /usr/include/google/protobuf/timestamp.proto is missing (Debian package libprotobuf-dev)" >&2
	exit 1
fi
bin="$(go env GOPATH)/bin"
want_go="protoc-gen-go $PROTOC_GEN_GO"
if [ "$("$bin/protoc-gen-go" --version 2>/dev/null)" != "$want_go" ]; then
	go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
fi
if [ "$("$bin/protoc-gen-go-grpc" --version 2>/dev/null)" != "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC#v}" ]; then
	go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"
fi

PATH="$bin:$PATH" protoc -I proto \
	--go_out=. --go_opt=module=authd.dev/authd \
	--go-grpc_out=. --go-grpc_opt=module=authd.dev/authd \
	proto/authd/v1/broker.proto

#!/bin/sh
# Copies buf/validate/validate.proto, which the API's validation rules import, from the
# protovalidate Go module into .buf-deps/ (git-ignored), the second module of buf.yaml: buf
# would fetch it from the BSR, which is out of reach, while the Go module proxy is not.
set -eu
cd "$(dirname "$0")"
mod=github.com/bufbuild/protovalidate@v1.2.2
go mod download "$mod"
src=$(go list -m -f '{{.Dir}}' "$mod")/proto/protovalidate/buf/validate/validate.proto
rm -rf .buf-deps
mkdir -p .buf-deps/buf/validate
cp "$src" .buf-deps/buf/validate/
chmod u+w .buf-deps/buf/validate/validate.proto # copied from the read-only module cache

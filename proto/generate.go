// Package proto holds the public API definitions; the Go code generated from them lives in
// telephony/v1 (package telephonyv1). It contains no hand-written logic.
package proto

//go:generate sh buf-deps.sh
//go:generate buf lint
//go:generate buf generate

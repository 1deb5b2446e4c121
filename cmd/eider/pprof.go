//go:build pprof

package main

// Profiling build (`go build -tags pprof ./cmd/eider`, used by
// bench/imap.sh PROFILE=1): net/http/pprof on PPROF_LISTEN
// (loopback address). Ordinary builds do not contain this file.

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("PPROF_LISTEN")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof listener", "addr", addr, "err", err)
		}
	}()
}

// Package server serves Eider's HTTP interface on top of the mail core. For
// now it serves the health check; the REST API generated from openapi.yaml
// and the WebSocket change stream are added here.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/eidermail/eider/mail"
)

// New returns the HTTP handler.
func New(svc *mail.Service, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code := "ok", http.StatusOK
		if _, err := svc.Store.ListUsers(ctx, "", 1); err != nil {
			log.Error("health check: store", "err", err)
			status, code = "store unavailable", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"status": status})
	})
	return mux
}

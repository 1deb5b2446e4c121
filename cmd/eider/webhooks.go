package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/server/webhook"
)

// startWebhooks runs the webhook dispatcher (server/webhook) until the
// returned stop is called (it waits for the dispatcher to finish). Leases
// are in Redis in the distributed mode, so that each webhook is driven by
// one instance; in-process otherwise.
func startWebhooks(ctx context.Context, svc *mail.Service, log *slog.Logger) (stop func()) {
	st, ok := svc.Store.(webhook.Store)
	if !ok {
		log.Warn("webhooks disabled: the store keeps no webhooks")
		return func() {}
	}
	var leases webhook.Leaser = &webhook.Local{}
	if rb, ok := svc.Bus.(redisBus); ok {
		leases = rb.cluster
	}
	d, err := webhook.New(webhook.Options{Store: st, Leases: leases, Logger: log})
	if err != nil {
		log.Error("webhooks disabled", "err", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.Run(ctx)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

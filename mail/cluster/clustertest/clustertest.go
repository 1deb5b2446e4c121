// Package clustertest gives tests two mail/cluster instances on the real
// Redis (EIDER_TEST_REDIS, default 127.0.0.1:6379) under a fresh key
// prefix, as two Eider processes would share it. Keys are deleted when the
// test ends. It is imported only by _test.go files.
package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/eidermail/eider/mail/cluster"
)

// Two returns two clusters on their own Redis connections sharing one key
// prefix ("eidertest-<name>-<random>:"). A Redis that does not answer
// fails the test: CI has one.
func Two(t testing.TB, name string) (*cluster.Cluster, *cluster.Cluster) {
	t.Helper()
	addr := os.Getenv("EIDER_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	var b [6]byte
	rand.Read(b[:])
	prefix := "eidertest-" + name + "-" + hex.EncodeToString(b[:]) + ":"
	r1 := redis.NewClient(&redis.Options{Addr: addr})
	r2 := redis.NewClient(&redis.Options{Addr: addr})
	if err := r1.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", addr, err)
	}
	t.Cleanup(func() {
		keys, _ := r1.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			r1.Del(context.Background(), keys...)
		}
		r1.Close()
		r2.Close()
	})
	o := cluster.Options{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)}
	return cluster.New(r1, o), cluster.New(r2, o)
}

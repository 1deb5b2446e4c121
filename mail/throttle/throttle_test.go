package throttle

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLocalLimiterWindow(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	l := NewLocalLimiter(2, time.Minute, func() time.Time { return now })
	if n, _ := l.Fail(ctx, "a"); n != 1 {
		t.Fatalf("first failure counted %d", n)
	}
	if _, b, _ := l.Blocked(ctx, "a"); b {
		t.Fatal("blocked after 1 of 2")
	}
	l.Fail(ctx, "a")
	left, b, _ := l.Blocked(ctx, "a")
	if !b || left != time.Minute {
		t.Fatalf("Blocked = %v %v, want blocked for 1m", left, b)
	}
	if _, b, _ := l.Blocked(ctx, "b"); b {
		t.Fatal("another key blocked")
	}
	now = now.Add(time.Minute)
	if _, b, _ := l.Blocked(ctx, "a"); b {
		t.Fatal("still blocked after the window")
	}
	l.Fail(ctx, "a")
	l.Fail(ctx, "a")
	l.Succeed(ctx, "a")
	if _, b, _ := l.Blocked(ctx, "a"); b {
		t.Fatal("blocked after Succeed")
	}
}

func TestLocalConns(t *testing.T) {
	ctx := context.Background()
	c := NewLocalConns()
	r1, err := c.Acquire(ctx, "u", 2)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := c.Acquire(ctx, "u", 2)
	if _, err := c.Acquire(ctx, "u", 2); !errors.Is(err, ErrTooMany) {
		t.Fatalf("third: %v, want ErrTooMany", err)
	}
	if _, err := c.Acquire(ctx, "v", 2); err != nil {
		t.Fatalf("other key: %v", err)
	}
	r1()
	r1() // twice is safe
	if n := c.Count("u"); n != 1 {
		t.Fatalf("Count = %d, want 1", n)
	}
	r2()
	if _, err := c.Acquire(ctx, "u", 0); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

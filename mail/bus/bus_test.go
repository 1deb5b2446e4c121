package bus

import (
	"context"
	"sync"
	"testing"
)

func TestLocalDeliversToUserOnly(t *testing.T) {
	ctx := context.Background()
	b := NewLocal()
	a, cancelA, _ := b.Subscribe(ctx, "alice")
	defer cancelA()
	o, cancelO, _ := b.Subscribe(ctx, "bob")
	defer cancelO()
	b.Publish(ctx, Beacon{UserID: "alice", Seq: 7})
	if got := <-a; got.Seq != 7 {
		t.Fatalf("alice got %+v", got)
	}
	select {
	case got := <-o:
		t.Fatalf("bob got alice's beacon %+v", got)
	default:
	}
}

// A slow subscriber keeps the newest beacon instead of blocking publishers.
func TestLocalCoalescesNewest(t *testing.T) {
	ctx := context.Background()
	b := NewLocal()
	ch, cancel, _ := b.Subscribe(ctx, "u")
	defer cancel()
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); b.Publish(ctx, Beacon{UserID: "u", Seq: int64(i)}) }(i)
	}
	wg.Wait()
	if got := <-ch; got.Seq != 100 {
		t.Fatalf("after 100 publishes the pending beacon is %d, want 100", got.Seq)
	}
}

func TestLocalCancel(t *testing.T) {
	ctx := context.Background()
	b := NewLocal()
	ch, cancel, _ := b.Subscribe(ctx, "u")
	cancel()
	cancel() // idempotent
	b.Publish(ctx, Beacon{UserID: "u", Seq: 1})
	select {
	case got := <-ch:
		t.Fatalf("cancelled subscriber got %+v", got)
	default:
	}
}

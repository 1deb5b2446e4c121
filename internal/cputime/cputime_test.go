package cputime

import "testing"

// TestProcessGrows: spinning for a while adds CPU time.
func TestProcessGrows(t *testing.T) {
	start := Process()
	if start <= 0 {
		t.Fatalf("Process() = %v at start, want > 0", start)
	}
	x := 0
	for Process()-start < 20_000_000 { // 20 ms of CPU
		for i := range 1_000_000 {
			x += i
		}
	}
	_ = x
}

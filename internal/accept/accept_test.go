package accept

import (
	"net"
	"sync/atomic"
	"testing"
)

func TestLoop(t *testing.T) {
	for _, shuttingDown := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var closing atomic.Bool
		got := make(chan net.Conn, 1)
		done := make(chan error, 1)
		go func() { done <- Loop(ln, closing.Load, func(c net.Conn) { got <- c }) }()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		(<-got).Close()
		c.Close()
		closing.Store(shuttingDown)
		ln.Close()
		err = <-done
		if shuttingDown && err != nil {
			t.Fatalf("Loop after shutdown: %v, want nil", err)
		}
		if !shuttingDown && err == nil {
			t.Fatal("Loop on a listener closed by someone else returned nil")
		}
	}
}

// Package tcpproxy is a TCP forwarder for tests: stopping it and starting
// it again on the same address is, to the client behind it, the server
// going away and coming back, without touching the shared server. It is
// imported only by _test.go files.
package tcpproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections from Addr to Target. The zero Addr listens on
// a free loopback port, which Start records, so a second Start reuses it.
type Proxy struct {
	Addr, Target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

// Start listens on Addr and forwards each connection to Target.
func (p *Proxy) Start(t testing.TB) {
	t.Helper()
	addr := p.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.Addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.Target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

// Stop closes the listener and every forwarded connection.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

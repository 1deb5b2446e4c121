// Package metrics holds the process's counters and gauges beyond HTTP
// (deliveries, sessions, runtime) and writes them in the Prometheus text
// exposition format, version 0.0.4, which GET /metrics serves.
//
// Counters are atomic and cheap enough for every delivery; gauges are
// functions read at scrape time, so a front-end exposes its live session
// count without keeping a second copy of it.
package metrics

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry is a set of metric families. The zero value is not usable; use
// NewRegistry.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

type family struct {
	name, help, kind string // kind: "counter" or "gauge"
	// series by their rendered label set ("" for none); a counter series is
	// a *Counter, a gauge series a func() float64.
	counters map[string]*Counter
	gauges   map[string]func() float64
}

// Counter is a monotonically increasing count.
type Counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Value is the current count.
func (c *Counter) Value() uint64 { return c.n.Load() }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]*family{}} }

// Default is the process's registry: packages register into it, GET
// /metrics writes it.
var Default = NewRegistry()

func (r *Registry) family(name, help, kind string) *family {
	f := r.families[name]
	if f == nil {
		f = &family{name: name, help: help, kind: kind, counters: map[string]*Counter{}, gauges: map[string]func() float64{}}
		r.families[name] = f
	}
	if f.kind != kind {
		panic(fmt.Sprintf("metrics: %s registered as %s and %s", name, f.kind, kind))
	}
	return f
}

// labelSet renders label pairs (name, value, name, value, ...) as
// {a="x",b="y"}, escaping values as the exposition format requires.
func labelSet(pairs []string) string {
	if len(pairs) == 0 {
		return ""
	}
	if len(pairs)%2 != 0 {
		panic("metrics: odd number of label strings")
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(pairs[i+1])
		fmt.Fprintf(&b, `%s="%s"`, pairs[i], v)
	}
	b.WriteByte('}')
	return b.String()
}

// Counter returns the counter of name with the given label pairs, creating
// it on first use; the same name and labels always give the same Counter.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	ls := labelSet(labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.family(name, help, "counter")
	c := f.counters[ls]
	if c == nil {
		c = &Counter{}
		f.counters[ls] = c
	}
	return c
}

// GaugeFunc registers a gauge read by calling fn at each scrape; a later
// registration of the same name and labels replaces it.
func (r *Registry) GaugeFunc(name, help string, fn func() float64, labels ...string) {
	ls := labelSet(labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.family(name, help, "gauge").gauges[ls] = fn
}

// WriteTo writes every family, sorted by name and label set, and the Go
// runtime's goroutine and heap figures.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	r.mu.Lock()
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f := r.families[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		if f.kind == "counter" {
			for _, ls := range sortedKeys(f.counters) {
				fmt.Fprintf(&b, "%s%s %d\n", f.name, ls, f.counters[ls].Value())
			}
			continue
		}
		for _, ls := range sortedKeys(f.gauges) {
			fmt.Fprintf(&b, "%s%s %g\n", f.name, ls, f.gauges[ls]())
		}
	}
	r.mu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(&b, "# HELP go_goroutines Goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(&b, "# HELP go_memstats_heap_alloc_bytes Heap bytes allocated and in use.\n# TYPE go_memstats_heap_alloc_bytes gauge\ngo_memstats_heap_alloc_bytes %d\n", ms.HeapAlloc)
	fmt.Fprintf(&b, "# HELP go_memstats_sys_bytes Bytes obtained from the OS.\n# TYPE go_memstats_sys_bytes gauge\ngo_memstats_sys_bytes %d\n", ms.Sys)
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

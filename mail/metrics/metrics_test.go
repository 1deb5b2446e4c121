package metrics

import (
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	r := NewRegistry()
	r.Counter("x_total", "Xs.", "kind", "a").Add(3)
	r.Counter("x_total", "Xs.", "kind", `b"\`).Inc()
	if r.Counter("x_total", "Xs.", "kind", "a").Value() != 3 {
		t.Fatal("the same name and labels gave another counter")
	}
	n := 7.0
	r.GaugeFunc("y", "Ys.", func() float64 { return n })
	n = 8
	var b strings.Builder
	r.WriteTo(&b)
	want := "# HELP x_total Xs.\n# TYPE x_total counter\nx_total{kind=\"a\"} 3\nx_total{kind=\"b\\\"\\\\\"} 1\n" +
		"# HELP y Ys.\n# TYPE y gauge\ny 8\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Fatalf("got\n%s\nwant prefix\n%s", b.String(), want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a counter re-registered as a gauge did not panic")
		}
	}()
	r.GaugeFunc("x_total", "Xs.", func() float64 { return 0 })
}

package wire

import (
	"reflect"
	"slices"
	"testing"
)

func TestParseNumSet(t *testing.T) {
	good := map[string]NumSet{
		"1":          {Ranges: []NumRange{{1, 1}}},
		"*":          {Ranges: []NumRange{{Star, Star}}},
		"1:*,3,5:7":  {Ranges: []NumRange{{1, Star}, {3, 3}, {5, 7}}},
		"7:3":        {Ranges: []NumRange{{7, 3}}},
		"$":          {Saved: true},
		"4294967295": {Ranges: []NumRange{{4294967295, 4294967295}}},
	}
	for in, want := range good {
		got, err := ParseNumSet(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %+v %v", in, got, err)
		}
		if got.String() != in {
			t.Errorf("%q: String %q", in, got.String())
		}
	}
	for _, in := range []string{"", "0", "0:5", "1:0", ",", "1,", ",1", "1::2", "a", "1:2:3", "4294967296", "$,1", "1,$", "-1", "01x"} {
		if _, err := ParseNumSet(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		set  string
		max  uint32
		want []NumRange
	}{
		{"1:*", 10, []NumRange{{1, 10}}},
		{"1:*,3,5:7", 10, []NumRange{{1, 10}}},
		{"5:7,1,2,*", 9, []NumRange{{1, 2}, {5, 7}, {9, 9}}},
		{"559:*", 500, []NumRange{{500, 559}}}, // RFC 3501 §9 seq-range
		{"*", 0, []NumRange{}},
		{"3:*", 0, []NumRange{{1, 3}}},
		{"9:7,8:12", 20, []NumRange{{7, 12}}},
	}
	for _, tt := range tests {
		got := seq(tt.set).Resolve(tt.max)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s max %d: %v want %v", tt.set, tt.max, got, tt.want)
		}
	}
	if seq("$").Resolve(10) != nil {
		t.Error("$ resolved")
	}
	if !seq("1:3,*").Contains(10, 10) || seq("1:3").Contains(4, 10) {
		t.Error("Contains")
	}
	if got := slices.Collect(seq("5,1:2,2").All(10)); !reflect.DeepEqual(got, []uint32{1, 2, 5}) {
		t.Error(got)
	}
	if !seq("1:*").Dynamic() || seq("1:4").Dynamic() {
		t.Error("Dynamic")
	}
	if s := NumSetOf(1, 2, 3, 7, 9, 10, 4).String(); s != "1:3,7,9:10,4" {
		t.Error(s)
	}
	if s := NumSetOf(4294967295, 1).String(); s != "4294967295,1" {
		t.Error(s)
	}
}

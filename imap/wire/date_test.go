package wire

import (
	"testing"
	"time"
)

func TestDates(t *testing.T) {
	d, err := ParseDate("1-Feb-1994")
	if err != nil || !d.Equal(time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatal(d, err)
	}
	if _, err := ParseDate("01-fEb-1994"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "1-Feb-94", "32-Jan-2000", "29-Feb-2021", "1-Fbr-2000", "1-Feb-2000-", "123-Feb-2000", "a-Feb-2000", "1 Feb 2000"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("date %q accepted", bad)
		}
	}
	if _, err := ParseDate("29-Feb-2020"); err != nil {
		t.Error(err)
	}

	dt, err := ParseDateTime("17-Jul-1996 02:44:25 -0700")
	want := time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600))
	if err != nil || !dt.Equal(want) {
		t.Fatal(dt, err)
	}
	if _, off := dt.Zone(); off != -7*3600 {
		t.Fatal("zone lost")
	}
	for _, ok := range []string{" 7-Jul-1996 02:44:25 +0000", "7-Jul-1996 02:44:25 +0530", "07-Jul-1996 23:59:59 -1200"} {
		if _, err := ParseDateTime(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"17-Jul-1996 02:44:25", "17-Jul-1996 2:44:25 -0700", "17-Jul-1996 24:00:00 +0000",
		"17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25 +07", "17-Jul-1996T02:44:25 +0000", "17-Jul-1996 02:61:00 +0000"} {
		if _, err := ParseDateTime(bad); err == nil {
			t.Errorf("date-time %q accepted", bad)
		}
	}
	if s := FormatDateTime(time.Date(1996, 7, 7, 2, 4, 5, 0, time.FixedZone("", -7*3600))); s != " 7-Jul-1996 02:04:05 -0700" {
		t.Error(s)
	}
	rt, err := ParseDateTime(FormatDateTime(want))
	if err != nil || !rt.Equal(want) {
		t.Error(rt, err)
	}
	if s := FormatDate(want); s != "17-Jul-1996" {
		t.Error(s)
	}
}

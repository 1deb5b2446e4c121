package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// curl runs the real curl and returns its stdout; -f makes HTTP errors fail.
func curl(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	var stderr bytes.Buffer
	cmd := exec.Command("curl", append([]string{"-sS", "-f"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %v: %v: %s", args, err, stderr.String())
	}
	return out
}

func TestWithCurl(t *testing.T) {
	e := newEnv(t)
	uid, _ := e.user("sam", "pw with spaces", "sam@example.com")
	out := curl(t, "-X", "POST", "-H", "Content-Type: application/json",
		"-d", `{"username":"sam@example.com","password":"pw with spaces"}`, e.url+"/authenticate")
	var auth struct{ Token, User string }
	if err := json.Unmarshal(out, &auth); err != nil || auth.User != uid || auth.Token == "" {
		t.Fatalf("authenticate: %v %s", err, out)
	}
	bearer := "Authorization: Bearer " + auth.Token
	var mbs struct{ Mailboxes []struct{ Id, Path string } }
	json.Unmarshal(curl(t, "-H", bearer, e.url+"/users/me/mailboxes"), &mbs)
	inbox := ""
	for _, m := range mbs.Mailboxes {
		if m.Path == "INBOX" {
			inbox = m.Id
		}
	}
	file := filepath.Join(corpusDir, "msg_07.txt")
	out = curl(t, "-H", bearer, "-H", "Content-Type: message/rfc822", "--data-binary", "@"+file,
		e.url+"/users/me/mailboxes/"+inbox+"/messages?flag=%5CSeen")
	var msg struct {
		Id    string
		Flags []string
	}
	if err := json.Unmarshal(out, &msg); err != nil || msg.Id == "" || len(msg.Flags) != 1 {
		t.Fatalf("upload: %v %s", err, out)
	}
	base := e.url + "/users/me/mailboxes/" + inbox + "/messages/" + msg.Id
	dst := filepath.Join(t.TempDir(), "back.eml")
	curl(t, "-H", bearer, "-o", dst, base+"/message.eml")
	want, _ := os.ReadFile(file)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, want) {
		t.Fatalf("message.eml through curl differs (%d vs %d bytes)", len(got), len(want))
	}
	// curl -r asks for a range; -D - shows the headers.
	hdr := string(curl(t, "-H", bearer, "-r", "0-3", "-D", "-", "-o", os.DevNull, base+"/attachments/ATT00001"))
	if !strings.Contains(hdr, " 206") || !strings.Contains(strings.ToLower(hdr), "content-range: bytes 0-3/") {
		t.Fatalf("range headers:\n%s", hdr)
	}
	// Without a token: 401 problem+json.
	cmd := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{content_type}", base)
	status, _ := cmd.Output()
	if string(status) != "401 application/problem+json" {
		t.Fatalf("no token: %s", status)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	h, err := e.client("").GetHealthWithResponse(ctx)
	if err != nil || h.JSON200 == nil || h.JSON200.Status != "ok" {
		t.Fatalf("health: %v %s", err, h.Body)
	}
	e.client("").GetUserWithResponse(ctx, "me") // a 401 to count
	m, err := e.client("").GetMetricsWithResponse(ctx)
	if err != nil || m.StatusCode() != 200 {
		t.Fatal(err)
	}
	body := string(m.Body)
	for _, want := range []string{
		`eider_http_requests_total{route="/health",code="200"} 1`,
		`eider_http_requests_total{route="/users/:user",code="401"} 1`,
		`eider_http_request_duration_seconds_count{route="/health"} 1`,
		`# TYPE eider_http_request_duration_seconds histogram`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// A store that no longer answers makes health 503.
	e.svc.Store.Close()
	h, _ = e.client("").GetHealthWithResponse(ctx)
	if h.StatusCode() != 503 || h.JSON503 == nil {
		t.Fatalf("health with closed store: %d", h.StatusCode())
	}
}

// Package relaytest runs a real SMTP server for tests of outbound relay:
// Python's smtpd (standard library up to 3.11), which nobody here wrote.
// It is imported only by _test.go files.
package relaytest

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pySMTP is Python's smtpd (3.11's standard library) as the relay: it
// refuses RCPT for nobody@… (550 5.1.1) and later@… (451 4.3.0) and writes
// each accepted transaction as JSON into a directory, before it answers
// the final dot, so a returned Send has its file in place.
const pySMTP = `
import smtpd, asyncore, sys, json, base64, os, warnings
warnings.simplefilter("ignore")
out = sys.argv[1]
class Chan(smtpd.SMTPChannel):
    def smtp_RCPT(self, arg):
        a = (arg or "").lower()
        if "nobody@" in a:
            self.push("550 5.1.1 no such user"); return
        if "later@" in a:
            self.push("451 4.3.0 try again later"); return
        super().smtp_RCPT(arg)
class Srv(smtpd.SMTPServer):
    channel_class = Chan
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        n = len(os.listdir(out))
        tmp = os.path.join(out, ".tmp")
        with open(tmp, "w") as f:
            json.dump({"from": mailfrom, "rcpt": rcpttos, "data": base64.b64encode(data).decode(), "opts": kw.get("mail_options", [])}, f)
        os.rename(tmp, os.path.join(out, "%04d.json" % n))
s = Srv(("127.0.0.1", 0), None, decode_data=False, enable_SMTPUTF8=True)
print(s.socket.getsockname()[1], flush=True)
asyncore.loop()
`

// Message is one transaction the Python relay accepted.
type Message struct {
	From string   `json:"from"`
	Rcpt []string `json:"rcpt"`
	Data string   `json:"data"`
	Opts []string `json:"opts"`
}

// StartPython runs the Python relay until the test ends and returns its
// address and the directory it writes messages to.
func StartPython(t testing.TB) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	cmd := exec.Command("python3", "-c", pySMTP, dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("python3: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("python smtpd did not start: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strings.TrimSpace(port)), dir
}

// Received returns the transactions the relay accepted, in order.
func Received(t testing.TB, dir string) []Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []Message
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r Message
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

package imap

import (
	"strings"
	"testing"
)

// COMPRESS=DEFLATE with a client that flushes with Z_SYNC_FLUSH and one
// that uses Z_PARTIAL_FLUSH (RFC 4978): every command is answered as soon
// as its bytes are flushed, without waiting for more input.
func TestCompressDeflateWithPythonZlib(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("zipped"))
	for _, mode := range []string{"Z_SYNC_FLUSH", "Z_PARTIAL_FLUSH"} {
		t.Run(mode, func(t *testing.T) {
			out := e.python(`
import socket, zlib
MODE = getattr(zlib, os.environ["ZMODE"])
s = socket.create_connection((HOST, PORT), timeout=10)
f = s.makefile("rb")
def line():
    l = f.readline()
    assert l, "connection closed"
    return l.decode()
assert line().startswith("* OK")
s.sendall(('a1 LOGIN alice "%s"\r\n' % PASS).encode())
while not line().startswith("a1 "): pass
s.sendall(b"a2 COMPRESS DEFLATE\r\n")
l = line()
assert l.startswith("a2 OK"), l
comp = zlib.compressobj(6, zlib.DEFLATED, -15)
dec = zlib.decompressobj(-15)
buf = b""
def cmd(tag, text):
    global buf
    s.sendall(comp.compress((tag + " " + text + "\r\n").encode()) + comp.flush(MODE))
    lines = []
    while True:
        while b"\n" not in buf:
            chunk = s.recv(65536)   # f is not used any more: no read-ahead
            assert chunk, "connection closed"
            buf += dec.decompress(chunk)
        l, buf = buf.split(b"\n", 1)
        lines.append(l.decode().rstrip("\r"))
        if lines[-1].startswith(tag + " "):
            return lines
r = cmd("a3", "NOOP")
assert r[-1].startswith("a3 OK"), r
r = cmd("a4", "SELECT INBOX")
assert "* 1 EXISTS" in r and r[-1].startswith("a4 OK"), r
r = cmd("a5", "CAPABILITY")
assert "COMPRESS=DEFLATE" not in r[0] and r[-1].startswith("a5 OK"), r
r = cmd("a6", "COMPRESS DEFLATE")
assert r[-1].startswith("a6 NO [COMPRESSIONACTIVE]"), r
r = cmd("a7", "LIST \"\" *")
assert len(r) == 6, r
r = cmd("a8", "LOGOUT")
print("ok", len(r))
`, "ZMODE="+mode)
			if !strings.Contains(out, "ok") {
				t.Errorf("python: %q", out)
			}
		})
	}
}

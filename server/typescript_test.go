package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTypeScriptClient runs the TypeScript client generated from
// openapi.yaml (sdk/typescript, compiled by `make lint` with tsc) against a
// live server: the SDK story for languages other than Go.
func TestTypeScriptClient(t *testing.T) {
	smoke, _ := filepath.Abs(filepath.Join("..", "sdk", "typescript", "dist", "test", "smoke.js"))
	if _, err := os.Stat(smoke); err != nil {
		t.Skip("sdk/typescript not built (make lint builds it)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	e := newEnv(t)
	raw, _ := filepath.Abs(filepath.Join(corpusDir, "msg_07.txt"))
	out, err := exec.Command("node", smoke, e.url, adminToken, raw).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "typescript client: ok") {
		t.Fatalf("node smoke.js: %v\n%s", err, out)
	}
}

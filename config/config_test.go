package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsNeedNothing(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAP.Listen != "127.0.0.1:1143" || c.POP3.Listen != "127.0.0.1:1110" || c.LMTP.Listen != "127.0.0.1:2424" ||
		c.SMTP.Listen != "127.0.0.1:2525" || c.HTTP.Listen != "127.0.0.1:8080" {
		t.Fatalf("default listeners: %+v %+v %+v %+v %+v", c.IMAP, c.POP3, c.LMTP, c.SMTP, c.HTTP)
	}
	if c.Store.Backend != "sqlite" || c.Store.SQLitePath != filepath.Join("data", "eider.db") || c.Store.BlobDir != filepath.Join("data", "blobs") {
		t.Fatalf("default store: %+v", c.Store)
	}
}

func TestFileThenEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "eider.yaml")
	os.WriteFile(p, []byte("data_dir: /var/lib/eider\nimap:\n  listen: 0.0.0.0:143\nlimits:\n  max_message_size: 1000\nstore:\n  journal_retention: 48h\n"), 0o600)
	c, err := Load(p, []string{"EIDER_IMAP_LISTEN=127.0.0.1:9143", "EIDER_LIMITS_MAX_PARTS=7", "PATH=/bin", "EIDER_CONFIG=" + p})
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAP.Listen != "127.0.0.1:9143" {
		t.Errorf("env did not override file: imap %q", c.IMAP.Listen)
	}
	if c.Limits.MaxMessageSize != 1000 || c.Limits.MaxParts != 7 || c.Store.JournalRetention != 48*time.Hour {
		t.Errorf("limits %+v retention %v", c.Limits, c.Store.JournalRetention)
	}
	if c.Store.SQLitePath != "/var/lib/eider/eider.db" {
		t.Errorf("sqlite path %q not derived from data_dir", c.Store.SQLitePath)
	}
}

func TestErrorsAreClear(t *testing.T) {
	p := filepath.Join(t.TempDir(), "eider.yaml")
	os.WriteFile(p, []byte("imap:\n  lisen: x\n"), 0o600)
	if _, err := Load(p, nil); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Errorf("unknown key: err = %v", err)
	}
	if _, err := Load("", []string{"EIDER_IMAP_LISTN=x"}); err == nil || !strings.Contains(err.Error(), "EIDER_IMAP_LISTN") {
		t.Errorf("unknown env var: err = %v", err)
	}
	if _, err := Load("", []string{"EIDER_LIMITS_MAX_PARTS=many"}); err == nil || !strings.Contains(err.Error(), "EIDER_LIMITS_MAX_PARTS") {
		t.Errorf("bad number: err = %v", err)
	}
	if _, err := Load("", []string{"EIDER_STORE_SYNC=sometimes"}); err == nil {
		t.Error("bad sync accepted")
	}
	if _, err := Load("", []string{"EIDER_STORE_SEARCH_MAX_WORD_EXPANSION=0"}); err == nil || !strings.Contains(err.Error(), "search_max_word_expansion") {
		t.Errorf("zero search_max_word_expansion: err = %v", err)
	}
	if _, err := Load("", []string{"EIDER_STORE_JOURNAL_RETENTION=0s"}); err == nil || !strings.Contains(err.Error(), "journal_retention") {
		t.Errorf("zero journal_retention: err = %v", err)
	}
	if c, err := Load("", nil); err != nil || c.Store.JournalRetention != 7*24*time.Hour {
		t.Errorf("default journal_retention %v (err %v), want 7 days", c.Store.JournalRetention, err)
	}
	if _, err := Load("", []string{"EIDER_STORE_REFS_CACHE=-1"}); err == nil || !strings.Contains(err.Error(), "refs_cache") {
		t.Errorf("negative refs_cache: err = %v", err)
	}
	if c, err := Load("", []string{"EIDER_STORE_REFS_CACHE=0"}); err != nil || c.Store.RefsCache != 0 {
		t.Errorf("refs_cache 0 (off): %+v, %v", c.Store.RefsCache, err)
	}
}

func TestEnvNamesCoverEveryLeaf(t *testing.T) {
	names := strings.Join(EnvNames(), " ")
	for _, want := range []string{"EIDER_DATA_DIR", "EIDER_HTTP_LISTEN", "EIDER_STORE_SQLITE_PATH", "EIDER_PASSWORD_MEMORY_KIB"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
}

// The example file documents the defaults: loading it must give Default().
func TestExampleFileIsTheDefaults(t *testing.T) {
	got, err := Load(filepath.Join("..", "eider.example.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Load("", nil)
	if got != want {
		t.Fatalf("eider.example.yaml differs from the defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestDeliveryAndPOP3Settings(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.POP3.MaxMessages != 250 || c.POP3.DeleAction != "trash" || c.POP3.TLSListen != "" ||
		c.Delivery.SpamHeader != "X-Spam-Flag" || c.Delivery.SpamValue != "YES" || c.Delivery.DuplicateWindow != 24*time.Hour ||
		c.Auth.AllowPlaintext || !c.Auth.AllowPlaintextLoopback {
		t.Fatalf("defaults: pop3 %+v delivery %+v auth %+v", c.POP3, c.Delivery, c.Auth)
	}
	c, err = Load("", []string{"EIDER_POP3_DELE_ACTION=expunge", "EIDER_POP3_TLS_LISTEN=0.0.0.0:995",
		"EIDER_AUTH_ALLOW_PLAINTEXT_LOOPBACK=false", "EIDER_DELIVERY_DUPLICATE_WINDOW=0s", "EIDER_TLS_CERT_FILE=/c", "EIDER_TLS_KEY_FILE=/k"})
	if err != nil || c.POP3.DeleAction != "expunge" || c.POP3.TLSListen != "0.0.0.0:995" || c.Auth.AllowPlaintextLoopback ||
		c.Delivery.DuplicateWindow != 0 || c.TLS.CertFile != "/c" {
		t.Fatalf("env: %v %+v", err, c)
	}
	for _, bad := range []string{"EIDER_POP3_DELE_ACTION=shred", "EIDER_TLS_CERT_FILE=/only-cert", "EIDER_POP3_MAX_MESSAGES=0", "EIDER_LIMITS_MAX_COMMAND_LENGTH=100"} {
		if _, err := Load("", []string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestIMAPSettings(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAP.IdleTimeout != 30*time.Minute || c.IMAP.PreAuthTimeout != time.Minute || c.IMAP.TLSListen != "" ||
		c.IMAP.MaxLineLength != 64<<10 || c.IMAP.MaxBadCommands != 20 {
		t.Fatalf("defaults: %+v", c.IMAP)
	}
	c, err = Load("", []string{"EIDER_IMAP_TLS_LISTEN=0.0.0.0:993", "EIDER_IMAP_IDLE_TIMEOUT=1h", "EIDER_IMAP_MAX_CONNECTIONS_PER_IP=0"})
	if err != nil || c.IMAP.TLSListen != "0.0.0.0:993" || c.IMAP.IdleTimeout != time.Hour || c.IMAP.MaxConnectionsPerIP != 0 {
		t.Fatalf("env: %v %+v", err, c.IMAP)
	}
	// RFC 3501 §5.4: the autologout timer is at least 30 minutes.
	for _, bad := range []string{"EIDER_IMAP_IDLE_TIMEOUT=10m", "EIDER_IMAP_PREAUTH_TIMEOUT=0s", "EIDER_IMAP_MAX_LINE_LENGTH=100",
		"EIDER_IMAP_MAX_BAD_COMMANDS=0", "EIDER_IMAP_MAX_CONNECTIONS_PER_USER=-1"} {
		if _, err := Load("", []string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestMongoDBBackendNeedsURI(t *testing.T) {
	if _, err := Load("", []string{"EIDER_STORE_BACKEND=mongodb"}); err == nil || !strings.Contains(err.Error(), "mongo_uri") {
		t.Errorf("mongodb without mongo_uri: err = %v", err)
	}
	c, err := Load("", []string{"EIDER_STORE_BACKEND=mongodb", "EIDER_STORE_MONGO_URI=mongodb://db1/?replicaSet=rs0", "EIDER_REDIS_URL=redis://r:6379/0"})
	if err != nil || c.Store.MongoDatabase != "eider" || c.Redis.URL != "redis://r:6379/0" || c.Redis.Prefix != "eider:" {
		t.Errorf("mongodb config: %+v %+v, %v", c.Store, c.Redis, err)
	}
	if _, err := Load("", []string{"EIDER_STORE_BACKEND=postgres"}); err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("unknown backend: err = %v", err)
	}
}

func TestHTTPAPISettings(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.AdminToken != "" || c.HTTP.TokenSecret != "" || c.HTTP.TokenTTL != 24*time.Hour ||
		c.HTTP.MaxLoginFailures != 10 || c.HTTP.LoginFailureWindow != 5*time.Minute {
		t.Fatalf("defaults: %+v", c.HTTP)
	}
	c, err = Load("", []string{"EIDER_HTTP_ADMIN_TOKEN=0123456789abcdef", "EIDER_HTTP_TOKEN_TTL=1h", "EIDER_HTTP_MAX_LOGIN_FAILURES=3"})
	if err != nil || c.HTTP.AdminToken != "0123456789abcdef" || c.HTTP.TokenTTL != time.Hour || c.HTTP.MaxLoginFailures != 3 {
		t.Fatalf("env: %v %+v", err, c.HTTP)
	}
	for _, bad := range []string{"EIDER_HTTP_TOKEN_TTL=0s", "EIDER_HTTP_MAX_LOGIN_FAILURES=0", "EIDER_HTTP_LOGIN_FAILURE_WINDOW=-1s"} {
		if _, err := Load("", []string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestAuthCacheSettings(t *testing.T) {
	c, err := Load("", nil)
	if err != nil || c.Auth.CacheTTL != 5*time.Minute || c.Auth.CacheMaxEntries != 10000 {
		t.Fatalf("defaults: %v %+v", err, c.Auth)
	}
	c, err = Load("", []string{"EIDER_AUTH_CACHE_TTL=0s", "EIDER_AUTH_CACHE_MAX_ENTRIES=10"})
	if err != nil || c.Auth.CacheTTL != 0 || c.Auth.CacheMaxEntries != 10 {
		t.Fatalf("env: %v %+v", err, c.Auth)
	}
	for _, bad := range []string{"EIDER_AUTH_CACHE_TTL=-1s", "EIDER_AUTH_CACHE_TTL=2h", "EIDER_AUTH_CACHE_MAX_ENTRIES=0"} {
		if _, err := Load("", []string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

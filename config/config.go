// Package config holds every Eider setting. Settings come from, in order of
// precedence: environment variables (EIDER_SECTION_KEY, e.g.
// EIDER_HTTP_LISTEN), the YAML file named by -config or EIDER_CONFIG, and the
// defaults below, which let `eider serve` run with no configuration at all.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Every field has a yaml tag; the
// environment variable of a field is EIDER_ + the upper-cased yaml path
// joined with "_".
type Config struct {
	// DataDir holds the SQLite database, blobs and generated TLS keys.
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	Store   Store  `yaml:"store"`
	Limits  Limits `yaml:"limits"`
	// Listeners: an empty address disables that listener.
	HTTP     Listener `yaml:"http"`
	IMAP     Listener `yaml:"imap"`
	POP3     POP3     `yaml:"pop3"`
	LMTP     Listener `yaml:"lmtp"`
	SMTP     Listener `yaml:"smtp"`
	TLS      TLS      `yaml:"tls"`
	Auth     Auth     `yaml:"auth"`
	Delivery Delivery `yaml:"delivery"`
	Password Password `yaml:"password"`
	// ShutdownTimeout bounds how long in-flight work may take after SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Store selects and configures the storage backend.
type Store struct {
	// Backend is "sqlite" (embedded default) or "mongodb" (distributed).
	Backend string `yaml:"backend"`
	// SQLitePath defaults to DataDir/eider.db.
	SQLitePath string `yaml:"sqlite_path"`
	// Sync is "full" (fsync every commit: an acknowledged message survives
	// power loss) or "normal" (survives a process crash, not power loss).
	Sync string `yaml:"sync"`
	// BlobDir defaults to DataDir/blobs.
	BlobDir string `yaml:"blob_dir"`
	// JournalRetention is how long change-journal entries are kept.
	JournalRetention time.Duration `yaml:"journal_retention"`
}

// Limits bound what one message may be.
type Limits struct {
	MaxMessageSize int64 `yaml:"max_message_size"`
	MaxHeaderSize  int64 `yaml:"max_header_size"`
	MaxMIMEDepth   int   `yaml:"max_mime_depth"`
	MaxParts       int   `yaml:"max_parts"`
	// InlineMax: leaf bodies larger than this go to the blob store.
	InlineMax int64 `yaml:"inline_max"`
	// MaxLineLength bounds one line of SMTP/LMTP input, message data
	// included (RFC 5321 §4.5.3.1.6 allows 1000; real mail is sloppier).
	MaxLineLength int `yaml:"max_line_length"`
	// MaxCommandLength bounds one POP3 command line (RFC 2449 §4 sets 255
	// octets; AUTH initial responses need more).
	MaxCommandLength int `yaml:"max_command_length"`
	// MaxConnections bounds concurrent connections per listener.
	MaxConnections int `yaml:"max_connections"`
}

// POP3 configures the POP3 server (RFC 1939).
type POP3 struct {
	// Listen is the plain (STLS-capable) listener.
	Listen string `yaml:"listen"`
	// TLSListen is the implicit-TLS listener (pop3s, port 995 style).
	TLSListen string `yaml:"tls_listen"`
	// MaxMessages: LIST/UIDL show only the newest this many INBOX messages.
	MaxMessages int `yaml:"max_messages"`
	// DeleAction is what DELE does at QUIT: "trash" (move to Trash) or
	// "expunge" (remove).
	DeleAction string `yaml:"dele_action"`
}

// TLS names the certificate shared by IMAP and POP3. Empty paths: a
// self-signed certificate is generated into DataDir/tls on first use.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Auth sets where plaintext passwords are accepted and how failed logins
// are throttled.
type Auth struct {
	// AllowPlaintext accepts USER/PASS and AUTH PLAIN over unencrypted
	// connections from anywhere.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// AllowPlaintextLoopback accepts them unencrypted from loopback.
	AllowPlaintextLoopback bool `yaml:"allow_plaintext_loopback"`
	// MaxFailures failed logins on one connection close it.
	MaxFailures int `yaml:"max_failures"`
	// FailureDelay is waited before answering a failed login.
	FailureDelay time.Duration `yaml:"failure_delay"`
}

// Delivery configures LMTP/SMTP delivery.
type Delivery struct {
	// Hostname is announced in greetings; empty: the system host name.
	Hostname string `yaml:"hostname"`
	// A message whose SpamHeader equals SpamValue (case-insensitive) goes
	// to Junk. An empty SpamHeader disables this.
	SpamHeader string `yaml:"spam_header"`
	SpamValue  string `yaml:"spam_value"`
	// DuplicateWindow: a Message-ID delivered again to the same mailbox
	// within this window is stored once. 0 disables suppression.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
}

// Listener is one network listener.
type Listener struct {
	Listen string `yaml:"listen"`
}

// Password sets the argon2id cost for new password hashes.
type Password struct {
	Time    uint32 `yaml:"time"`
	Memory  uint32 `yaml:"memory_kib"`
	Threads uint8  `yaml:"threads"`
}

// Default returns the configuration used when nothing is configured.
func Default() Config {
	return Config{
		DataDir: "./data",
		Log:     Log{Level: "info", Format: "text"},
		Store: Store{
			Backend:          "sqlite",
			Sync:             "full",
			JournalRetention: 30 * 24 * time.Hour,
		},
		Limits: Limits{
			MaxMessageSize:   64 << 20,
			MaxHeaderSize:    1 << 20,
			MaxMIMEDepth:     32,
			MaxParts:         5000,
			InlineMax:        16 << 10,
			MaxLineLength:    64 << 10,
			MaxCommandLength: 4096,
			MaxConnections:   1000,
		},
		HTTP: Listener{Listen: "127.0.0.1:8080"},
		IMAP: Listener{Listen: "127.0.0.1:1143"},
		POP3: POP3{Listen: "127.0.0.1:1110", MaxMessages: 250, DeleAction: "trash"},
		LMTP: Listener{Listen: "127.0.0.1:2424"},
		SMTP: Listener{Listen: "127.0.0.1:2525"},
		Auth: Auth{AllowPlaintextLoopback: true, MaxFailures: 3, FailureDelay: 2 * time.Second},
		Delivery: Delivery{
			SpamHeader:      "X-Spam-Flag",
			SpamValue:       "YES",
			DuplicateWindow: 24 * time.Hour,
		},
		Password:        Password{Time: 1, Memory: 64 * 1024, Threads: 2},
		ShutdownTimeout: 30 * time.Second,
	}
}

// Load reads the file at path (if path is not empty), then applies the
// environment (env is a list of KEY=VALUE, as os.Environ returns), then
// fills derived defaults and validates.
func Load(path string, env []string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "EIDER_") {
			vars[k] = v
		}
	}
	delete(vars, "EIDER_CONFIG")
	if err := applyEnv(reflect.ValueOf(&c).Elem(), "EIDER", vars); err != nil {
		return c, err
	}
	for k := range vars {
		return c, fmt.Errorf("config: unknown environment variable %s", k)
	}
	if c.Store.SQLitePath == "" {
		c.Store.SQLitePath = filepath.Join(c.DataDir, "eider.db")
	}
	if c.Store.BlobDir == "" {
		c.Store.BlobDir = filepath.Join(c.DataDir, "blobs")
	}
	return c, c.validate()
}

// EnvNames lists every environment variable Load understands, for docs.
func EnvNames() []string {
	var out []string
	walk(reflect.TypeOf(Config{}), "EIDER", func(name string) { out = append(out, name) })
	return out
}

func walk(t reflect.Type, prefix string, fn func(string)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + "_" + strings.ToUpper(strings.Split(f.Tag.Get("yaml"), ",")[0])
		if f.Type.Kind() == reflect.Struct {
			walk(f.Type, name, fn)
		} else {
			fn(name)
		}
	}
}

func applyEnv(v reflect.Value, prefix string, vars map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + "_" + strings.ToUpper(strings.Split(f.Tag.Get("yaml"), ",")[0])
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, vars); err != nil {
				return err
			}
			continue
		}
		s, ok := vars[name]
		if !ok {
			continue
		}
		delete(vars, name)
		if err := setValue(fv, s); err != nil {
			return fmt.Errorf("config: %s=%q: %w", name, s, err)
		}
	}
	return nil
}

func setValue(fv reflect.Value, s string) error {
	switch fv.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Uint8, reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetUint(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

func (c Config) validate() error {
	var errs []error
	if c.Store.Backend != "sqlite" {
		errs = append(errs, fmt.Errorf("store.backend %q: only \"sqlite\" is available in this build", c.Store.Backend))
	}
	if c.Store.Sync != "full" && c.Store.Sync != "normal" {
		errs = append(errs, fmt.Errorf("store.sync %q: want full or normal", c.Store.Sync))
	}
	if c.Limits.MaxMessageSize <= 0 || c.Limits.MaxHeaderSize <= 0 || c.Limits.MaxMIMEDepth <= 0 || c.Limits.MaxParts <= 0 || c.Limits.InlineMax < 0 {
		errs = append(errs, errors.New("limits: every limit must be positive"))
	}
	if c.Limits.MaxLineLength <= 0 || c.Limits.MaxCommandLength < 255 || c.Limits.MaxConnections <= 0 {
		errs = append(errs, errors.New("limits: max_line_length and max_connections must be positive, max_command_length >= 255"))
	}
	if c.POP3.MaxMessages <= 0 {
		errs = append(errs, errors.New("pop3.max_messages must be positive"))
	}
	if c.POP3.DeleAction != "trash" && c.POP3.DeleAction != "expunge" {
		errs = append(errs, fmt.Errorf("pop3.dele_action %q: want trash or expunge", c.POP3.DeleAction))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: set both cert_file and key_file, or neither"))
	}
	if c.Auth.MaxFailures <= 0 || c.Auth.FailureDelay < 0 || c.Delivery.DuplicateWindow < 0 {
		errs = append(errs, errors.New("auth.max_failures must be positive; auth.failure_delay and delivery.duplicate_window not negative"))
	}
	if c.Password.Time == 0 || c.Password.Memory < 8 || c.Password.Threads == 0 {
		errs = append(errs, errors.New("password: time, memory_kib (>= 8) and threads must be positive"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

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
	Redis   Redis  `yaml:"redis"`
	Limits  Limits `yaml:"limits"`
	// Listeners: an empty address disables that listener.
	HTTP     HTTP     `yaml:"http"`
	IMAP     IMAP     `yaml:"imap"`
	POP3     POP3     `yaml:"pop3"`
	LMTP     Listener `yaml:"lmtp"`
	SMTP     Listener `yaml:"smtp"`
	TLS      TLS      `yaml:"tls"`
	Auth     Auth     `yaml:"auth"`
	Delivery Delivery `yaml:"delivery"`
	Submit   Submit   `yaml:"submit"`
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
	// SearchMaxWordExpansion (sqlite backend) caps how many indexed words
	// one piece of a full-text search string may expand to; a piece beyond
	// it is matched by scanning the stored text instead.
	SearchMaxWordExpansion int `yaml:"search_max_word_expansion"`
	// RefsCache (sqlite backend) is how many message refs (UID, MODSEQ,
	// flags; ~100 bytes each) of large mailboxes are kept in memory for
	// SELECT and FETCH FLAGS; 0 disables the cache.
	RefsCache int `yaml:"refs_cache"`
	// BlobDir defaults to DataDir/blobs.
	BlobDir string `yaml:"blob_dir"`
	// JournalRetention is how long change-journal entries are kept (default
	// 7 days); an update stream resuming from an older cursor gets a reset.
	JournalRetention time.Duration `yaml:"journal_retention"`
	// MongoURI is the MongoDB connection string of the mongodb backend
	// (a replica set in production: docs/deployment.md).
	MongoURI string `yaml:"mongo_uri"`
	// MongoDatabase is the database the mongodb backend uses.
	MongoDatabase string `yaml:"mongo_database"`
}

// Redis configures the Redis shared by the instances of the distributed
// mode: change bus, per-user write locks, POP3 locks.
type Redis struct {
	// URL ("redis://[:password@]host:port[/db]"); empty: no Redis (one
	// instance only: in-process bus and locks).
	URL string `yaml:"url"`
	// Prefix of every key and channel Eider uses.
	Prefix string `yaml:"prefix"`
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

// Submit configures mail sent through the API (POST /users/{user}/submit).
type Submit struct {
	// Relay is the outbound SMTP server (smarthost) that receives mail
	// for recipients who are not local users; an empty Addr disables it.
	Relay Relay `yaml:"relay"`
}

// Relay configures the outbound SMTP relay (package mail/relay).
type Relay struct {
	// Addr is host:port, e.g. "smtp.example.net:587".
	Addr string `yaml:"addr"`
	// TLS is "starttls" (default; refuses to send if it is not offered),
	// "tls" (implicit TLS, port 465) or "none" (loopback only unless
	// AllowPlaintext).
	TLS string `yaml:"tls"`
	// Username and Password authenticate with AUTH PLAIN (over TLS).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// HeloName is the name given in EHLO (default: the host name).
	HeloName string `yaml:"helo_name"`
	// Timeout bounds each SMTP command and the message transfer.
	Timeout time.Duration `yaml:"timeout"`
	// AllowPlaintext permits tls "none" to a non-loopback relay.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// InsecureSkipVerify accepts any relay certificate (testing only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
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
	// CacheTTL is how long a successful password check is remembered (in
	// memory, keyed by an HMAC of the password, dropped when the password
	// hash changes); 0 disables the cache.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// CacheMaxEntries bounds that cache.
	CacheMaxEntries int `yaml:"cache_max_entries"`
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

// HTTP configures the REST API listener and its tokens.
type HTTP struct {
	Listen string `yaml:"listen"`
	// AdminToken, when set, is a bearer token with access to every user and
	// to user administration. Empty: no admin access over HTTP.
	AdminToken string `yaml:"admin_token"`
	// TokenSecret signs user tokens (HMAC-SHA256); every instance sharing a
	// store must share it. Empty: a random one is generated once into
	// DataDir/api-token.key.
	TokenSecret string `yaml:"token_secret"`
	// TokenTTL is how long a token from POST /authenticate works.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// MaxLoginFailures failed logins from one client address within
	// LoginFailureWindow, by HTTP, IMAP and POP3 together (across instances
	// with Redis), make further attempts fail (HTTP 429, IMAP NO
	// [UNAVAILABLE], POP3 -ERR [AUTH]) until it passes.
	MaxLoginFailures   int           `yaml:"max_login_failures"`
	LoginFailureWindow time.Duration `yaml:"login_failure_window"`
	// UpdatesMaxPerUser bounds the open live-update streams
	// (GET /users/{user}/updates) of one user; one more answers 429.
	UpdatesMaxPerUser int `yaml:"updates_max_per_user"`
	// UpdatesQueue is the number of events waiting for one client; a
	// client whose queue stays full for 10s is disconnected (WebSocket
	// close 1013) and resumes with its cursor.
	UpdatesQueue int `yaml:"updates_queue"`
	// UpdatesPing is the keep-alive period of an update stream.
	UpdatesPing time.Duration `yaml:"updates_ping"`
	// UpdatesOrigins is a comma-separated list of browser origins
	// ("https://mail.example.com") allowed to open a WebSocket besides the
	// server's own host; "*" allows any. Clients without Origin always pass.
	UpdatesOrigins string `yaml:"updates_origins"`
}

// IMAP configures the IMAP server (RFC 3501). APPENDLIMIT is
// limits.max_message_size, the connection limit limits.max_connections, and
// plaintext login and failed logins follow the auth section.
type IMAP struct {
	// Listen is the plain (STARTTLS-capable) listener.
	Listen string `yaml:"listen"`
	// TLSListen is the implicit-TLS listener (imaps, port 993 style).
	TLSListen string `yaml:"tls_listen"`
	// IdleTimeout ends a logged-in session that sends nothing (RFC 3501
	// §5.4: at least 30 minutes).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// PreAuthTimeout ends a session that has not logged in.
	PreAuthTimeout time.Duration `yaml:"preauth_timeout"`
	// MaxLineLength bounds one command line, literals excluded.
	MaxLineLength int `yaml:"max_line_length"`
	// MaxBadCommands consecutive BAD answers close the connection.
	MaxBadCommands int `yaml:"max_bad_commands"`
	// MaxConnectionsPerIP bounds concurrent sessions from one client
	// address; 0: no bound beyond limits.max_connections.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxConnectionsPerUser bounds the logged-in sessions of one user on
	// one instance; 0: no bound.
	MaxConnectionsPerUser int `yaml:"max_connections_per_user"`
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
			Backend:                "sqlite",
			Sync:                   "full",
			JournalRetention:       7 * 24 * time.Hour,
			SearchMaxWordExpansion: 1000,
			RefsCache:              500000,
			MongoDatabase:          "eider",
		},
		Redis: Redis{Prefix: "eider:"},
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
		HTTP: HTTP{
			Listen:             "127.0.0.1:8080",
			TokenTTL:           24 * time.Hour,
			MaxLoginFailures:   10,
			LoginFailureWindow: 5 * time.Minute,
			UpdatesMaxPerUser:  20,
			UpdatesQueue:       256,
			UpdatesPing:        30 * time.Second,
		},
		IMAP: IMAP{Listen: "127.0.0.1:1143", IdleTimeout: 30 * time.Minute, PreAuthTimeout: time.Minute,
			MaxLineLength: 64 << 10, MaxBadCommands: 20, MaxConnectionsPerIP: 50, MaxConnectionsPerUser: 50},
		POP3: POP3{Listen: "127.0.0.1:1110", MaxMessages: 250, DeleAction: "trash"},
		LMTP: Listener{Listen: "127.0.0.1:2424"},
		SMTP: Listener{Listen: "127.0.0.1:2525"},
		Auth: Auth{AllowPlaintextLoopback: true, MaxFailures: 3, FailureDelay: 2 * time.Second,
			CacheTTL: 5 * time.Minute, CacheMaxEntries: 10000},
		Delivery: Delivery{
			SpamHeader:      "X-Spam-Flag",
			SpamValue:       "YES",
			DuplicateWindow: 24 * time.Hour,
		},
		Submit:          Submit{Relay: Relay{TLS: "starttls", Timeout: time.Minute}},
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
	switch c.Store.Backend {
	case "sqlite":
	case "mongodb":
		if c.Store.MongoURI == "" || c.Store.MongoDatabase == "" {
			errs = append(errs, errors.New("store.backend mongodb: store.mongo_uri and store.mongo_database are required"))
		}
	default:
		errs = append(errs, fmt.Errorf("store.backend %q: want sqlite or mongodb", c.Store.Backend))
	}
	if c.Store.Sync != "full" && c.Store.Sync != "normal" {
		errs = append(errs, fmt.Errorf("store.sync %q: want full or normal", c.Store.Sync))
	}
	if c.Store.RefsCache < 0 {
		errs = append(errs, fmt.Errorf("store.refs_cache %d: must be 0 (off) or positive", c.Store.RefsCache))
	}
	if c.Store.JournalRetention < time.Minute {
		errs = append(errs, fmt.Errorf("store.journal_retention %v: must be at least 1m", c.Store.JournalRetention))
	}
	if c.Store.SearchMaxWordExpansion <= 0 {
		errs = append(errs, fmt.Errorf("store.search_max_word_expansion %d: must be positive", c.Store.SearchMaxWordExpansion))
	}
	if c.Limits.MaxMessageSize <= 0 || c.Limits.MaxHeaderSize <= 0 || c.Limits.MaxMIMEDepth <= 0 || c.Limits.MaxParts <= 0 || c.Limits.InlineMax < 0 {
		errs = append(errs, errors.New("limits: every limit must be positive"))
	}
	if c.Limits.MaxLineLength <= 0 || c.Limits.MaxCommandLength < 255 || c.Limits.MaxConnections <= 0 {
		errs = append(errs, errors.New("limits: max_line_length and max_connections must be positive, max_command_length >= 255"))
	}
	if c.HTTP.TokenTTL <= 0 || c.HTTP.MaxLoginFailures <= 0 || c.HTTP.LoginFailureWindow <= 0 {
		errs = append(errs, errors.New("http: token_ttl, max_login_failures and login_failure_window must be positive"))
	}
	if c.HTTP.UpdatesMaxPerUser <= 0 || c.HTTP.UpdatesQueue <= 0 || c.HTTP.UpdatesPing < time.Second {
		errs = append(errs, errors.New("http: updates_max_per_user and updates_queue must be positive, updates_ping at least 1s"))
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
	if c.IMAP.IdleTimeout < 30*time.Minute || c.IMAP.PreAuthTimeout <= 0 || c.IMAP.MaxLineLength < 1024 ||
		c.IMAP.MaxBadCommands <= 0 || c.IMAP.MaxConnectionsPerIP < 0 || c.IMAP.MaxConnectionsPerUser < 0 {
		errs = append(errs, errors.New("imap: idle_timeout >= 30m (RFC 3501 §5.4), preauth_timeout and max_bad_commands positive, max_line_length >= 1024, max_connections_per_ip/_per_user not negative"))
	}
	if c.Auth.MaxFailures <= 0 || c.Auth.FailureDelay < 0 || c.Delivery.DuplicateWindow < 0 {
		errs = append(errs, errors.New("auth.max_failures must be positive; auth.failure_delay and delivery.duplicate_window not negative"))
	}
	if c.Auth.CacheTTL < 0 || c.Auth.CacheTTL > time.Hour || c.Auth.CacheMaxEntries <= 0 {
		errs = append(errs, errors.New("auth.cache_ttl must be between 0 (off) and 1h; auth.cache_max_entries positive"))
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

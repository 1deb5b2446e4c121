package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// readPool is the read-only connection pool with a cache of prepared
// statements: the driver does not cache them, and parsing the SQL of a short
// lookup costs as much as running it. A statement prepared on the pool is
// prepared once per connection and reused after that. Query text built from
// variable input stops being cached once the cache holds maxStmts entries.
type readPool struct {
	*sql.DB
	mu        sync.Mutex
	stmts     map[string]*sql.Stmt
	preparing map[string]bool // being prepared in the background (rtx)
}

func newReadPool(db *sql.DB) *readPool {
	return &readPool{DB: db, stmts: map[string]*sql.Stmt{}, preparing: map[string]bool{}}
}

func (p *readPool) stmt(ctx context.Context, q string) *sql.Stmt {
	p.mu.Lock()
	st, ok := p.stmts[q]
	full := len(p.stmts) >= maxStmts
	p.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := p.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil // the plain query reports the error
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.stmts[q]; ok { // prepared concurrently
		st.Close()
		return old
	}
	p.stmts[q] = st
	return st
}

// QueryContext runs q through the statement cache.
func (p *readPool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q through the statement cache.
func (p *readPool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, q, args...)
}

// Close closes the cached statements and the pool.
func (p *readPool) Close() error {
	p.mu.Lock()
	for _, st := range p.stmts {
		st.Close()
	}
	p.stmts = map[string]*sql.Stmt{}
	p.mu.Unlock()
	return p.DB.Close()
}

// rtx is a read transaction (one snapshot) whose queries go through the
// pool's statement cache: Tx.StmtContext reuses the statement already
// prepared on the transaction's connection.
type rtx struct {
	*sql.Tx
	p *readPool
}

// begin starts a read transaction on the pool.
func (p *readPool) begin(ctx context.Context, opts *sql.TxOptions) (*rtx, error) {
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &rtx{Tx: tx, p: p}, nil
}

// cached returns the cached statement for q, or nil. It never prepares in
// the caller's goroutine: preparing on the pool needs a free connection,
// and a transaction holding one while every other connection is held the
// same way would wait forever. A missing statement is prepared in the
// background instead, and this use runs the query unprepared.
func (t *rtx) cached(q string) *sql.Stmt {
	p := t.p
	p.mu.Lock()
	st, ok := p.stmts[q]
	start := !ok && !p.preparing[q] && len(p.stmts)+len(p.preparing) < maxStmts
	if start {
		p.preparing[q] = true
	}
	p.mu.Unlock()
	if start {
		go func() {
			p.stmt(context.Background(), q)
			p.mu.Lock()
			delete(p.preparing, q)
			p.mu.Unlock()
		}()
	}
	return st
}

// QueryContext runs q through the statement cache.
func (t *rtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.cached(q); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q through the statement cache.
func (t *rtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.cached(q); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

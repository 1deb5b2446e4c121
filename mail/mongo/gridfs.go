package mongo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/eidermail/eider/mail/blob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// GridFS is a blob.Store on a GridFS bucket: each blob is a GridFS file
// whose filename is the lowercase hex hash of its bytes (blob.NewHash; SHA-256 in stores written before November 2026).
//
// A blob is first written to a temporary file (hashing as it goes), then,
// at Commit, uploaded unless a file with that name exists (de-duplication).
// GridFS writes the files document after all chunks, so a visible file is
// complete. Two instances committing the same new content at once may both
// upload it: duplicates are harmless (Open reads either, Delete removes
// all, List reports the hash once). Reference counts are kept by the
// message store, not here (see Store.refBlobs).
type GridFS struct {
	bucket *mongo.GridFSBucket
	files  *mongo.Collection
	tmpDir string
}

var _ blob.Store = (*GridFS)(nil)

// NewGridFS returns the blob store on the bucket "blobs" of db. tmpDir
// holds blobs being written ("" = the OS temporary directory).
func NewGridFS(db *mongo.Database, tmpDir string) *GridFS {
	b := db.GridFSBucket(options.GridFSBucket().SetName("blobs"))
	return &GridFS{bucket: b, files: b.GetFilesCollection(), tmpDir: tmpDir}
}

// Create starts a new blob.
func (g *GridFS) Create(ctx context.Context) (blob.Writer, error) {
	f, err := os.CreateTemp(g.tmpDir, "eider-blob-*")
	if err != nil {
		return nil, fmt.Errorf("gridfs: create: %w", err)
	}
	return &gridWriter{g: g, ctx: ctx, f: f, h: blob.NewHash()}, nil
}

// gridWriter spools a blob to a temporary file while hashing it.
type gridWriter struct {
	g    *GridFS
	ctx  context.Context
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

func (w *gridWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("gridfs: write after commit or abort")
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("gridfs: write: %w", err)
	}
	return n, nil
}

// Commit uploads the blob unless it exists; it is durable (written with
// the client's majority write concern) when Commit returns.
func (w *gridWriter) Commit() (string, int64, error) {
	if w.done {
		return "", 0, errors.New("gridfs: commit after commit or abort")
	}
	w.done = true
	defer w.cleanup()
	hash := hex.EncodeToString(w.h.Sum(nil))
	ok, err := w.g.exists(w.ctx, hash)
	if err != nil {
		return "", 0, fmt.Errorf("gridfs: commit %s: %w", hash, err)
	}
	if ok {
		return hash, w.n, nil
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("gridfs: commit %s: %w", hash, err)
	}
	if _, err := w.g.bucket.UploadFromStream(w.ctx, hash, w.f); err != nil {
		return "", 0, fmt.Errorf("gridfs: commit %s: %w", hash, err)
	}
	return hash, w.n, nil
}

func (w *gridWriter) Abort() {
	if !w.done {
		w.done = true
		w.cleanup()
	}
}

func (w *gridWriter) cleanup() {
	w.f.Close()
	os.Remove(w.f.Name())
}

func (g *GridFS) exists(ctx context.Context, hash string) (bool, error) {
	n, err := g.files.CountDocuments(ctx, bson.D{{Key: "filename", Value: hash}}, options.Count().SetLimit(1))
	return n > 0, err
}

// fileIDs returns the IDs of the GridFS files named hash.
func (g *GridFS) fileIDs(ctx context.Context, hash string) ([]any, error) {
	cur, err := g.files.Find(ctx, bson.D{{Key: "filename", Value: hash}}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var ds []struct {
		ID any `bson:"_id"`
	}
	if err := cur.All(ctx, &ds); err != nil {
		return nil, err
	}
	ids := make([]any, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids, nil
}

// Open returns a reader over the blob from off.
func (g *GridFS) Open(ctx context.Context, hash string, off int64) (io.ReadCloser, error) {
	ids, err := g.fileIDs(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("gridfs: open %s: %w", hash, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("gridfs: open %s: %w", hash, blob.ErrNotFound)
	}
	ds, err := g.bucket.OpenDownloadStream(ctx, ids[0])
	if errors.Is(err, mongo.ErrFileNotFound) {
		return nil, fmt.Errorf("gridfs: open %s: %w", hash, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("gridfs: open %s: %w", hash, err)
	}
	if off > 0 {
		if _, err := ds.Skip(off); err != nil {
			ds.Close()
			return nil, fmt.Errorf("gridfs: open %s at %d: %w", hash, off, err)
		}
	}
	return ds, nil
}

// Delete removes every GridFS file named hash; a missing blob is not an error.
func (g *GridFS) Delete(ctx context.Context, hash string) error {
	ids, err := g.fileIDs(ctx, hash)
	if err != nil {
		return fmt.Errorf("gridfs: delete %s: %w", hash, err)
	}
	for _, id := range ids {
		if err := g.bucket.Delete(ctx, id); err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
			return fmt.Errorf("gridfs: delete %s: %w", hash, err)
		}
	}
	return nil
}

// List calls fn once per stored hash.
func (g *GridFS) List(ctx context.Context, fn func(hash string, size int64) error) error {
	cur, err := g.files.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "filename", Value: 1}, {Key: "length", Value: 1}}))
	if err != nil {
		return fmt.Errorf("gridfs: list: %w", err)
	}
	defer cur.Close(ctx)
	seen := map[string]bool{}
	for cur.Next(ctx) {
		var d struct {
			Name   string `bson:"filename"`
			Length int64  `bson:"length"`
		}
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("gridfs: list: %w", err)
		}
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		if err := fn(d.Name, d.Length); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("gridfs: list: %w", err)
	}
	return nil
}

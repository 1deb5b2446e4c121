package mongo

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/eidermail/eider/mail/blob"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrBlobMissing is returned by an append whose blob vanished before its
// reference was taken (a concurrent delete of the same content dropped the
// last reference in between). Nothing was stored; the caller may retry
// with the content written again.
var ErrBlobMissing = errors.New("blob missing")

// blobLock is the lock key under which reference counts change and
// unreferenced blobs are deleted, across every instance: a reference is
// never taken on a blob that is being deleted.
const blobLock = "blobs"

// refDoc is a document of "blobrefs": the reference count of one blob.
type refDoc struct {
	Hash string `bson:"_id"`
	Refs int64  `bson:"refs"`
	Size int64  `bson:"size"`
}

// hashCounts returns, per blob hash, how many segments reference it.
func hashCounts(segs []blob.Segment) map[string]int64 {
	m := map[string]int64{}
	for _, sg := range segs {
		if sg.Hash != "" {
			m[sg.Hash]++
		}
	}
	return m
}

// refBlobs takes one reference per blob segment of every list, under the
// blobs lock. A blob whose count was zero must still exist in the blob
// store (checked under the lock, so it cannot be deleted afterwards);
// otherwise the references are given back and ErrBlobMissing returned.
func (s *Store) refBlobs(ctx context.Context, lists [][]blob.Segment) error {
	counts, sizes := map[string]int64{}, map[string]int64{}
	for _, segs := range lists {
		for _, sg := range segs {
			if sg.Hash != "" {
				counts[sg.Hash]++
				sizes[sg.Hash] = sg.Size
			}
		}
	}
	if len(counts) == 0 {
		return nil
	}
	unlock, err := s.lock.Lock(ctx, blobLock)
	if err != nil {
		return fmt.Errorf("blob refs: %w", err)
	}
	defer unlock()
	hashes := make([]string, 0, len(counts))
	for h := range counts {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	var taken []string
	giveBack := func() {
		for _, h := range taken {
			_, _ = s.refs.UpdateOne(context.WithoutCancel(ctx), byID(h), bson.D{{Key: "$inc", Value: bson.D{{Key: "refs", Value: -counts[h]}}}})
		}
	}
	for _, h := range hashes {
		var d refDoc
		err := s.refs.FindOneAndUpdate(ctx, byID(h), bson.D{
			{Key: "$inc", Value: bson.D{{Key: "refs", Value: counts[h]}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "size", Value: sizes[h]}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
		if err != nil {
			giveBack()
			return fmt.Errorf("blob ref %s: %w", h, err)
		}
		taken = append(taken, h)
		if d.Refs == counts[h] { // first references: the blob must be there
			rc, err := s.blobs.Open(ctx, h, 0)
			if err != nil {
				giveBack()
				s.dropZeroRefs(context.WithoutCancel(ctx), taken)
				if errors.Is(err, blob.ErrNotFound) {
					return fmt.Errorf("blob %s: %w", h, ErrBlobMissing)
				}
				return fmt.Errorf("blob %s: %w", h, err)
			}
			rc.Close()
		}
	}
	return nil
}

// dropZeroRefs removes reference documents left at zero by giveBack.
func (s *Store) dropZeroRefs(ctx context.Context, hashes []string) {
	for _, h := range hashes {
		_, _ = s.refs.DeleteOne(ctx, bson.D{{Key: "_id", Value: h}, {Key: "refs", Value: bson.D{{Key: "$lte", Value: 0}}}})
	}
}

// unrefBlobs drops references, under the blobs lock; a blob whose count
// reaches zero loses its document and is deleted from the blob store
// before the lock is released. A failed blob delete leaves an orphan,
// which CheckConsistency reports; never a dangling reference.
func (s *Store) unrefBlobs(ctx context.Context, counts map[string]int64) error {
	if len(counts) == 0 {
		return nil
	}
	unlock, err := s.lock.Lock(ctx, blobLock)
	if err != nil {
		return fmt.Errorf("blob refs: %w", err)
	}
	defer unlock()
	for h, n := range counts {
		var d refDoc
		err := s.refs.FindOneAndUpdate(ctx, byID(h), bson.D{{Key: "$inc", Value: bson.D{{Key: "refs", Value: -n}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			s.log.Warn("mongo: blob reference missing on release", "hash", h)
			continue
		}
		if err != nil {
			return fmt.Errorf("blob unref %s: %w", h, err)
		}
		if d.Refs <= 0 {
			if _, err := s.refs.DeleteOne(ctx, byID(h)); err != nil {
				return fmt.Errorf("blob unref %s: %w", h, err)
			}
			_ = s.blobs.Delete(context.WithoutCancel(ctx), h)
		}
	}
	return nil
}

package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	migs "github.com/eidermail/eider/migrations/mongo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// migStep is one step of a migration file: create a collection, or (with
// Index) an index on it.
type migStep struct {
	Collection string  `json:"collection"`
	Index      string  `json:"index"`
	Keys       [][]any `json:"keys"`
	Unique     bool    `json:"unique"`
	// TTLSeconds, when present, makes a TTL index: documents go that many
	// seconds after the date in the (single) key field; 0 = at that date.
	// FerretDB has no TTL index: there it is a plain index, logged.
	TTLSeconds *int32 `json:"ttl_seconds"`
}

// migrate applies every migration not yet recorded in "migrations". Steps
// are idempotent, so instances starting together may both apply one.
func (s *Store) migrate(ctx context.Context) error {
	ents, err := fs.ReadDir(migs.Files, ".")
	if err != nil {
		return fmt.Errorf("mongo: migrate: %w", err)
	}
	type mig struct {
		v    int
		name string
	}
	var ms []mig
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".json") {
			return fmt.Errorf("mongo: migrate: bad migration file name %q", e.Name())
		}
		ms = append(ms, mig{v, e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].v < ms[j].v })
	done := map[int]bool{}
	cur, err := s.db.Collection("migrations").Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("mongo: migrate: %w", err)
	}
	var recs []struct {
		V int `bson:"_id"`
	}
	if err := cur.All(ctx, &recs); err != nil {
		return fmt.Errorf("mongo: migrate: %w", err)
	}
	for _, r := range recs {
		done[r.V] = true
	}
	for _, m := range ms {
		if done[m.v] {
			continue
		}
		body, err := fs.ReadFile(migs.Files, m.name)
		if err != nil {
			return fmt.Errorf("mongo: migrate %s: %w", m.name, err)
		}
		var steps []migStep
		if err := json.Unmarshal(body, &steps); err != nil {
			return fmt.Errorf("mongo: migrate %s: %w", m.name, err)
		}
		for i, st := range steps {
			if err := s.applyStep(ctx, st); err != nil {
				return fmt.Errorf("mongo: migrate %s step %d: %w", m.name, i, err)
			}
		}
		_, err = s.db.Collection("migrations").UpdateOne(ctx, bson.D{{Key: "_id", Value: m.v}},
			bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "name", Value: m.name}, {Key: "applied", Value: time.Now().UnixNano()}}}},
			options.UpdateOne().SetUpsert(true))
		if err != nil && !isDup(err) { // a concurrent starter recorded it first
			return fmt.Errorf("mongo: migrate %s: record: %w", m.name, err)
		}
		s.log.Info("mongo: migration applied", "migration", m.name)
	}
	return nil
}

func (s *Store) applyStep(ctx context.Context, st migStep) error {
	if st.Index == "" {
		err := s.db.CreateCollection(ctx, st.Collection)
		var ce mongo.CommandError
		if errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists") {
			return nil // created before, or by a concurrent starter
		}
		return err
	}
	keys := bson.D{}
	for _, k := range st.Keys {
		if len(k) != 2 {
			return fmt.Errorf("index %s: bad key %v", st.Index, k)
		}
		name, _ := k[0].(string)
		dir, _ := k[1].(float64)
		keys = append(keys, bson.E{Key: name, Value: int32(dir)})
	}
	opts := options.Index().SetName(st.Index)
	if st.Unique {
		opts.SetUnique(true)
	}
	if st.TTLSeconds != nil {
		if s.ferret {
			s.log.Warn("mongo: FerretDB has no TTL index: created as a plain index; expired documents are deleted by the periodic prune",
				"collection", st.Collection, "index", st.Index)
		} else {
			opts.SetExpireAfterSeconds(*st.TTLSeconds)
		}
	}
	_, err := s.db.Collection(st.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: opts})
	return err
}

package imap

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"

	"github.com/eidermail/eider/imap/wire"
)

func init() {
	register("COMPRESS", handler{fn: (*Session).compress, states: inAuth})
}

// deflateConn is the COMPRESS=DEFLATE transport (RFC 4978): raw deflate
// (RFC 1951) both ways over the connection below. The reader is
// klauspost's with WithPartialBlock: it returns the data of every block as
// soon as the block ends, so a client that flushes with Z_PARTIAL_FLUSH
// (an empty fixed block, no byte-aligned sync marker) is answered at once;
// Go's compress/flate (and klauspost's default mode) wait for more input.
type deflateConn struct {
	r     io.ReadCloser
	fw    *flate.Writer
	dirty bool // written to since the last Flush
}

func (d *deflateConn) Read(p []byte) (int, error) { return d.r.Read(p) }
func (d *deflateConn) Write(p []byte) (int, error) {
	d.dirty = true
	return d.fw.Write(p)
}

// Flush ends the current deflate block with a sync flush so the client can
// decode everything written so far (RFC 4978 §4).
func (d *deflateConn) Flush() error {
	d.dirty = false
	return d.fw.Flush()
}

// compressionLevel trades CPU for bandwidth; 5 is deflate's usual middle.
const compressionLevel = 5

// compress: COMPRESS DEFLATE (RFC 4978 §3). After the tagged OK both
// directions are compressed; whatever the client sent after the command's
// CRLF is already compressed data and is fed to the decompressor first.
func (s *Session) compress(cmd *wire.Command) error {
	a := cmd.Args.(*wire.CompressArgs)
	if s.compressed != nil {
		return no(wire.CodeCompressionActive, "compression is already active")
	}
	if a.Algorithm != "DEFLATE" {
		return bad("", "unsupported compression algorithm %s", a.Algorithm)
	}
	s.w.StatusResponse(cmd.Tag, wire.OK, "", "DEFLATE active")
	if err := s.flush(); err != nil {
		return closeSession(err)
	}
	pending, err := s.br.Peek(s.br.Buffered())
	if err != nil {
		return closeSession(fmt.Errorf("compress: %w", err))
	}
	below := s.rw
	src := io.MultiReader(bytes.NewReader(bytes.Clone(pending)), below)
	fw, err := flate.NewWriter(below, compressionLevel)
	if err != nil {
		return closeSession(errors.Join(errors.New("compress: new writer"), err))
	}
	s.compressed = &deflateConn{r: flate.NewReaderOpts(src, flate.WithPartialBlock()), fw: fw}
	s.resetTransport(s.compressed)
	return errAnswered
}

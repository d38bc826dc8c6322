package rendersim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Cursors and page tokens are opaque to clients: base64url of a versioned, '|'-separated record
// that carries the instance's epoch, so a cursor from another instance, or from before the
// simulator restarted, is refused (400 invalid_cursor) instead of silently skipping changes.

var enc = base64.RawURLEncoding

var errBadToken = errors.New("malformed")

func encodeCursor(epoch string, seq int64) string {
	return enc.EncodeToString([]byte("c1|" + epoch + "|" + strconv.FormatInt(seq, 10)))
}

// decodeCursor returns the sequence number a cursor stands for; "" is the start of the feed.
func decodeCursor(epoch, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	f, err := fields(s, "c1", 3)
	if err != nil {
		return 0, err
	}
	if f[1] != epoch {
		return 0, fmt.Errorf("%w: cursor from another instance or epoch", errBadToken)
	}
	seq, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || seq < 0 {
		return 0, errBadToken
	}
	return seq, nil
}

// pageToken addresses one page of one poll: changes with from < seq <= high, starting at
// offset; repeat marks the second serving of a page under the DuplicatePages fault.
type pageToken struct {
	from, high int64
	offset     int
	repeat     bool
}

func encodePageToken(epoch string, p pageToken) string {
	rep := "0"
	if p.repeat {
		rep = "1"
	}
	return enc.EncodeToString([]byte(fmt.Sprintf("p1|%s|%d|%d|%d|%s", epoch, p.from, p.high, p.offset, rep)))
}

func decodePageToken(epoch, s string) (pageToken, error) {
	f, err := fields(s, "p1", 6)
	if err != nil {
		return pageToken{}, err
	}
	if f[1] != epoch {
		return pageToken{}, fmt.Errorf("%w: page token from another instance or epoch", errBadToken)
	}
	from, err1 := strconv.ParseInt(f[2], 10, 64)
	high, err2 := strconv.ParseInt(f[3], 10, 64)
	off, err3 := strconv.Atoi(f[4])
	if err := errors.Join(err1, err2, err3); err != nil || from < 0 || high < from || off < 0 || (f[5] != "0" && f[5] != "1") {
		return pageToken{}, errBadToken
	}
	return pageToken{from: from, high: high, offset: off, repeat: f[5] == "1"}, nil
}

func fields(s, version string, n int) ([]string, error) {
	raw, err := enc.DecodeString(s)
	if err != nil {
		return nil, errBadToken
	}
	f := strings.Split(string(raw), "|")
	if len(f) != n || f[0] != version {
		return nil, errBadToken
	}
	return f, nil
}

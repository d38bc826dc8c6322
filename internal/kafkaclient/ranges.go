package kafkaclient

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StableRange returns, for each partition of topic holding records between its start (or the
// first offset at or after since, when since is not zero) and its last stable offset, where to
// start reading and the end offset (exclusive). A read-committed reader that has seen offset
// end-1 of every partition, control records included, has read the topic to its stable end.
func StableRange(ctx context.Context, adm *kadm.Client, topic string, since time.Time) (map[int32]kgo.Offset, map[int32]int64, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	var starts kadm.ListedOffsets
	if since.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, topic)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	from, end := map[int32]kgo.Offset{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Offset < o.Offset {
			from[o.Partition], end[o.Partition] = kgo.NewOffset().At(s.Offset), o.Offset
		}
	})
	return from, end, nil
}

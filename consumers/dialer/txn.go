package dialer

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/osprey-strike/strike/internal/topics"
)

// txn is one Kafka transaction of the loop. It owns the one choice that differs between its two
// kinds:
//
//   - a batch with consumed records runs in the group session (Begin/End): its offsets commit
//     with the group's generation, so the broker fences a member that lost its partitions;
//   - a batch of internal inputs only (timers, Twilio results) consumed nothing. The session's
//     End would, without offsets to commit, hold its rebalance lock 500 ms after the commit
//     (franz-go's pre-KIP-447 guard), capping such batches at two a second. It runs as a plain
//     transaction of the same producer instead, and fences itself at the broker the same way:
//     it re-commits, inside the transaction, the offsets the group already has for the
//     partitions it touched, with this member's generation (TxnOffsetCommit, KIP-447). A zombie
//     (a replica paused past its session timeout) gets ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID
//     and the transaction aborts: it can neither commit state nor, therefore, place calls.
type txn struct {
	sess    *kgo.GroupTransactSession
	group   string
	txnID   string
	topicID *topicID
	raw     bool
}

// topicID caches the id of strike.eco.events.v1: TxnOffsetCommit v6 (KIP-1319) names topics by
// id. It is read again after an UNKNOWN_TOPIC_ID (the topic was recreated).
type topicID struct {
	id    [16]byte
	known bool
}

func (t *topicID) get(ctx context.Context, cl *kgo.Client) ([16]byte, error) {
	if t.known {
		return t.id, nil
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, topics.ECOEvents)
	if err != nil {
		return t.id, fmt.Errorf("metadata of %s: %w", topics.ECOEvents, err)
	}
	td, ok := md.Topics[topics.ECOEvents]
	if !ok || td.Err != nil {
		return t.id, fmt.Errorf("metadata of %s: %v", topics.ECOEvents, td.Err)
	}
	t.id, t.known = td.ID, true
	return t.id, nil
}

// begin starts a transaction; raw when the batch consumed no records.
func begin(sess *kgo.GroupTransactSession, group, txnID string, ids *topicID, raw bool) (*txn, error) {
	t := &txn{sess: sess, group: group, txnID: txnID, topicID: ids, raw: raw}
	var err error
	if raw {
		err = sess.Client().BeginTransaction()
	} else {
		err = sess.Begin()
	}
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return t, nil
}

// produce writes the batch's records in the transaction.
func (t *txn) produce(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := t.sess.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// errFenced: the broker refused this member's generation; the batch is left to the owner.
var errFenced = errors.New("fenced: this replica no longer owns the partitions")

// commit ends the transaction. parts are the eco.events partitions whose ring-downs the batch
// changed; owns is the local view of ownership since the batch began (checked too: it is cheaper
// than a round trip, catches a revoke the broker has not acted on yet, and catches a partition
// that was revoked and assigned back meanwhile, whose ring-downs another replica may have
// changed: the broker's generation check alone would let that commit through). It reports whether the transaction
// committed; false with a nil error means a rebalance or a fence aborted it.
func (t *txn) commit(ctx context.Context, parts []int32, owns func(int32) bool) (bool, error) {
	ctx = context.WithoutCancel(ctx)
	if !t.raw {
		return t.sess.End(ctx, kgo.TryCommit)
	}
	cl := t.sess.Client()
	how := kgo.TryCommit
	for _, p := range parts {
		if !owns(p) {
			how = kgo.TryAbort
		}
	}
	if how == kgo.TryCommit {
		if err := t.fence(ctx, parts); err != nil {
			if !errors.Is(err, errFenced) {
				_ = cl.EndTransaction(ctx, kgo.TryAbort)
				return false, err
			}
			how = kgo.TryAbort
		}
	}
	if err := cl.Flush(ctx); err != nil {
		how = kgo.TryAbort
	}
	if err := cl.EndTransaction(ctx, how); err != nil {
		return false, fmt.Errorf("end transaction: %w", err)
	}
	return how == kgo.TryCommit, nil
}

// abort ends the transaction without committing.
func (t *txn) abort(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	if t.raw {
		return t.sess.Client().EndTransaction(ctx, kgo.TryAbort)
	}
	_, err := t.sess.End(ctx, kgo.TryAbort)
	return err
}

// fence re-commits the group's committed offsets of parts inside the transaction with this
// member's generation. Partitions without a committed offset are skipped (a group that has not
// committed there yet); if none has one, the local ownership check stands alone.
func (t *txn) fence(ctx context.Context, parts []int32) error {
	cl := t.sess.Client()
	member, gen := cl.GroupMetadata()
	if gen < 0 || member == "" {
		return errFenced
	}
	committed := cl.CommittedOffsets()[topics.ECOEvents]
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topics.ECOEvents
	for _, p := range parts {
		eo, ok := committed[p]
		if !ok || eo.Offset < 0 {
			continue
		}
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, eo.Offset, eo.Epoch
		rt.Partitions = append(rt.Partitions, rp)
	}
	if len(rt.Partitions) == 0 {
		return nil
	}
	var err error
	if rt.TopicID, err = t.topicID.get(ctx, cl); err != nil {
		return err
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("producer id: %w", err)
	}
	txnID := t.txnID
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, pid, epoch, t.group
	addResp, err := add.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("add offsets to transaction: %w", err)
	}
	if err := kerr.ErrorForCode(addResp.ErrorCode); err != nil {
		return fmt.Errorf("add offsets to transaction: %w", err)
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, t.group, pid, epoch
	req.Generation, req.MemberID = gen, member
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{rt}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("fence offsets: %w", err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			switch err := kerr.ErrorForCode(rp.ErrorCode); {
			case err == nil:
			case errors.Is(err, kerr.UnknownTopicID):
				t.topicID.known = false
				return fmt.Errorf("fence offsets %s/%d: %w", rt.Topic, rp.Partition, err)
			case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.UnknownMemberID),
				errors.Is(err, kerr.FencedInstanceID), errors.Is(err, kerr.RebalanceInProgress):
				return fmt.Errorf("%w: %v", errFenced, err)
			default:
				return fmt.Errorf("fence offsets %s/%d: %w", rt.Topic, rp.Partition, err)
			}
		}
	}
	return nil
}

// franzcheck drives a broker with franz-go (github.com/twmb/franz-go), a
// pure-Go Kafka client that shares no code with librdkafka or the Java
// client, for tests/integration/test_clients_franz.py.
//
//	franzcheck produce -brokers B -topic T -n N [-size S] [-keys K]
//	           [-acks all|leader|none] [-compression none|gzip|snappy|lz4|zstd]
//	           [-idempotent=true]
//	franzcheck consume -brokers B -topic T -n N [-timeout D]
//	           [-isolation committed|uncommitted]
//	franzcheck txn -brokers B -topic T -n N -txid X
//	franzcheck member -brokers B -topic T -group G [-protocol classic|consumer]
//	           [-instance ID] [-regex] [-missing-after D] [-metadata-min-age D]
//	           [-fetch-max-wait D]
//	           (-regex: T is a pattern, kgo.ConsumeRegex; -missing-after:
//	           kgo.ConsiderMissingTopicDeletedAfter, default 15s;
//	           -metadata-min-age: kgo.MetadataMinAge, default 5s;
//	           -fetch-max-wait: kgo.FetchMaxWait, default 5s)
//	franzcheck versions -brokers B
//
// versions prints the broker version franz-go infers from ApiVersions
// (kversion.VersionGuess, what kcl's probe-version shows).
//
// produce, consume and txn print one JSON object on stdout and exit 0 only
// when the client reported no error. member consumes in a group until
// SIGTERM (then leaves the group) and prints one JSON line per record and per
// assignment change, committing after every poll.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

var out = json.NewEncoder(os.Stdout)
var outMu sync.Mutex

func emit(v any) {
	outMu.Lock()
	defer outMu.Unlock()
	if err := out.Encode(v); err != nil {
		fail("stdout: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "franzcheck: "+format+"\n", args...)
	os.Exit(1)
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	fail("unknown compression %q", name)
	return kgo.NoCompression()
}

func acks(name string) kgo.Acks {
	switch name {
	case "all":
		return kgo.AllISRAcks()
	case "leader":
		return kgo.LeaderAck()
	case "none":
		return kgo.NoAck()
	}
	fail("unknown acks %q", name)
	return kgo.AllISRAcks()
}

func value(prefix string, i, size int) []byte {
	v := fmt.Sprintf("%s-%d-", prefix, i)
	if len(v) < size {
		v += strings.Repeat("x", size-len(v))
	}
	return []byte(v)
}

func cmdProduce(args []string) {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap servers")
	topic := fs.String("topic", "", "topic")
	n := fs.Int("n", 1000, "records")
	size := fs.Int("size", 100, "value size")
	keys := fs.Int("keys", 0, "distinct keys (0: no key)")
	ack := fs.String("acks", "all", "all|leader|none")
	comp := fs.String("compression", "none", "codec")
	idem := fs.Bool("idempotent", true, "idempotent producer")
	_ = fs.Parse(args)
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.DefaultProduceTopic(*topic),
		kgo.RequiredAcks(acks(*ack)),
		kgo.ProducerBatchCompression(codec(*comp)),
		kgo.ProducerLinger(5 * time.Millisecond),
	}
	if !*idem || *ack != "all" {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var firstErr error
	perPart := map[int32]int{}
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		r := &kgo.Record{Value: value("v", i, *size)}
		if *keys > 0 {
			r.Key = []byte(fmt.Sprintf("k-%d", i%*keys))
		}
		r.Headers = []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(i))}}
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			perPart[r.Partition]++
		})
	}
	wg.Wait()
	if firstErr != nil {
		fail("produce: %v", firstErr)
	}
	emit(map[string]any{"produced": *n, "partitions": perPart})
}

// consumeAll reads from the start of every partition of topic until n
// records arrived or the timeout passed, checking that offsets only grow
// within a partition.
func consumeAll(brokers, topic string, n int, timeout time.Duration, level kgo.IsolationLevel) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(level),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var recs []*kgo.Record
	last := map[int32]int64{}
	for len(recs) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = fmt.Errorf("%s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return recs, ferr
		}
		for _, r := range fetches.Records() {
			if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
				return recs, fmt.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
			}
			last[r.Partition] = r.Offset
			recs = append(recs, r)
		}
	}
	return recs, nil
}

func cmdConsume(args []string) {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap servers")
	topic := fs.String("topic", "", "topic")
	n := fs.Int("n", 1000, "records to wait for")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after")
	iso := fs.String("isolation", "uncommitted", "committed|uncommitted")
	_ = fs.Parse(args)
	level := kgo.ReadUncommitted()
	if *iso == "committed" {
		level = kgo.ReadCommitted()
	}
	recs, err := consumeAll(*brokers, *topic, *n, *timeout, level)
	if err != nil {
		fail("consume: %v", err)
	}
	values := make([]string, 0, len(recs))
	perPart := map[int32]int{}
	seqOK := true
	for _, r := range recs {
		// Keep the value prefix only ("v-17"): the padding says nothing.
		v := string(r.Value)
		if i := strings.LastIndexByte(v, '-'); i > 0 {
			v = v[:i]
		}
		values = append(values, v)
		perPart[r.Partition]++
		if len(r.Headers) != 1 || r.Headers[0].Key != "seq" {
			seqOK = false
		}
	}
	sort.Strings(values)
	emit(map[string]any{"records": len(recs), "values": values, "partitions": perPart,
		"headers_ok": seqOK})
}

func cmdTxn(args []string) {
	fs := flag.NewFlagSet("txn", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap servers")
	topic := fs.String("topic", "", "topic")
	n := fs.Int("n", 100, "records per transaction")
	txid := fs.String("txid", "franzcheck", "transactional.id")
	_ = fs.Parse(args)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.DefaultProduceTopic(*topic),
		kgo.TransactionalID(*txid),
	)
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(prefix string, commit kgo.TransactionEndTry) {
		if err := cl.BeginTransaction(); err != nil {
			fail("begin: %v", err)
		}
		for i := 0; i < *n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value(prefix, i, 0)}).FirstErr(); err != nil {
				fail("produce %s: %v", prefix, err)
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			fail("end %s: %v", prefix, err)
		}
	}
	run("commit1", kgo.TryCommit)
	run("abort", kgo.TryAbort)
	run("commit2", kgo.TryCommit)
	emit(map[string]any{"committed": 2 * *n, "aborted": *n})
}

func topicsOf(m map[string][]int32) []string {
	ts := []string{}
	for t, v := range m {
		if len(v) > 0 {
			ts = append(ts, t)
		}
	}
	sort.Strings(ts)
	return ts
}

func partitionsOf(m map[string][]int32) []int32 {
	var ps []int32
	for _, v := range m {
		ps = append(ps, v...)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func cmdMember(args []string) {
	fs := flag.NewFlagSet("member", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap servers")
	topic := fs.String("topic", "", "topic")
	group := fs.String("group", "", "group id")
	protocol := fs.String("protocol", "classic", "classic|consumer")
	instance := fs.String("instance", "", "group.instance.id")
	regex := fs.Bool("regex", false, "subscribe to the topics matching -topic")
	missingAfter := fs.Duration("missing-after", 0, "ConsiderMissingTopicDeletedAfter")
	metaMinAge := fs.Duration("metadata-min-age", 0, "MetadataMinAge")
	fetchMaxWait := fs.Duration("fetch-max-wait", 0, "FetchMaxWait")
	_ = fs.Parse(args)
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumeTopics(*topic),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			emit(map[string]any{"event": "assigned", "partitions": partitionsOf(m),
				"topics": topicsOf(m)})
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			// Commit what was processed before giving the partitions up.
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				emit(map[string]any{"event": "commit_error", "error": err.Error()})
			}
			emit(map[string]any{"event": "revoked", "partitions": partitionsOf(m),
				"topics": topicsOf(m)})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			emit(map[string]any{"event": "lost", "partitions": partitionsOf(m),
				"topics": topicsOf(m)})
		}),
	}
	if *protocol == "consumer" {
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()),
			kgo.ServerSideBalancer())
	}
	if *instance != "" {
		opts = append(opts, kgo.InstanceID(*instance))
	}
	if *regex {
		opts = append(opts, kgo.ConsumeRegex())
	}
	if os.Getenv("FRANZCHECK_DEBUG") != "" {
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil)))
	}
	if *fetchMaxWait > 0 {
		opts = append(opts, kgo.FetchMaxWait(*fetchMaxWait))
	}
	if *metaMinAge > 0 {
		opts = append(opts, kgo.MetadataMinAge(*metaMinAge))
	}
	if *missingAfter > 0 {
		opts = append(opts, kgo.ConsiderMissingTopicDeletedAfter(*missingAfter))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail("client: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	emit(map[string]any{"event": "started"})
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			emit(map[string]any{"event": "fetch_error", "partition": p, "error": err.Error()})
		})
		for _, r := range fetches.Records() {
			emit(map[string]any{"event": "record", "partition": r.Partition, "offset": r.Offset,
				"value": string(r.Value)})
		}
		if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
			emit(map[string]any{"event": "commit_error", "error": err.Error()})
		}
	}
	// Close leaves the group (LeaveGroup or a heartbeat with epoch -1).
	cl.Close()
	emit(map[string]any{"event": "closed"})
}

func cmdVersions(args []string) {
	fs := flag.NewFlagSet("versions", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap servers")
	fs.Parse(args)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "franzcheck"
	req.ClientSoftwareVersion = "1.0"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		fail("ApiVersions: %v", err)
	}
	emit(map[string]any{"guess": kversion.FromApiVersionsResponse(resp).VersionGuess()})
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: franzcheck produce|consume|txn|member|versions [flags]")
	}
	switch os.Args[1] {
	case "produce":
		cmdProduce(os.Args[2:])
	case "consume":
		cmdConsume(os.Args[2:])
	case "txn":
		cmdTxn(os.Args[2:])
	case "member":
		cmdMember(os.Args[2:])
	case "versions":
		cmdVersions(os.Args[2:])
	default:
		fail("unknown command %q", os.Args[1])
	}
}

// The testkit/kafka scenario with franz-go: create the topic (kadm), produce
// --count keyed records with headers (idempotent, acks=all, franz-go's default
// sticky-key partitioner, which hashes keys with the Java client's murmur2),
// consume them back, print the JSON summary line (testkit/kafka/README.md).
// Built by scripts/install-kafka-clients into target/kafka-go/kafka-scenario:
//
//	target/kafka-go/kafka-scenario --bootstrap 127.0.0.1:9092 --topic T --count 1000 --partitions 8 [--consume group|assign]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const keys = 100

type args struct {
	bootstrap  string
	topic      string
	count      int
	partitions int
	consume    string
	timeout    time.Duration
	run        string
}

func keyOf(i int) string { return fmt.Sprintf("key-%d", i%keys) }
func valueOf(run string, i int) string {
	return fmt.Sprintf("%s:%d:%s", run, i, strings.Repeat("x", i%97))
}
func headersOf(run string, i int) [][2]string {
	return [][2]string{{"run", run}, {"idx", strconv.Itoa(i)}, {"dup", "a"}, {"dup", "b"}}
}

// murmur2 is org.apache.kafka.common.utils.Utils.murmur2.
func murmur2(data []byte) int32 {
	const m, r = uint32(0x5bd1e995), 24
	length := len(data)
	h := uint32(0x9747b28c) ^ uint32(length)
	n4 := length / 4
	for i := 0; i < n4; i++ {
		o := i * 4
		k := uint32(data[o]) | uint32(data[o+1])<<8 | uint32(data[o+2])<<16 | uint32(data[o+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	base := n4 * 4
	switch length % 4 {
	case 3:
		h ^= uint32(data[base+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[base+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[base])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func murmur2Partition(key string, n int) int {
	return int(murmur2([]byte(key))&0x7fffffff) % n
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

// baseOpts: the seed broker, and franz-go's own log on stderr when
// KAFKA_SCENARIO_DEBUG is set (debug, info, warn or error).
func baseOpts(a args) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(a.bootstrap)}
	levels := map[string]kgo.LogLevel{"debug": kgo.LogLevelDebug, "info": kgo.LogLevelInfo,
		"warn": kgo.LogLevelWarn, "error": kgo.LogLevelError}
	if l, ok := levels[os.Getenv("KAFKA_SCENARIO_DEBUG")]; ok {
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, l, nil)))
	}
	return opts
}

func createTopic(ctx context.Context, cl *kgo.Client, a args) (int, error) {
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, int32(a.partitions), 1, nil, a.topic)
	if err != nil {
		return 0, err
	}
	if r, ok := resp[a.topic]; ok && r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
		return 0, r.Err
	}
	deadline := time.Now().Add(a.timeout)
	for {
		md, err := adm.Metadata(ctx, a.topic)
		if err == nil {
			if t, ok := md.Topics[a.topic]; ok && t.Err == nil && len(t.Partitions) > 0 {
				ready := true
				for _, p := range t.Partitions {
					if p.Leader < 0 || p.Err != nil {
						ready = false
					}
				}
				if ready {
					return len(t.Partitions), nil
				}
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("topic %s has no leaders after %s (last error: %v)", a.topic, a.timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type delivered struct {
	partition int
	offset    int64
}

func produce(ctx context.Context, a args) (map[int]delivered, int, error) {
	cl, err := kgo.NewClient(append(baseOpts(a), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.RecordDeliveryTimeout(a.timeout))...)
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	var mu sync.Mutex
	produced := map[int]delivered{}
	errs := 0
	for i := 0; i < a.count; i++ {
		var hs []kgo.RecordHeader
		for _, h := range headersOf(a.run, i) {
			hs = append(hs, kgo.RecordHeader{Key: h[0], Value: []byte(h[1])})
		}
		rec := &kgo.Record{Topic: a.topic, Key: []byte(keyOf(i)), Value: []byte(valueOf(a.run, i)), Headers: hs}
		idx := i
		cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if errs <= 5 {
					logf("produce error: %v", err)
				}
				return
			}
			produced[idx] = delivered{int(r.Partition), r.Offset}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return produced, errs, err
	}
	mu.Lock()
	defer mu.Unlock()
	return produced, errs, nil
}

type consumedRecord struct {
	partition int
	offset    int64
	key       string
	value     string
	headers   [][2]string
}

func consume(ctx context.Context, a args, topicPartitions int) ([]consumedRecord, error) {
	opts := baseOpts(a)
	if a.consume == "group" {
		opts = append(opts, kgo.ConsumerGroup("scenario-"+a.run), kgo.ConsumeTopics(a.topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	} else {
		parts := map[int32]kgo.Offset{}
		for p := 0; p < topicPartitions; p++ {
			parts[int32(p)] = kgo.NewOffset().AtStart()
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.topic: parts}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []consumedRecord
	pctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	for len(out) < a.count && pctx.Err() == nil {
		fetches := cl.PollFetches(pctx)
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				logf("fetch error %s/%d: %v", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			var hs [][2]string
			run := ""
			seenRun := false
			for _, h := range r.Headers {
				hs = append(hs, [2]string{h.Key, string(h.Value)})
				if !seenRun && h.Key == "run" {
					run, seenRun = string(h.Value), true
				}
			}
			if run != a.run {
				return
			}
			out = append(out, consumedRecord{int(r.Partition), r.Offset, string(r.Key), string(r.Value), hs})
		})
	}
	if a.consume == "group" && len(out) > 0 {
		cctx, ccancel := context.WithTimeout(ctx, a.timeout)
		defer ccancel()
		if err := cl.CommitUncommittedOffsets(cctx); err != nil {
			return out, fmt.Errorf("commit: %w", err)
		}
	}
	return out, nil
}

type partOffsets struct {
	Count int   `json:"count"`
	Dense bool  `json:"dense"`
	First int64 `json:"first"`
	Last  int64 `json:"last"`
}

func summarize(a args, topicPartitions int, produced map[int]delivered, produceErrors int,
	consumed []consumedRecord, produceMs, consumeMs int64, runErr error) map[string]any {
	expected := map[string]int{}
	ident := func(key, value string, hs [][2]string) string {
		b, _ := json.Marshal([]any{key, value, hs})
		return string(b)
	}
	for i := 0; i < a.count; i++ {
		expected[ident(keyOf(i), valueOf(a.run, i), headersOf(a.run, i))] = i
	}
	seen := map[int]bool{}
	duplicates, mismatched := 0, 0
	identical := true
	type offIdx struct {
		off int64
		i   int
	}
	perPart := map[int][]offIdx{}
	for _, c := range consumed {
		i, ok := expected[ident(c.key, c.value, c.headers)]
		if !ok {
			mismatched++
			identical = false
			continue
		}
		if seen[i] {
			duplicates++
			continue
		}
		seen[i] = true
		perPart[c.partition] = append(perPart[c.partition], offIdx{c.offset, i})
		if d, ok := produced[i]; ok && (d.partition != c.partition || d.offset != c.offset) {
			identical = false
		}
	}
	missing := a.count - len(seen)
	if missing != 0 {
		identical = false
	}
	offsets := map[string]partOffsets{}
	dense, ordered := true, true
	for p, recs := range perPart {
		sort.Slice(recs, func(x, y int) bool { return recs[x].off < recs[y].off })
		d, o := true, true
		for j := 1; j < len(recs); j++ {
			if recs[j].off != recs[j-1].off+1 {
				d = false
			}
			if recs[j].i <= recs[j-1].i {
				o = false
			}
		}
		dense = dense && d
		ordered = ordered && o
		offsets[strconv.Itoa(p)] = partOffsets{len(recs), d, recs[0].off, recs[len(recs)-1].off}
	}
	placement := map[string]int{}
	consistent := true
	for i := 0; i < a.count; i++ {
		d, ok := produced[i]
		if !ok {
			continue
		}
		k := keyOf(i)
		if p, ok := placement[k]; ok && p != d.partition {
			consistent = false
		} else if !ok {
			placement[k] = d.partition
		}
	}
	murmur := len(placement) > 0
	for k, p := range placement {
		if p != murmur2Partition(k, a.partitions) {
			murmur = false
		}
	}
	var errText any
	if runErr != nil {
		errText = runErr.Error()
	}
	ok := runErr == nil && produceErrors == 0 && len(produced) == a.count && missing == 0 && duplicates == 0 &&
		identical && dense && ordered && consistent && topicPartitions == a.partitions
	return map[string]any{
		"bootstrap": a.bootstrap, "client": "franz-go", "client_version": franzVersion(),
		"consume_mode": a.consume, "consume_ms": consumeMs, "consumed": len(seen), "count": a.count,
		"duplicates": duplicates, "error": errText, "mismatched": mismatched, "missing": missing,
		"offsets_dense": dense, "ok": ok, "order_preserved": ordered, "partition_offsets": offsets,
		"partitions": a.partitions, "placement": placement, "placement_consistent": consistent,
		"placement_murmur2": murmur, "placement_source": "delivery", "produce_errors": produceErrors,
		"produce_ms": produceMs, "produced": len(produced), "records_identical": identical, "run": a.run,
		"topic": a.topic, "topic_partitions": topicPartitions,
	}
}

func franzVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func main() {
	var a args
	var timeoutS float64
	flag.StringVar(&a.bootstrap, "bootstrap", "127.0.0.1:9092", "host:port")
	flag.StringVar(&a.topic, "topic", "", "topic (required)")
	flag.IntVar(&a.count, "count", 1000, "records to produce")
	flag.IntVar(&a.partitions, "partitions", 8, "partitions of the topic it creates")
	flag.StringVar(&a.consume, "consume", "group", "group or assign")
	flag.Float64Var(&timeoutS, "timeout", 60, "seconds for each phase")
	flag.StringVar(&a.run, "run", "", "run id put in every record (random by default)")
	flag.Parse()
	if a.topic == "" || (a.consume != "group" && a.consume != "assign") {
		flag.Usage()
		os.Exit(2)
	}
	a.timeout = time.Duration(timeoutS * float64(time.Second))
	if a.run == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		a.run = hex.EncodeToString(b)
	}

	ctx := context.Background()
	var (
		topicPartitions      int
		produced             = map[int]delivered{}
		produceErrors        int
		consumed             []consumedRecord
		produceMs, consumeMs int64
		runErr               error
	)
	func() {
		actx, cancel := context.WithTimeout(ctx, a.timeout)
		defer cancel()
		admin, err := kgo.NewClient(baseOpts(a)...)
		if err != nil {
			runErr = err
			return
		}
		defer admin.Close()
		if topicPartitions, runErr = createTopic(actx, admin, a); runErr != nil {
			return
		}
		t := time.Now()
		pctx, pcancel := context.WithTimeout(ctx, a.timeout)
		defer pcancel()
		if produced, produceErrors, runErr = produce(pctx, a); runErr != nil {
			return
		}
		produceMs = time.Since(t).Milliseconds()
		t = time.Now()
		consumed, runErr = consume(ctx, a, topicPartitions)
		consumeMs = time.Since(t).Milliseconds()
	}()
	s := summarize(a, topicPartitions, produced, produceErrors, consumed, produceMs, consumeMs, runErr)
	b, _ := json.Marshal(s) // map keys come out sorted
	fmt.Println(string(b))
	if s["ok"] != true {
		os.Exit(1)
	}
}

// The testkit/kafka scenario with the Apache Kafka Java client: create the
// topic, produce --count keyed records with headers (idempotent, acks=all, the
// default murmur2 partitioner), consume them back, print the JSON summary line
// (testkit/kafka/README.md). Compiled by scripts/install-kafka-clients:
//
//   java -cp 'target/kafka-java/classes:target/kafka-java/lib/*' Scenario \
//       --bootstrap 127.0.0.1:9092 --topic T --count 1000 --partitions 8 [--consume group|assign]
//
// Java only: --group-protocol classic|consumer (the KIP-848 protocol); classic by default.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

public final class Scenario {
    static final int KEYS = 100;

    String bootstrap = "127.0.0.1:9092";
    String topic;
    int count = 1000;
    int partitions = 8;
    String consume = "group";
    double timeout = 60;
    String run;
    String groupProtocol = "classic";

    static String keyOf(int i) { return "key-" + (i % KEYS); }
    static String valueOf(String run, int i) { return run + ":" + i + ":" + "x".repeat(i % 97); }
    static List<List<String>> headersOf(String run, int i) {
        return List.of(List.of("run", run), List.of("idx", Integer.toString(i)), List.of("dup", "a"), List.of("dup", "b"));
    }

    static void usage(String msg) {
        System.err.println(msg);
        System.err.println("usage: Scenario --bootstrap host:port --topic T [--count N] [--partitions P] "
                + "[--consume group|assign] [--timeout S] [--run ID] [--group-protocol classic|consumer]");
        System.exit(2);
    }

    static Scenario parse(String[] argv) {
        Scenario a = new Scenario();
        for (int i = 0; i < argv.length; i += 2) {
            if (i + 1 >= argv.length) usage("missing value for " + argv[i]);
            String v = argv[i + 1];
            switch (argv[i]) {
                case "--bootstrap" -> a.bootstrap = v;
                case "--topic" -> a.topic = v;
                case "--count" -> a.count = Integer.parseInt(v);
                case "--partitions" -> a.partitions = Integer.parseInt(v);
                case "--consume" -> a.consume = v;
                case "--timeout" -> a.timeout = Double.parseDouble(v);
                case "--run" -> a.run = v;
                case "--group-protocol" -> a.groupProtocol = v;
                default -> usage("unknown option " + argv[i]);
            }
        }
        if (a.topic == null) usage("--topic is required");
        if (!a.consume.equals("group") && !a.consume.equals("assign")) usage("--consume is group or assign");
        if (a.run == null) {
            a.run = String.format("%08x", new java.security.SecureRandom().nextInt());
        }
        return a;
    }

    long timeoutMs() { return (long) (timeout * 1000); }

    int createTopic() throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("default.api.timeout.ms", Long.toString(timeoutMs()));
        p.put("request.timeout.ms", Long.toString(Math.min(timeoutMs(), 30000)));
        Admin admin = Admin.create(p);
        try {
            try {
                admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all()
                        .get(timeoutMs(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) throw e;
            }
            long deadline = System.currentTimeMillis() + timeoutMs();
            while (true) {
                try {
                    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                            .get(timeoutMs(), TimeUnit.MILLISECONDS).get(topic);
                    List<TopicPartitionInfo> parts = d.partitions();
                    if (!parts.isEmpty() && parts.stream().allMatch(x -> x.leader() != null)) return parts.size();
                } catch (ExecutionException e) {
                    if (System.currentTimeMillis() > deadline) throw e;
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("topic " + topic + " has no leaders after " + timeout + "s");
                }
                Thread.sleep(200);
            }
        } finally {
            admin.close(Duration.ofSeconds(5));
        }
    }

    final Map<Integer, long[]> produced = new ConcurrentHashMap<>(); // i -> {partition, offset}
    final AtomicInteger produceErrors = new AtomicInteger();

    void produce() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        p.put("delivery.timeout.ms", Long.toString(Math.max(timeoutMs(), 30000)));
        p.put("request.timeout.ms", Long.toString(Math.min(timeoutMs(), 30000)));
        p.put("max.block.ms", Long.toString(timeoutMs()));
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                RecordHeaders headers = new RecordHeaders();
                for (List<String> h : headersOf(run, i)) headers.add(h.get(0), h.get(1).getBytes(StandardCharsets.UTF_8));
                final int idx = i;
                producer.send(new ProducerRecord<>(topic, null, keyOf(i).getBytes(StandardCharsets.UTF_8),
                        valueOf(run, i).getBytes(StandardCharsets.UTF_8), headers), (md, err) -> {
                    if (err != null) {
                        if (produceErrors.incrementAndGet() <= 5) System.err.println("produce error: " + err);
                    } else {
                        produced.put(idx, new long[] {md.partition(), md.offset()});
                    }
                });
            }
            producer.flush();
        }
    }

    record Consumed(int partition, long offset, String key, String value, List<List<String>> headers) {}

    static String text(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

    List<Consumed> consume(int topicPartitions) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", "scenario-" + run);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("group.protocol", groupProtocol);
        p.put("default.api.timeout.ms", Long.toString(timeoutMs()));
        List<Consumed> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            if (consume.equals("group")) {
                consumer.subscribe(List.of(topic));
            } else {
                List<TopicPartition> tps = new ArrayList<>();
                for (int i = 0; i < topicPartitions; i++) tps.add(new TopicPartition(topic, i));
                consumer.assign(tps);
                consumer.seekToBeginning(tps);
            }
            long deadline = System.currentTimeMillis() + timeoutMs();
            while (out.size() < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    List<List<String>> headers = new ArrayList<>();
                    String runHeader = null;
                    for (Header h : r.headers()) {
                        headers.add(Arrays.asList(h.key(), text(h.value())));
                        if (runHeader == null && h.key().equals("run")) runHeader = text(h.value());
                    }
                    if (!run.equals(runHeader)) continue;
                    out.add(new Consumed(r.partition(), r.offset(), text(r.key()), text(r.value()), headers));
                }
            }
            if (consume.equals("group") && !out.isEmpty()) consumer.commitSync();
        }
        return out;
    }

    String summarize(int topicPartitions, List<Consumed> consumed, long produceMs, long consumeMs, String error) {
        Map<List<Object>, Integer> expected = new HashMap<>();
        for (int i = 0; i < count; i++) expected.put(List.of(keyOf(i), valueOf(run, i), headersOf(run, i)), i);
        Map<Integer, long[]> seen = new HashMap<>();
        int duplicates = 0, mismatched = 0;
        boolean identical = true;
        TreeMap<Integer, List<long[]>> perPart = new TreeMap<>(); // partition -> {offset, i}
        for (Consumed c : consumed) {
            Integer i = expected.get(Arrays.asList(c.key(), c.value(), c.headers()));
            if (i == null) { mismatched++; identical = false; continue; }
            if (seen.containsKey(i)) { duplicates++; continue; }
            seen.put(i, new long[] {c.partition(), c.offset()});
            perPart.computeIfAbsent(c.partition(), k -> new ArrayList<>()).add(new long[] {c.offset(), i});
            long[] d = produced.get(i);
            if (d != null && (d[0] != c.partition() || d[1] != c.offset())) identical = false;
        }
        int missing = count - seen.size();
        if (missing != 0) identical = false;
        boolean dense = true, ordered = true;
        StringBuilder offsets = new StringBuilder("{");
        for (Map.Entry<Integer, List<long[]>> e : perPart.entrySet()) {
            List<long[]> recs = e.getValue();
            recs.sort((x, y) -> Long.compare(x[0], y[0]));
            boolean d = true, o = true;
            for (int j = 1; j < recs.size(); j++) {
                if (recs.get(j)[0] != recs.get(j - 1)[0] + 1) d = false;
                if (recs.get(j)[1] <= recs.get(j - 1)[1]) o = false;
            }
            dense &= d;
            ordered &= o;
            if (offsets.length() > 1) offsets.append(',');
            offsets.append(str(e.getKey().toString())).append(":{\"count\":").append(recs.size())
                    .append(",\"dense\":").append(d).append(",\"first\":").append(recs.get(0)[0])
                    .append(",\"last\":").append(recs.get(recs.size() - 1)[0]).append('}');
        }
        offsets.append('}');
        TreeMap<String, Integer> placement = new TreeMap<>();
        boolean consistent = true;
        for (int i = 0; i < count; i++) {
            long[] d = produced.get(i);
            if (d == null) continue;
            Integer prev = placement.putIfAbsent(keyOf(i), (int) d[0]);
            if (prev != null && prev != (int) d[0]) consistent = false;
        }
        boolean murmur = !placement.isEmpty();
        StringBuilder pl = new StringBuilder("{");
        for (Map.Entry<String, Integer> e : placement.entrySet()) {
            int want = Utils.toPositive(Utils.murmur2(e.getKey().getBytes(StandardCharsets.UTF_8))) % partitions;
            if (want != e.getValue()) murmur = false;
            if (pl.length() > 1) pl.append(',');
            pl.append(str(e.getKey())).append(':').append(e.getValue());
        }
        pl.append('}');
        ok = error == null && produceErrors.get() == 0 && produced.size() == count && missing == 0
                && duplicates == 0 && identical && dense && ordered && consistent && topicPartitions == partitions;
        Map<String, String> s = new TreeMap<>();
        s.put("bootstrap", str(bootstrap));
        s.put("client", str("kafka-clients (Java)"));
        s.put("client_version", str(clientVersion()));
        s.put("consume_mode", str(consume));
        s.put("group_protocol", str(groupProtocol));
        s.put("consume_ms", Long.toString(consumeMs));
        s.put("consumed", Integer.toString(seen.size()));
        s.put("count", Integer.toString(count));
        s.put("duplicates", Integer.toString(duplicates));
        s.put("error", error == null ? "null" : str(error));
        s.put("mismatched", Integer.toString(mismatched));
        s.put("missing", Integer.toString(missing));
        s.put("offsets_dense", Boolean.toString(dense));
        s.put("ok", Boolean.toString(ok));
        s.put("order_preserved", Boolean.toString(ordered));
        s.put("partition_offsets", offsets.toString());
        s.put("partitions", Integer.toString(partitions));
        s.put("placement", pl.toString());
        s.put("placement_consistent", Boolean.toString(consistent));
        s.put("placement_murmur2", Boolean.toString(murmur));
        s.put("placement_source", str("delivery"));
        s.put("produce_errors", Integer.toString(produceErrors.get()));
        s.put("produce_ms", Long.toString(produceMs));
        s.put("produced", Integer.toString(produced.size()));
        s.put("records_identical", Boolean.toString(identical));
        s.put("run", str(run));
        s.put("topic", str(topic));
        s.put("topic_partitions", Integer.toString(topicPartitions));
        StringBuilder out = new StringBuilder("{");
        for (Map.Entry<String, String> e : s.entrySet()) {
            if (out.length() > 1) out.append(", ");
            out.append(str(e.getKey())).append(": ").append(e.getValue());
        }
        return out.append('}').toString();
    }

    // What the client jar says of itself (the file its own AppInfoParser reads).
    static String clientVersion() {
        try (var in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            Properties p = new Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    boolean ok;

    static String str(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    public static void main(String[] argv) {
        // slf4j-simple: the client's warnings and errors only, on stderr.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        Scenario a = parse(argv);
        int topicPartitions = 0;
        List<Consumed> consumed = List.of();
        long produceMs = 0, consumeMs = 0;
        String error = null;
        try {
            topicPartitions = a.createTopic();
            long t = System.nanoTime();
            a.produce();
            produceMs = (System.nanoTime() - t) / 1_000_000;
            t = System.nanoTime();
            consumed = a.consume(topicPartitions);
            consumeMs = (System.nanoTime() - t) / 1_000_000;
        } catch (Exception e) {
            Throwable c = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            error = c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage());
        }
        String s = a.summarize(topicPartitions, consumed, produceMs, consumeMs, error);
        System.out.println(s);
        System.exit(a.ok ? 0 : 1);
    }
}

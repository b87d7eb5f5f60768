// A Kafka Streams word count (org.apache.kafka:kafka-streams) over a fixed text:
// create the input topic (2 partitions) and the output topic if they are
// missing, produce lines --start .. --start+--count-1 of the text (key
// "line-<i>", so the lines spread over both partitions), run
//
//   input -> flatMapValues(split into words) -> groupBy(word)   (a repartition topic)
//         -> count()                                            (a changelog topic)
//         -> toStream -> output
//
// at-least-once (the default guarantee), and read the output topic until the
// latest count of every word equals the count of that word in lines
// 0 .. --start+--count-1, computed here (a second run with the same --app-id
// and --start at the first run's end continues the first run's counts).
// Compiled by scripts/install-kafka-clients:
//
//   java -cp 'target/kafka-streams/classes:target/kafka-streams/lib/*' WordCount \
//       --bootstrap 127.0.0.1:9092 --input I --output O --app-id A --count 500 \
//       [--start 0] [--state-dir DIR] [--timeout 120]
//
// One JSON line on stdout (sorted keys, only what both brokers must agree on):
// counts (word -> latest count read from the output), expected, lines (the
// text's length so far), ok, error. Exit 0 when ok, 1 otherwise, 2 for a bad
// command line. Progress and the library's warnings go to stderr.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

public final class WordCount {
    static final String[] VOCABULARY = {
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        "india", "juliet", "kilo", "lima", "mike",
    };

    String bootstrap = "127.0.0.1:9092";
    String input;
    String output;
    String appId;
    int start = 0;
    int count = 500;
    String stateDir;
    double timeout = 120;

    /** Line i of the text: 1 to 6 words from the vocabulary, the same for every run. */
    static String line(int i) {
        int words = 1 + i % 6;
        List<String> out = new ArrayList<>(words);
        for (int j = 0; j < words; j++) {
            out.add(VOCABULARY[(i * 7 + j * j * 3 + j) % VOCABULARY.length]);
        }
        return String.join(" ", out);
    }

    static Map<String, Long> countWords(int lines) {
        Map<String, Long> counts = new TreeMap<>();
        for (int i = 0; i < lines; i++) {
            for (String w : line(i).split(" ")) counts.merge(w, 1L, Long::sum);
        }
        return counts;
    }

    static void usage(String msg) {
        System.err.println("WordCount: " + msg);
        System.err.println("usage: WordCount --bootstrap H:P --input I --output O --app-id A --count N"
                + " [--start K] [--state-dir DIR] [--timeout S]");
        System.exit(2);
    }

    void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) usage("missing value for " + a);
            String v = args[++i];
            try {
                switch (a) {
                    case "--bootstrap" -> bootstrap = v;
                    case "--input" -> input = v;
                    case "--output" -> output = v;
                    case "--app-id" -> appId = v;
                    case "--start" -> start = Integer.parseInt(v);
                    case "--count" -> count = Integer.parseInt(v);
                    case "--state-dir" -> stateDir = v;
                    case "--timeout" -> timeout = Double.parseDouble(v);
                    default -> usage("unknown option " + a);
                }
            } catch (NumberFormatException e) {
                usage("not a number for " + a + ": " + v);
            }
        }
        if (input == null || output == null || appId == null) usage("--input, --output and --app-id are required");
        if (start < 0 || count < 0) usage("--start and --count must not be negative");
    }

    static void log(String msg) {
        System.err.println("WordCount: " + msg);
    }

    void createTopics() throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(p)) {
            for (NewTopic t : List.of(new NewTopic(input, 2, (short) 1), new NewTopic(output, 2, (short) 1))) {
                try {
                    admin.createTopics(List.of(t)).all().get();
                    log("created " + t.name() + " (" + t.numPartitions() + " partitions)");
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) throw e;
                    log(t.name() + " exists");
                }
            }
        }
    }

    void produce() throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = start; i < start + count; i++) {
                producer.send(new ProducerRecord<>(input, "line-" + i, line(i))).get();
            }
        }
        log("produced lines " + start + ".." + (start + count - 1) + " to " + input);
    }

    static Topology topology(String input, String output) {
        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, org.apache.kafka.streams.kstream.Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(v -> Arrays.asList(v.toLowerCase(Locale.ROOT).split("\\s+")))
                .groupBy((k, w) -> w, Grouped.with("words", Serdes.String(), Serdes.String()))
                .count(Materialized.as("counts"))
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return b.build();
    }

    /** Reads the whole output topic until every word's latest count is the expected one. */
    Map<String, Long> awaitCounts(Map<String, Long> expected, long deadline, AtomicReference<Throwable> failed) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Map<String, Long> latest = new TreeMap<>();
        try (KafkaConsumer<String, Long> consumer =
                new KafkaConsumer<>(p, new StringDeserializer(), new LongDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo pi : consumer.partitionsFor(output, Duration.ofSeconds(30))) {
                parts.add(new TopicPartition(output, pi.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            while (System.currentTimeMillis() < deadline && failed.get() == null) {
                for (ConsumerRecord<String, Long> r : consumer.poll(Duration.ofMillis(500))) {
                    latest.put(r.key(), r.value());
                }
                if (latest.equals(expected)) break;
            }
        }
        return latest;
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
        }
    }

    int run() throws Exception {
        Map<String, Long> expected = countWords(start + count);
        Map<String, Long> counts = new TreeMap<>();
        String error = null;
        Path tmpState = null;
        long began = System.currentTimeMillis();
        long deadline = began + (long) (timeout * 1000);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        KafkaStreams streams = null;
        try {
            createTopics();
            produce();
            Path state;
            if (stateDir != null) {
                state = Path.of(stateDir);
            } else {
                tmpState = Files.createTempDirectory("wordcount-state-");
                state = tmpState;
            }
            Properties p = new Properties();
            p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
            p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
            p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
            p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
            p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
            p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
            p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
            p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10000);
            p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
            streams = new KafkaStreams(topology(input, output), p);
            streams.setUncaughtExceptionHandler(e -> {
                failed.compareAndSet(null, e);
                log("stream thread failed: " + e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
                        .SHUTDOWN_CLIENT;
            });
            streams.setStateListener((now, before) -> log("streams " + before + " -> " + now));
            streams.start();
            counts = awaitCounts(expected, deadline, failed);
            if (failed.get() != null) {
                error = failed.get().toString();
            } else if (!counts.equals(expected)) {
                error = "the output's latest counts are not the expected ones after " + timeout + " s";
            }
        } catch (Exception e) {
            error = e.toString();
            log("failed: " + e);
            e.printStackTrace();
        } finally {
            if (streams != null) {
                // Leave the group, so a later run with the same --app-id is
                // assigned every task at once instead of after a session timeout.
                boolean closed = streams.close(CloseOptions.groupMembershipOperation(
                        CloseOptions.GroupMembershipOperation.LEAVE_GROUP).withTimeout(Duration.ofSeconds(30)));
                if (!closed && error == null) error = "KafkaStreams.close did not finish in 30 s";
            }
            if (tmpState != null) deleteTree(tmpState);
        }
        log("done in " + (System.currentTimeMillis() - began) + " ms");
        boolean ok = error == null && counts.equals(expected);
        StringBuilder j = new StringBuilder("{");
        j.append("\"counts\": ").append(json(counts));
        j.append(", \"error\": ").append(error == null ? "null" : quote(error));
        j.append(", \"expected\": ").append(json(expected));
        j.append(", \"lines\": ").append(start + count);
        j.append(", \"ok\": ").append(ok);
        j.append("}");
        System.out.println(j);
        return ok ? 0 : 1;
    }

    static String json(Map<String, Long> m) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (var e : new TreeMap<>(m).entrySet()) {
            if (!first) b.append(", ");
            first = false;
            b.append(quote(e.getKey())).append(": ").append(e.getValue());
        }
        return b.append("}").toString();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    public static void main(String[] args) throws Exception {
        // slf4j-simple: the library's warnings and errors only, on stderr.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        WordCount w = new WordCount();
        w.parse(args);
        System.exit(w.run());
    }
}

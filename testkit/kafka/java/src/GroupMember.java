// One consumer-group member with the Apache Kafka Java client, for
// testkit/kafka/python/group_members.py (which starts several and checks
// what they report). It prints one JSON line per event on stdout:
//
//   {"m": NAME, "t": SECONDS, "ev": "owned", "parts": [...]}   after every assignment change
//   {"m": NAME, "t": SECONDS, "ev": "got", "recs": [[partition, offset], ...]}   after every batch
//   {"m": NAME, "t": SECONDS, "ev": "commit_failed", "error": "..."}
//   {"m": NAME, "t": SECONDS, "ev": "failed", "error": "..."}   poll failed for good (exit 1)
//   {"m": NAME, "t": SECONDS, "ev": "closed"}
//
// and commits each batch synchronously after reporting it, so a committed
// offset never covers a record nobody reported. SIGTERM closes it (leaving
// the group). Compiled by scripts/install-kafka-clients:
//
//   java -cp 'target/kafka-java/classes:target/kafka-java/lib/*' GroupMember \
//       --member NAME --bootstrap H:P --topic T --group G --assignor range \
//       [--protocol classic|consumer] [--session-ms 6000] [--instance ID]
//
// assignor: with classic, range, roundrobin or cooperative-sticky (the
// client's partition.assignment.strategy); with consumer, the server's
// group.remote.assignor (uniform or range). --instance makes it a static
// member (group.instance.id); closing it then leaves the group only for a
// while (the server keeps its partitions for the instance).

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class GroupMember {
    String member;
    String bootstrap;
    String topic;
    String group;
    String assignor = "range";
    String protocol = "classic";
    int sessionMs = 6000;
    String instance;

    static void usage(String msg) {
        System.err.println("GroupMember: " + msg);
        System.err.println("usage: GroupMember --member NAME --bootstrap H:P --topic T --group G"
                + " --assignor A [--protocol classic|consumer] [--session-ms N] [--instance ID]");
        System.exit(2);
    }

    void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) usage("missing value for " + a);
            String v = args[++i];
            switch (a) {
                case "--member" -> member = v;
                case "--bootstrap" -> bootstrap = v;
                case "--topic" -> topic = v;
                case "--group" -> group = v;
                case "--assignor" -> assignor = v;
                case "--protocol" -> protocol = v;
                case "--instance" -> instance = v;
                case "--session-ms" -> {
                    try {
                        sessionMs = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        usage("not a number for --session-ms: " + v);
                    }
                }
                default -> usage("unknown option " + a);
            }
        }
        if (member == null || bootstrap == null || topic == null || group == null) {
            usage("--member, --bootstrap, --topic and --group are required");
        }
        if (!protocol.equals("classic") && !protocol.equals("consumer")) usage("--protocol is classic or consumer");
    }

    synchronized void say(String event) {
        System.out.println("{\"m\": " + quote(member) + ", \"t\": " + System.currentTimeMillis() / 1000.0
                + ", " + event + "}");
        System.out.flush();
    }

    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"";
    }

    static String strategy(String assignor) {
        return switch (assignor) {
            case "range" -> RangeAssignor.class.getName();
            case "roundrobin" -> RoundRobinAssignor.class.getName();
            case "cooperative-sticky" -> CooperativeStickyAssignor.class.getName();
            default -> {
                usage("a classic assignor is range, roundrobin or cooperative-sticky, not " + assignor);
                yield null;
            }
        };
    }

    void run() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, member);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 200);
        if (instance != null) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instance);
        if (protocol.equals("consumer")) {
            // KIP-848: the server assigns and times sessions.
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
            p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, assignor);
        } else {
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, strategy(assignor));
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, sessionMs);
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Math.max(100, sessionMs / 12));
        }
        TreeSet<Integer> owned = new TreeSet<>();
        AtomicBoolean stop = new AtomicBoolean();
        boolean failed = false;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            Thread main = Thread.currentThread();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stop.set(true);
                consumer.wakeup();
                try {
                    main.join(30_000);
                } catch (InterruptedException ignored) {
                }
            }));
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    parts.forEach(tp -> owned.remove(tp.partition()));
                    say("\"ev\": \"owned\", \"parts\": " + owned);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    parts.forEach(tp -> owned.add(tp.partition()));
                    say("\"ev\": \"owned\", \"parts\": " + owned);
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> parts) {
                    onPartitionsRevoked(parts);
                }
            });
            while (!stop.get()) {
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = consumer.poll(Duration.ofMillis(200));
                } catch (WakeupException e) {
                    break;
                } catch (KafkaException e) {
                    say("\"ev\": \"failed\", \"error\": " + quote(e.toString()));
                    failed = true;
                    break;
                }
                if (records.isEmpty()) continue;
                List<String> got = new ArrayList<>();
                for (ConsumerRecord<byte[], byte[]> r : records) got.add("[" + r.partition() + ", " + r.offset() + "]");
                say("\"ev\": \"got\", \"recs\": " + got);
                try {
                    consumer.commitSync();
                } catch (WakeupException e) {
                    break;
                } catch (KafkaException e) {
                    // A commit refused by a rebalance: the next owner reads the
                    // records again, which the check allows.
                    say("\"ev\": \"commit_failed\", \"error\": " + quote(e.toString()));
                }
            }
        }
        say("\"ev\": \"closed\"");
        // halt, not exit: the shutdown hook would wait for this thread.
        if (failed) Runtime.getRuntime().halt(1);
    }

    public static void main(String[] args) {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        GroupMember m = new GroupMember();
        m.parse(args);
        m.run();
    }
}

/*
 * E2eLatency: end-to-end latency through a broker with the Java client,
 * measured the way Apache Kafka's EndToEndLatency tool measures it, with a
 * finer clock.
 *
 * The loop is EndToEndLatency's:
 *   - the producer has linger.ms=0 and sends one record synchronously
 *     (send().get());
 *   - the consumer is assigned the topic's partitions, seeks to the end and
 *     fetches with fetch.max.wait.ms=0, then polls for that one record.
 *
 * What differs:
 *   - EndToEndLatency rounds every latency down to whole milliseconds, so a
 *     sub-millisecond broker reads 0 or 1. This tool keeps nanoseconds and
 *     prints microseconds.
 *   - Its first records run while the JVM still interprets and compiles the
 *     client, which makes the p99 of a 10,000-record run. Here the first
 *     <warmup> records are sent and checked but not counted.
 *
 * Usage: java -cp <kafka-clients classpath> bench/E2eLatency.java
 *            bootstrap topic count warmup acks size [properties-file]
 * Prints one line:
 *   count=N avg_us=A p50_us=X p99_us=Y p999_us=Z max_us=M
 * Exits 1 when a record is missing or differs.
 *
 * Runs under the JDK's single-file source launcher (java File.java); it is a
 * benchmark client, not part of the broker.
 */
import java.io.FileInputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class E2eLatency {
    public static void main(String[] args) throws Exception {
        if (args.length < 6) {
            System.err.println("usage: E2eLatency bootstrap topic count warmup acks size [props]");
            System.exit(2);
        }
        String bootstrap = args[0], topic = args[1], acks = args[4];
        int count = Integer.parseInt(args[2]);
        int warmup = Integer.parseInt(args[3]);
        int size = Integer.parseInt(args[5]);
        Properties base = new Properties();
        if (args.length > 6) {
            try (FileInputStream in = new FileInputStream(args[6])) {
                base.load(in);
            }
        }
        base.put("bootstrap.servers", bootstrap);

        Properties cp = new Properties();
        cp.putAll(base);
        cp.put("group.id", "e2e-latency-" + System.currentTimeMillis());
        cp.put("enable.auto.commit", "false");
        cp.put("auto.offset.reset", "latest");
        cp.put("fetch.max.wait.ms", "0");
        cp.put("key.deserializer", ByteArrayDeserializer.class.getName());
        cp.put("value.deserializer", ByteArrayDeserializer.class.getName());
        Properties pp = new Properties();
        pp.putAll(base);
        pp.put("linger.ms", "0");
        pp.put("max.block.ms", Long.toString(Long.MAX_VALUE));
        pp.put("acks", acks);
        pp.put("key.serializer", ByteArraySerializer.class.getName());
        pp.put("value.serializer", ByteArraySerializer.class.getName());

        long[] lat = new long[count];
        double total = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp);
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            List<TopicPartition> tps = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition()))
                    .collect(Collectors.toList());
            consumer.assign(tps);
            consumer.seekToEnd(tps);
            tps.forEach(consumer::position);
            Random random = new Random(0);
            for (int i = 0; i < warmup + count; i++) {
                byte[] msg = new byte[size];
                Arrays.fill(msg, (byte) (random.nextInt(26) + 65));
                long begin = System.nanoTime();
                producer.send(new ProducerRecord<>(topic, msg)).get();
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(60000));
                long elapsed = System.nanoTime() - begin;
                if (recs.count() != 1 || !Arrays.equals(recs.iterator().next().value(), msg)) {
                    System.err.println("record " + i + ": expected the one record sent, got "
                            + recs.count());
                    System.exit(1);
                }
                if (i >= warmup) {
                    lat[i - warmup] = elapsed;
                    total += elapsed;
                }
            }
        }
        Arrays.sort(lat);
        System.out.printf("count=%d avg_us=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f%n",
                count, total / count / 1e3, lat[(int) (count * 0.5)] / 1e3,
                lat[(int) (count * 0.99)] / 1e3, lat[(int) (count * 0.999)] / 1e3,
                lat[count - 1] / 1e3);
    }
}

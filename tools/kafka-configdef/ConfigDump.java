/*
 * ConfigDump - prints Apache Kafka's own configuration definitions as JSON
 * lines, one key a line, for tools/kafka-configdef/gen_config_def.py.
 *
 * Loaded from the Kafka jars themselves (build/kafka/libs), so the table in
 * src/broker/config.def follows the broker being imitated rather than a
 * hand-copied list:
 *   broker         AbstractKafkaConfig.CONFIG_DEF (what KafkaConfig parses),
 *                  dynamic scope from DynamicBrokerConfig.dynamicConfigUpdateModes()
 *                  ("per-broker" / "cluster-wide"; absent = read-only)
 *   broker-quota   DynamicConfig.Broker keys that are not in CONFIG_DEF
 *                  (replication throttles: alterable, never described)
 *   topic          LogConfig.configKeys() with ServerTopicConfigSynonyms
 *   group          GroupConfig.CONFIG_DEF with GroupConfig.brokerSynonym
 *   client-metrics ClientMetricsConfigs.configDef()
 *
 * Each line: {"scope","name","type","default","hasDefault","validator",
 * "min","max","importance","internal","dynamic","synonym","doc"}.
 * Run with tools/kafka-configdef/dump.sh.
 */
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.coordinator.group.GroupConfig;
import org.apache.kafka.server.config.AbstractKafkaConfig;
import org.apache.kafka.server.config.DynamicBrokerConfig;
import org.apache.kafka.server.config.DynamicConfig;
import org.apache.kafka.server.config.ServerTopicConfigSynonyms;
import org.apache.kafka.server.config.ConfigSynonym;
import org.apache.kafka.server.metrics.ClientMetricsConfigs;
import org.apache.kafka.storage.internals.log.LogConfig;

public class ConfigDump {
    static String q(String s) {
        if (s == null)
            return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
            case '"': b.append("\\\""); break;
            case '\\': b.append("\\\\"); break;
            case '\n': b.append("\\n"); break;
            case '\r': b.append("\\r"); break;
            case '\t': b.append("\\t"); break;
            default:
                if (c < 0x20)
                    b.append(String.format("\\u%04x", (int) c));
                else
                    b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static Object field(Object o, String name) {
        try {
            Field f = o.getClass().getDeclaredField(name);
            f.setAccessible(true);
            return f.get(o);
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    static void emit(String scope, ConfigDef.ConfigKey k, String dynamic,
                     String synonym) {
        boolean hasDef = k.hasDefault();
        String def = null;
        if (hasDef && k.defaultValue != null)
            def = ConfigDef.convertToString(k.defaultValue, k.type);
        String val = k.validator == null ? null : k.validator.toString();
        String vclass = k.validator == null ? null
                                            : k.validator.getClass().getName();
        Object min = null, max = null;
        if (k.validator instanceof ConfigDef.Range) {
            min = field(k.validator, "min");
            max = field(k.validator, "max");
        }
        System.out.println("{\"scope\":" + q(scope) + ",\"name\":" + q(k.name)
            + ",\"type\":" + q(k.type.name()) + ",\"default\":" + q(def)
            + ",\"hasDefault\":" + hasDef + ",\"validator\":" + q(val)
            + ",\"validatorClass\":" + q(vclass)
            + ",\"min\":" + q(min == null ? null : min.toString())
            + ",\"max\":" + q(max == null ? null : max.toString())
            + ",\"importance\":" + q(k.importance == null ? null : k.importance.name())
            + ",\"internal\":" + k.internalConfig
            + ",\"dynamic\":" + q(dynamic) + ",\"synonym\":" + q(synonym)
            + ",\"doc\":" + q(k.documentation) + "}");
    }

    public static void main(String[] args) {
        Map<String, String> modes = DynamicBrokerConfig.dynamicConfigUpdateModes();
        Map<String, ConfigDef.ConfigKey> broker =
            new TreeMap<>(AbstractKafkaConfig.CONFIG_DEF.configKeys());
        for (ConfigDef.ConfigKey k : broker.values())
            emit("broker", k, modes.get(k.name), null);
        for (ConfigDef.ConfigKey k : new TreeMap<>(DynamicConfig.Broker.configKeys()).values())
            if (!broker.containsKey(k.name))
                emit("broker-quota", k, "per-broker", null);
        for (ConfigDef.ConfigKey k : new TreeMap<>(LogConfig.configKeys()).values())
            emit("topic", k, null,
                 ServerTopicConfigSynonyms.TOPIC_CONFIG_SYNONYMS.get(k.name));
        for (ConfigDef.ConfigKey k : new TreeMap<>(GroupConfig.CONFIG_DEF.configKeys()).values()) {
            Optional<String> s = GroupConfig.brokerSynonym(k.name);
            emit("group", k, null, s.orElse(null));
        }
        for (ConfigDef.ConfigKey k : new TreeMap<>(ClientMetricsConfigs.configDef().configKeys()).values())
            emit("client-metrics", k, null, null);
        // Full synonym chains of topic configs (retention.ms <- log.retention.ms,
        // .minutes, .hours with unit multipliers).
        for (Map.Entry<String, List<ConfigSynonym>> e :
             new TreeMap<>(ServerTopicConfigSynonyms.ALL_TOPIC_CONFIG_SYNONYMS).entrySet()) {
            List<String> parts = new ArrayList<>();
            for (ConfigSynonym s : e.getValue()) {
                parts.add(s.name() + ":" + s.converter().apply("1"));
            }
            System.out.println("{\"scope\":\"topic-synonyms\",\"name\":" + q(e.getKey())
                + ",\"synonym\":" + q(String.join(",", parts)) + "}");
        }
    }

}

/*
 * XCheck.java - reads every <folder>.<Name>.<version>.<i>.bin written by
 * dump.c with Apache Kafka's own generated classes (the jars in argv[0]),
 * writes it back with them, and compares the bytes: Sluice's codecs and
 * Kafka's must agree byte for byte. Versions the jars no longer support,
 * and messages they no longer have, are skipped. Usage: see run.sh.
 */
import java.io.*;
import java.nio.*;
import java.nio.file.*;
import java.util.*;
import java.util.jar.*;
import org.apache.kafka.common.protocol.*;

public class XCheck {
    public static void main(String[] a) throws Exception {
        Map<String, List<String>> classes = new HashMap<>();
        for (File jar : new File(a[0]).listFiles()) {
            if (!jar.getName().startsWith("kafka")) continue;
            try (JarFile jf = new JarFile(jar)) {
                for (Enumeration<JarEntry> e = jf.entries(); e.hasMoreElements();) {
                    String n = e.nextElement().getName();
                    if (!n.endsWith(".class") || n.contains("$")) continue;
                    String cn = n.substring(0, n.length() - 6).replace('/', '.');
                    String simple = cn.substring(cn.lastIndexOf('.') + 1);
                    classes.computeIfAbsent(simple, k -> new ArrayList<>()).add(cn);
                }
            }
        }
        int ok = 0, bad = 0, miss = 0, err = 0;
        Set<String> reported = new TreeSet<>();
        File[] files = new File(a[1]).listFiles();
        Arrays.sort(files);
        for (File f : files) {
            String[] p = f.getName().split("\\.");
            String dir = p[0], name = p[1];
            short ver = Short.parseShort(p[2]);
            Class<?> cls = null;
            for (String cand : new String[]{name + "Data", name}) {
                for (String cn : classes.getOrDefault(cand, List.of())) {
                    Class<?> c = Class.forName(cn);
                    if (Message.class.isAssignableFrom(c)) { cls = c; break; }
                }
                if (cls != null) break;
            }
            if (cls == null) { if (reported.add("MISSING " + name)) {} miss++; continue; }
            byte[] in = Files.readAllBytes(f.toPath());
            Message proto = (Message) cls.getConstructor().newInstance();
            if (ver < proto.lowestSupportedVersion() || ver > proto.highestSupportedVersion()) { miss++; reported.add("UNSUPPORTED-IN-JAVA " + name + " v" + ver); continue; }
            try {
                Message m = (Message) cls.getConstructor(org.apache.kafka.common.protocol.Readable.class, short.class)
                        .newInstance(new ByteBufferAccessor(ByteBuffer.wrap(in)), ver);
                ObjectSerializationCache cache = new ObjectSerializationCache();
                int size = m.size(cache, ver);
                ByteBuffer out = ByteBuffer.allocate(size);
                m.write(new ByteBufferAccessor(out), cache, ver);
                if (Arrays.equals(in, out.array())) ok++;
                else { bad++; reported.add("DIFF " + dir + "/" + name + " v" + ver + " in=" + in.length + " out=" + size); }
            } catch (Throwable t) {
                Throwable c = t.getCause() != null ? t.getCause() : t;
                err++; reported.add("ERR " + dir + "/" + name + " v" + ver + ": " + c);
            }
        }
        for (String s : reported) System.out.println(s);
        System.out.println("ok=" + ok + " diff=" + bad + " err=" + err + " missing=" + miss);
    }
}

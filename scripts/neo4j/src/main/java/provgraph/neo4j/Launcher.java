package provgraph.neo4j;

import java.io.IOException;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.nio.file.Path;
import java.time.Duration;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * Starts an embedded Neo4j Community server with only Bolt on loopback, for provgraph's
 * local use and tests. Configuration comes from the environment so the Makefile stays the
 * single place that decides ports and paths.
 */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        // LOAD CSV must never reach the network either (Community Edition has no load
        // privileges): this JVM has no handler for remote URLs at all.
        URL.setURLStreamHandlerFactory(protocol -> switch (protocol) {
            case "http", "https", "ftp" -> new URLStreamHandler() {
                @Override
                protected URLConnection openConnection(URL u) throws IOException {
                    throw new IOException("this Neo4j loads nothing from " + protocol + " URLs");
                }
            };
            default -> null;
        });
        Path home = Path.of(env("NEO4J_HOME", "var/neo4j")).toAbsolutePath();
        String host = env("NEO4J_BOLT_HOST", "127.0.0.1");
        int port = Integer.parseInt(env("NEO4J_BOLT_PORT", "7687"));
        long pageCacheMiB = Long.parseLong(env("NEO4J_PAGECACHE_MB", "512"));
        // One transaction may not take the heap from all the others: a user's query that
        // needs more is stopped with TransactionOutOfMemoryError. Batch registrations of
        // 1000 model runs use far less.
        long txMemoryMiB = Long.parseLong(env("NEO4J_TX_MEMORY_MB", "256"));

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(GraphDatabaseSettings.strict_config_validation, true)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMiB))
                .setConfig(GraphDatabaseSettings.memory_tracking, true)
                .setConfig(GraphDatabaseSettings.memory_transaction_max_size, ByteUnit.mebiBytes(txMemoryMiB))
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                // Users reach Cypher through provgraph; LOAD CSV must never read local files.
                .setConfig(GraphDatabaseSettings.allow_file_urls, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(5))
                .build();

        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown, "neo4j-shutdown"));
        dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME); // fail now if the default database cannot start
        System.out.println("neo4j ready: bolt://" + host + ":" + port + " home=" + home);
        System.out.flush();
        Thread.currentThread().join();
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}

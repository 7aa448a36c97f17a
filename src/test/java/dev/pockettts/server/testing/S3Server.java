package dev.pockettts.server.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3 server for the tests: S3Proxy (in-memory blob store, AWS signatures checked), the jar
 * the build copies to {@code target/s3proxy/s3proxy.jar}, run as a process of its own on a free
 * port of 127.0.0.1. The servers under test find its credentials through the AWS SDK's standard
 * chain (the {@code aws.accessKeyId} and {@code aws.secretAccessKey} system properties set here).
 */
public final class S3Server implements AutoCloseable {

  public static final String ACCESS_KEY = "pockettts-test";
  public static final String SECRET_KEY = "pockettts-test-secret";

  private final int port;
  private final Process process;

  private S3Server(int port, Process process) {
    this.port = port;
    this.process = process;
  }

  /** S3Proxy on a free port with {@code bucket} created, running. */
  public static S3Server start(Path dir, String bucket) throws Exception {
    Path jar = Path.of("target", "s3proxy", "s3proxy.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " is missing: the build copies it (mvn verify)");
    }
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path conf = dir.resolve("s3proxy.properties");
    Files.writeString(
        conf,
        String.join(
            "\n",
            "s3proxy.authorization=aws-v2-or-v4",
            "s3proxy.endpoint=http://127.0.0.1:" + port,
            "s3proxy.identity=" + ACCESS_KEY,
            "s3proxy.credential=" + SECRET_KEY,
            "jclouds.provider=transient",
            "jclouds.identity=" + ACCESS_KEY,
            "jclouds.credential=" + SECRET_KEY,
            ""));
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process p =
        new ProcessBuilder(
                java.toString(),
                "-Xmx256m",
                "-jar",
                jar.toString(),
                "--properties",
                conf.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("s3proxy.log").toFile())
            .start();
    S3Server server = new S3Server(port, p);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!server.listening()) {
      if (System.nanoTime() > deadline || !p.isAlive()) {
        server.close();
        throw new IllegalStateException(
            "S3Proxy did not start: " + Files.readString(dir.resolve("s3proxy.log")));
      }
      Thread.sleep(100);
    }
    System.setProperty("aws.accessKeyId", ACCESS_KEY);
    System.setProperty("aws.secretAccessKey", SECRET_KEY);
    try (S3Client c = server.client()) {
      c.createBucket(b -> b.bucket(bucket));
    }
    return server;
  }

  private boolean listening() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  public String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /** A client of this server, for the tests to look into the bucket. */
  public S3Client client() {
    return S3Client.builder()
        .endpointOverride(URI.create(endpoint()))
        .region(Region.US_EAST_1)
        .forcePathStyle(true)
        .credentialsProvider(
            StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
        .build();
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}

package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pockettts.server.config.ServerSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The deployment files speak the server's language: every setting they give is one the server reads
 * (or the AWS SDK's credentials), their ports are the server's, and their probes are paths the
 * server answers (checked on a running server).
 */
class DeployFilesTest extends ServerTest {

  private static final Path DEPLOY = Path.of("deploy");
  private static final Set<String> SDK_SETTINGS =
      Set.of("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");

  /** Every setting name the server reads. */
  private static Set<String> settingNames() {
    Set<String> names = new HashSet<>();
    ServerSettings.parse(
        name -> {
          names.add(name);
          return name.equals("API_KEY") ? "k" : null;
        });
    return names;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> yaml(Path file) throws Exception {
    return (Map<String, Object>) new Yaml().load(Files.readString(file));
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> yamlDocuments(Path dir) throws Exception {
    List<Map<String, Object>> docs = new ArrayList<>();
    try (var files = Files.list(dir)) {
      for (Path f : files.sorted().toList()) {
        for (Object d : new Yaml().loadAll(Files.readString(f))) {
          docs.add((Map<String, Object>) d);
        }
      }
    }
    return docs;
  }

  @Test
  @SuppressWarnings("unchecked")
  void composeGivesTwoReplicasTheServersSettingsBehindNginx() throws Exception {
    Map<String, Object> services =
        (Map<String, Object>) yaml(DEPLOY.resolve("compose.yaml")).get("services");
    assertThat(services).containsKeys("tts-a", "tts-b", "nginx", "minio", "redis");
    Set<String> known = settingNames();
    for (String replica : List.of("tts-a", "tts-b")) {
      Map<String, Object> s = (Map<String, Object>) services.get(replica);
      Map<String, Object> env = (Map<String, Object>) s.get("environment");
      for (String name : env.keySet()) {
        assertThat(known.contains(name) || SDK_SETTINGS.contains(name))
            .as(replica + " sets " + name)
            .isTrue();
      }
      assertThat(env)
          .containsEntry("STORAGE", "s3")
          .containsKeys("S3_BUCKET", "REDIS_URL", "API_KEY");
      assertThat(env.get("S3_ENDPOINT")).isEqualTo("http://minio:9000");
      assertThat(env.get("REDIS_URL")).isEqualTo("redis://redis:6379");
      assertThat((List<String>) s.get("volumes")).anyMatch(v -> v.endsWith(":/app/models"));
      assertThat(
              String.join(
                  " ", (List<String>) ((Map<String, Object>) s.get("healthcheck")).get("test")))
          .contains("http://127.0.0.1:8000/actuator/health/readiness");
    }
    String nginx = Files.readString(DEPLOY.resolve("nginx.conf"));
    assertThat(nginx)
        .contains("server tts-a:8000;", "server tts-b:8000;", "underscores_in_headers on;")
        .contains("$http_x_api_key", "$http_authorization", "proxy_buffering off;");
    assertThat((List<String>) ((Map<String, Object>) services.get("nginx")).get("volumes"))
        .contains("./nginx.conf:/etc/nginx/conf.d/default.conf:ro");
  }

  @Test
  @SuppressWarnings("unchecked")
  void kubernetesProbesPortsAndSettingsAreTheServers() throws Exception {
    List<Map<String, Object>> docs = yamlDocuments(DEPLOY.resolve("kubernetes"));
    Map<String, Map<String, Object>> byKind = new java.util.HashMap<>();
    docs.forEach(d -> byKind.put((String) d.get("kind"), d));
    assertThat(byKind)
        .containsKeys(
            "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret");

    Map<String, Object> spec = (Map<String, Object>) byKind.get("Deployment").get("spec");
    Map<String, Object> pod =
        (Map<String, Object>) ((Map<String, Object>) spec.get("template")).get("spec");
    Map<String, Object> container = ((List<Map<String, Object>>) pod.get("containers")).get(0);
    Map<String, Object> port = ((List<Map<String, Object>>) container.get("ports")).get(0);
    assertThat(port.get("containerPort")).isEqualTo(8000);
    ServerHarness server = readyServer();
    for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
      Map<String, Object> get =
          (Map<String, Object>) ((Map<String, Object>) container.get(probe)).get("httpGet");
      assertThat(get.get("port")).isEqualTo(port.get("name"));
      String path = (String) get.get("path");
      assertThat(path).startsWith("/actuator/health/");
      assertThat(server.get(path).statusCode()).as(probe + " " + path).isEqualTo(200);
    }
    Set<String> known = settingNames();
    Set<String> secretKeys =
        ((Map<String, Object>) byKind.get("Secret").get("stringData")).keySet();
    for (Map<String, Object> e : (List<Map<String, Object>>) container.get("env")) {
      String name = (String) e.get("name");
      assertThat(known.contains(name) || SDK_SETTINGS.contains(name)).as("sets " + name).isTrue();
      if (e.get("valueFrom") != null) {
        Map<String, Object> ref =
            (Map<String, Object>) ((Map<String, Object>) e.get("valueFrom")).get("secretKeyRef");
        assertThat(secretKeys).contains((String) ref.get("key"));
      }
    }
    assertThat(
            ((Map<String, Object>) ((Map<String, Object>) byKind.get("Secret").get("stringData"))))
        .containsKey("API_KEY");
    Map<String, Object> service = (Map<String, Object>) byKind.get("Service").get("spec");
    assertThat(((List<Map<String, Object>>) service.get("ports")).get(0).get("targetPort"))
        .isEqualTo("http");
    Map<String, Object> hpa =
        (Map<String, Object>) byKind.get("HorizontalPodAutoscaler").get("spec");
    assertThat(((Map<String, Object>) hpa.get("scaleTargetRef")).get("name"))
        .isEqualTo(((Map<String, Object>) byKind.get("Deployment").get("metadata")).get("name"));
    Map<String, Object> limits =
        (Map<String, Object>) ((Map<String, Object>) container.get("resources")).get("limits");
    assertThat(limits).containsKey("memory");
  }
}

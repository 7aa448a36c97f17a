package dev.pockettts.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.mvc.method.RequestMappingInfo;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;
import tools.jackson.databind.JsonNode;

/** The OpenAPI description stays in step with the controllers, and its pages are served. */
class ApiDocsTest extends ServerTest {

  @Autowired
  @Qualifier("requestMappingHandlerMapping")
  RequestMappingHandlerMapping mappings;

  @Test
  void everyEndpointOfOursIsDescribedWithASummaryAndNothingElseIs() throws Exception {
    HttpResponse<byte[]> r = server().get("/v3/api-docs");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode spec = ServerHarness.json(r);

    Set<String> expected = new HashSet<>();
    for (var e : mappings.getHandlerMethods().entrySet()) {
      RequestMappingInfo info = e.getKey();
      HandlerMethod method = e.getValue();
      if (method.getBeanType().getPackageName().equals(TtsController.class.getPackageName())) {
        for (String path : info.getPatternValues()) {
          for (var verb : info.getMethodsCondition().getMethods()) {
            expected.add(verb.name().toLowerCase(java.util.Locale.ROOT) + " " + path);
          }
        }
      }
    }
    Set<String> described = new HashSet<>();
    spec.get("paths")
        .properties()
        .forEach(
            path ->
                path.getValue()
                    .properties()
                    .forEach(
                        op -> {
                          described.add(op.getKey() + " " + path.getKey());
                          assertThat(op.getValue().get("summary"))
                              .as(op.getKey() + " " + path.getKey())
                              .isNotNull();
                        }));
    assertThat(expected).contains("post /tts", "post /tts/clone", "post /v1/audio/speech");
    assertThat(described).isEqualTo(expected);

    assertThat(spec.at("/info/title").asString()).isEqualTo("PocketTTS Server");
    assertThat(spec.at("/components/securitySchemes/apiKeyHeader/name").asString())
        .isEqualTo("API_KEY");
    assertThat(spec.at("/components/schemas/SpeechRequest/properties").has("response_format"))
        .isTrue();
    assertThat(spec.at("/components/schemas/TtsRequest/properties").has("script")).isTrue();
  }

  @Test
  void docsOpenTheSwaggerUiWithoutAKey() throws Exception {
    HttpClient follow = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build();
    HttpResponse<String> page =
        follow.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/docs")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.body()).contains("swagger-ui");
  }
}

package dev.pockettts.server.api;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The OpenAPI description at {@code /v3/api-docs} (Swagger UI at {@code /docs}): title, version and
 * the two ways to send the key.
 */
@Configuration
class OpenApiConfiguration {

  static final String API_KEY_HEADER = "apiKeyHeader";
  static final String BEARER = "bearer";

  @Bean
  OpenAPI pocketTtsOpenApi(@Value("${tts.version:dev}") String version) {
    return new OpenAPI()
        .info(
            new Info()
                .title("PocketTTS Server")
                .version(version)
                .description(
                    "Text to speech with Kyutai's PocketTTS on the CPU: the seed server's /tts API,"
                        + " voice cloning, and an OpenAI-compatible /v1/audio/speech."))
        .components(
            new Components()
                .addSecuritySchemes(
                    API_KEY_HEADER,
                    new SecurityScheme()
                        .type(SecurityScheme.Type.APIKEY)
                        .in(SecurityScheme.In.HEADER)
                        .name("API_KEY"))
                .addSecuritySchemes(
                    BEARER, new SecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer")))
        .addSecurityItem(new SecurityRequirement().addList(API_KEY_HEADER))
        .addSecurityItem(new SecurityRequirement().addList(BEARER));
  }
}

package dev.pockettts.server.security;

import dev.pockettts.server.config.ServerSettings;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Requires the API key on every request except {@code /}, {@code /health} and {@code /voice/**}.
 * The key is accepted as {@code API_KEY} (the seed's header), {@code X-API-Key} or {@code
 * Authorization: Bearer}, since proxies such as nginx drop header names with underscores by
 * default. Keys are compared in constant time.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
class ApiKeyFilter extends OncePerRequestFilter {

  private final byte[] keyDigest;
  private final int perMinute;
  private final RateLimiter rateLimiter;

  ApiKeyFilter(ServerSettings settings) {
    this.perMinute = settings.rateLimitPerMinute();
    this.rateLimiter = perMinute > 0 ? new RateLimiter(perMinute, System.nanoTime()) : null;
    this.keyDigest =
        settings.authDisabled() || settings.apiKey() == null ? null : digest(settings.apiKey());
  }

  @Override
  protected boolean shouldNotFilter(HttpServletRequest request) {
    String path = request.getRequestURI().substring(request.getContextPath().length());
    return keyDigest == null
        || path.equals("/")
        || path.equals("/health")
        || path.startsWith("/voice/")
        || path.equals("/error")
        || path.equals("/docs")
        || path.startsWith("/docs/")
        || path.startsWith("/v3/api-docs")
        || path.startsWith("/swagger-ui/")
        || path.equals("/actuator/health")
        || path.startsWith("/actuator/health/");
  }

  @Override
  protected void doFilterInternal(
      HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    String presented = presentedKey(request);
    if (presented != null && MessageDigest.isEqual(keyDigest, digest(presented))) {
      long wait = rateLimiter == null ? 0 : rateLimiter.tryAcquire(System.nanoTime());
      if (wait > 0) {
        response.setStatus(429);
        response.setHeader(HttpHeaders.RETRY_AFTER, Long.toString(wait));
        writeProblem(
            response,
            request,
            "rate-limited",
            "Too many requests",
            "this key may make "
                + perMinute
                + " requests a minute (RATE_LIMIT_PER_MINUTE); retry in "
                + wait
                + " s");
        return;
      }
      chain.doFilter(request, response);
      return;
    }
    response.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
    response.setHeader(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
    writeProblem(
        response,
        request,
        "unauthorized",
        "Unauthorized",
        presented == null
            ? "send the API key in the API_KEY header (or X-API-Key, or Authorization: Bearer <key>)"
            : "the API key is not valid");
  }

  private static void writeProblem(
      HttpServletResponse response,
      HttpServletRequest request,
      String slug,
      String title,
      String detail)
      throws IOException {
    response.setCharacterEncoding("UTF-8");
    if (request.getRequestURI().startsWith("/v1/")) {
      // OpenAI's error shape on the OpenAI-compatible routes
      response.setContentType("application/json");
      response
          .getWriter()
          .write(
              "{\"error\":{\"message\":\""
                  + jsonEscape(detail)
                  + "\",\"type\":\""
                  + (response.getStatus() == 429 ? "rate_limit_error" : "authentication_error")
                  + "\",\"param\":null,\"code\":\""
                  + (slug.equals("unauthorized") ? "invalid_api_key" : slug)
                  + "\"}}");
      return;
    }
    response.setContentType("application/problem+json");
    response
        .getWriter()
        .write(
            "{\"type\":\"/problems/"
                + slug
                + "\",\"title\":\""
                + title
                + "\",\"status\":"
                + response.getStatus()
                + ",\"detail\":\""
                + jsonEscape(detail)
                + "\",\"instance\":\""
                + jsonEscape(request.getRequestURI())
                + "\"}");
  }

  private static String presentedKey(HttpServletRequest request) {
    String key = request.getHeader("API_KEY");
    if (key == null) {
      key = request.getHeader("X-API-Key");
    }
    if (key == null) {
      String auth = request.getHeader(HttpHeaders.AUTHORIZATION);
      if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
        key = auth.substring(7).strip();
      }
    }
    return key;
  }

  private static byte[] digest(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String jsonEscape(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}

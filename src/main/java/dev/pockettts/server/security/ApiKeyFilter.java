package dev.pockettts.server.security;

import dev.pockettts.server.api.OpenAiErrors;
import dev.pockettts.server.config.ServerSettings;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Requires the API key on every request except {@code /}, {@code /health} and {@code /voice/**}.
 * The key is accepted as {@code API_KEY} (the seed's header), {@code X-API-Key} or {@code
 * Authorization: Bearer}, since proxies such as nginx drop header names with underscores by
 * default. Keys are compared in constant time.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
class ApiKeyFilter extends OncePerRequestFilter {

  private static final JsonMapper JSON = JsonMapper.builder().build();

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
        || path.equals("/ui")
        || path.startsWith("/ui/")
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
    Object body;
    if (OpenAiErrors.applies(request.getRequestURI())) {
      response.setContentType("application/json");
      body = OpenAiErrors.body(response.getStatus(), slug, detail);
    } else {
      response.setContentType("application/problem+json");
      Map<String, Object> problem = new LinkedHashMap<>();
      problem.put("type", "/problems/" + slug);
      problem.put("title", title);
      problem.put("status", response.getStatus());
      problem.put("detail", detail);
      problem.put("instance", request.getRequestURI());
      body = problem;
    }
    response.setCharacterEncoding("UTF-8");
    response.getWriter().write(JSON.writeValueAsString(body));
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
}

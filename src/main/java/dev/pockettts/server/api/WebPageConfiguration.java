package dev.pockettts.server.api;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.ViewControllerRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * The web page at {@code /ui} (static files under {@code static/ui}), served without the key (it
 * holds no secret and asks for the key itself), with a strict Content-Security-Policy: its own
 * scripts and styles only, audio from this server or the page's own blobs.
 */
@Configuration(proxyBeanMethods = false)
class WebPageConfiguration implements WebMvcConfigurer {

  static final String POLICY =
      "default-src 'self'; script-src 'self'; style-src 'self'; media-src 'self' blob:;"
          + " connect-src 'self' blob:; img-src 'self' data:; object-src 'none'; base-uri 'none';"
          + " frame-ancestors 'none'; form-action 'self'";

  /**
   * The API description pages (Swagger UI) get the same headers; their policy also allows the
   * inline styles Swagger UI sets on its elements.
   */
  static final String DOCS_POLICY =
      POLICY.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';");

  @Override
  public void addViewControllers(ViewControllerRegistry registry) {
    registry.addViewController("/ui").setViewName("forward:/ui/index.html");
    registry.addViewController("/ui/").setViewName("forward:/ui/index.html");
  }

  @Override
  public void addInterceptors(InterceptorRegistry registry) {
    registry
        .addInterceptor(
            new HandlerInterceptor() {
              @Override
              public boolean preHandle(
                  HttpServletRequest request, HttpServletResponse response, Object handler) {
                String path = request.getRequestURI();
                response.setHeader(
                    "Content-Security-Policy", path.startsWith("/ui") ? POLICY : DOCS_POLICY);
                response.setHeader("X-Content-Type-Options", "nosniff");
                response.setHeader("Referrer-Policy", "no-referrer");
                return true;
              }
            })
        .addPathPatterns(
            "/ui", "/ui/", "/ui/**", "/docs", "/docs/**", "/swagger-ui/**", "/v3/api-docs/**");
  }
}

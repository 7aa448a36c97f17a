package dev.pockettts.server.system;

import dev.pockettts.server.synthesis.ModelService;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/** Readiness: up only once the model is loaded (part of /actuator/health/readiness). */
@Component("model")
class ModelHealthIndicator implements HealthIndicator {

  private final ModelService models;

  ModelHealthIndicator(ModelService models) {
    this.models = models;
  }

  @Override
  public Health health() {
    ModelService.State state = models.state();
    Health.Builder b = state == ModelService.State.READY ? Health.up() : Health.down();
    return b.withDetail("state", state.name().toLowerCase(java.util.Locale.ROOT)).build();
  }
}

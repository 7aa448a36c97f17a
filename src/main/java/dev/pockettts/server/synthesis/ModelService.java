package dev.pockettts.server.synthesis;

import dev.pockettts.server.api.ApiException;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.EngineException;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.model.DownloadProgress;
import dev.pockettts.server.model.HubClient;
import dev.pockettts.server.model.ModelStore;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Service;

/**
 * Owns the model: downloads and loads it in the background once the server is up, so that {@code
 * /health} answers at once, and hands the engine to requests when it is ready.
 */
@Service
public class ModelService implements DisposableBean {

  private static final Logger log = LoggerFactory.getLogger(ModelService.class);

  /** Where the model is in its life. */
  public enum State {
    STARTING,
    DOWNLOADING,
    LOADING,
    READY,
    FAILED
  }

  private final ServerSettings settings;
  private final ModelStore store;
  private volatile State state = State.STARTING;
  private volatile PocketTtsEngine engine;
  private volatile String error;

  public ModelService(ServerSettings settings) {
    this.settings = settings;
    HubClient hub =
        new HubClient(
            settings.model().endpoint(), settings.model().token(), 5, Duration.ofSeconds(2));
    this.store = new ModelStore(settings.model(), hub);
  }

  @EventListener(ApplicationReadyEvent.class)
  void startLoading() {
    Thread t = new Thread(this::load, "model-loader");
    t.setDaemon(true);
    t.start();
  }

  private void load() {
    try {
      state = State.DOWNLOADING;
      Path folder = store.ensureModel();
      state = State.LOADING;
      PocketTtsEngine loaded = PocketTtsEngine.load(folder, settings.engine());
      try {
        log.info("Warmed up the model in {} ms", loaded.warmUp(settings.generation()));
      } catch (RuntimeException e) {
        loaded.close();
        throw new EngineException("the model failed its warm-up synthesis: " + e.getMessage(), e);
      }
      engine = loaded;
      if (store.cloningProblem() != null) {
        log.warn("{}", store.cloningProblem());
      } else if (engine.cloningUnavailableReason() != null) {
        log.warn("{}", engine.cloningUnavailableReason());
      }
      state = State.READY;
      log.info(
          "Model ready: {} voices, cloning {}",
          store.voiceNames().size(),
          cloningProblem() == null ? "available" : "unavailable");
    } catch (RuntimeException e) {
      error = e.getMessage();
      state = State.FAILED;
      log.error("The model could not be loaded: {}", e.getMessage());
    }
  }

  /** The loaded bundle's name (bundle.json {@code bundle_name}), or null before it is ready. */
  public String bundleName() {
    PocketTtsEngine e = engine;
    return e == null ? null : e.config().name();
  }

  public State state() {
    return state;
  }

  /** Why the model failed to load, or null. */
  public String error() {
    return error;
  }

  public DownloadProgress progress() {
    return store.progress();
  }

  public ModelStore store() {
    return store;
  }

  /** The engine; a 503 problem (with Retry-After) while it is not ready. */
  public PocketTtsEngine engine() {
    PocketTtsEngine e = engine;
    if (e != null) {
      return e;
    }
    if (state == State.FAILED) {
      throw new ApiException(
          org.springframework.http.HttpStatus.SERVICE_UNAVAILABLE,
          "model-failed",
          "Model failed to load",
          "the model could not be loaded: " + error);
    }
    throw ApiException.notReady(
        "the model is "
            + state.name().toLowerCase(java.util.Locale.ROOT)
            + "; try again shortly (GET /health shows progress)",
        state == State.DOWNLOADING ? 30 : 5);
  }

  /** Null when cloning works, else why not. */
  public String cloningProblem() {
    if (store.cloningProblem() != null) {
      return store.cloningProblem();
    }
    PocketTtsEngine e = engine;
    return e == null ? "the model is not loaded yet" : e.cloningUnavailableReason();
  }

  @Override
  public void destroy() {
    PocketTtsEngine e = engine;
    if (e != null) {
      e.close();
    }
  }
}
